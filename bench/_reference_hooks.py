"""Two hand-written hook pairs that put nbprofile's per-cell cost in proportion.

``NaiveHook`` is the reference the foundation issue gives: write ``clear_refs``
and read ``/proc/self/status`` before the cell, read it again after, commit one
SQLite row (about 250 µs on the VM the targets were set on). Its figure here
says how this machine compares with that one.

``FloorHook`` does what nbprofile does for a trivial cell on a CPU-only machine,
written out as directly as Python allows, with none of nbprofile's structure:
the same system calls (kept-open files, ``getrusage``), the same 22 readings
built as ``Reading`` tuples, the record's row encoded and committed with
nbprofile's own schema and INSERT, and the compact footer's text printed. No
fault handling, no derivation from settings, no budgets. ``stages`` switches
the store write and the footer on or off, so that the floor of each part shows:
what remains between it and nbprofile is the cost of nbprofile's structure.
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import HookPair

_SELF, _CHILDREN = resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN


def _connect(name: str) -> sqlite3.Connection:
    """A store of its own, opened as nbprofile opens its file (WAL, synchronous NORMAL)."""
    from nbprofile.store.migrations import apply_migrations

    path = Path(tempfile.mkdtemp(prefix=f"nbprofile-bench-{name}-")) / "records.db"
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    apply_migrations(conn)
    conn.execute("INSERT INTO runs (run_id, notebook, kernel_id, host, started_at, info) VALUES"
                 " ('bench', NULL, NULL, NULL, 0, '{}')")
    return conn


class NaiveHook(HookPair):
    name = "naive hook (the issue's reference)"

    def __init__(self) -> None:
        self.conn = _connect("naive")
        self.seq = 0

    def pre_run_cell(self, info: Any) -> None:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        with open("/proc/self/status") as f:
            f.read()

    def post_run_cell(self, result: Any) -> None:
        with open("/proc/self/status") as f:
            status = f.read()
        self.seq += 1
        self.conn.execute("INSERT INTO cells (run_id, seq, code_hash, source, started_at, status, readings,"
                          " schema_version) VALUES ('bench', ?, '', 'pass', ?, 'ok', ?, 1)",
                          (self.seq, time.time(), status[status.index("VmHWM"):][:40]))


class FloorHook(HookPair):
    def __init__(self, store: bool, footer: bool) -> None:
        from nbprofile.readings import Reading

        self.Reading = Reading
        # the floor's row: the record's columns, as nbprofile stores them (no lineage, no layout)
        self.insert = ("INSERT INTO cells (run_id, seq, notebook, cell_id, execution_count, code_hash,"
                       " source, started_at, status, error_type, wall_s, readings, overhead_s, name, budget,"
                       " verdict, verdict_status, notes, schema_version)"
                       " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)")
        self.store, self.footer = store, footer
        parts = ["readings"] + (["store write"] if store else []) + (["footer"] if footer else [])
        self.name = "hand-written floor: " + " + ".join(parts)
        self.conn = _connect("floor") if store else None
        self.seq = 0
        self.clear_refs = os.open("/proc/self/clear_refs", os.O_WRONLY)
        self.status = os.open("/proc/self/status", os.O_RDONLY)
        self.statm = os.open("/proc/self/statm", os.O_RDONLY)
        self.page = os.sysconf("SC_PAGE_SIZE")
        self.encode = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode
        # The readings a CPU-only machine reports as zero or unavailable every cell.
        unavailable = ("gpu_time_s", "gpu_energy_j", "vram_peak_bytes", "dram_energy_j")
        self.constant = {k: Reading.unavailable("", "no GPU") for k in unavailable}
        for k in ("llm_tokens", "llm_input_tokens", "llm_output_tokens", "llm_calls", "llm_cost_usd"):
            self.constant[k] = Reading(0, "tokens", "measured", "nbprofile.llm")
        self.meta: dict[tuple[Any, ...], int] = {}

    def pre_run_cell(self, info: Any) -> None:
        self.code_hash = hashlib.sha1(info.raw_cell.encode()).hexdigest()
        os.write(self.clear_refs, b"5")
        self.rss0 = int(os.pread(self.statm, 128, 0).split()[1]) * self.page
        self.own0 = resource.getrusage(_SELF)
        self.children0 = resource.getrusage(_CHILDREN)
        self.started_at = time.time()
        self.t0 = time.perf_counter_ns()

    def post_run_cell(self, result: Any) -> None:
        wall = (time.perf_counter_ns() - self.t0) / 1e9
        own, children = resource.getrusage(_SELF), resource.getrusage(_CHILDREN)
        text = os.pread(self.status, 8192, 0)
        at = text.index(b"VmHWM:") + 6
        peak = int(text[at:text.index(b"kB", at)]) * 1024
        rss1 = int(os.pread(self.statm, 128, 0).split()[1]) * self.page
        user = round(own.ru_utime - self.own0.ru_utime, 6)
        system = round(own.ru_stime - self.own0.ru_stime, 6)
        child = round(children.ru_utime + children.ru_stime - self.children0.ru_utime - self.children0.ru_stime, 6)
        cpu = round(user + system, 6)
        joules = (cpu + child) * 4.0
        R = self.Reading
        readings = {
            "wall_s": R(wall, "s", "measured", "perf_counter"),
            "cpu_s": R(cpu, "s", "measured", "getrusage"),
            "cpu_user_s": R(user, "s", "measured", "getrusage"),
            "cpu_sys_s": R(system, "s", "measured", "getrusage"),
            "children_cpu_s": R(child, "s", "measured", "getrusage(children)"),
            "cpu_energy_j": R(joules, "J", "estimated", "cpu-time x 4 W/thread"),
            "rss_peak_bytes": R(peak, "B", "measured", "clear_refs+VmHWM"),
            "rss_start_bytes": R(self.rss0, "B", "measured", "rss"),
            "rss_end_bytes": R(rss1, "B", "measured", "statm"),
            "energy_j": R(joules, "J", "estimated", "sum"),
            "co2_g": R(joules * 1.32e-4, "g", "estimated", "world average"),
            "compute_cost_usd": R(joules * 4.2e-8, "USD", "estimated", "default prices"),
            "cost_usd": R(joules * 4.2e-8, "USD", "estimated", "compute+LLM"),
        }
        readings.update(self.constant)
        if self.conn is not None:
            meta = self.meta
            row = {k: (r[0], meta.setdefault(r[1:], len(meta))) for k, r in readings.items()}
            self.seq += 1
            self.conn.execute(self.insert, (
                "bench", self.seq, None, None, None, self.code_hash, "pass", self.started_at, "ok", None, wall,
                self.encode(row), 0.0, None, None, None, None, None, 1))
        if self.footer:
            print(f"{wall * 1e6:.0f} µs wall · {cpu * 1e6:.0f} µs CPU · peak RAM {peak / 2**20:.1f} MiB")
