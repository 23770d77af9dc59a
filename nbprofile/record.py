"""What a measured cell becomes: :class:`CellRecord`, and :class:`RunInfo` per kernel run.

Records are plain data. The store persists them, the footer, history, reports
and the server read them; none of those reach back into the meters.
"""

from __future__ import annotations

import getpass
import hashlib
import math
import os
import platform
import socket
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal

from nbprofile.readings import Reading

#: Bump when a field's meaning changes; the store migrates the schema by name.
RECORD_SCHEMA_VERSION = 1

Status = Literal["ok", "error", "interrupted", "died"]
#: a record made for a cell whose kernel died while it ran (from the kernel's journal):
#: its ``error_type`` is the likely cause ("out of memory", "signal SIGKILL") or None when
#: unknown, its ``wall_s`` runs until the kernel was last seen, its ``rss_peak_bytes`` is the
#: last RSS high-water mark the kernel wrote, and its first note says all that in words
DIED: Status = "died"

#: `nbprofile run` names the run it starts, to find its records afterwards
RUN_ID_ENV = "NBPROFILE_RUN_ID"
#: `nbprofile run --baseline` pins the run that relative limits compare with
BASELINE_ENV = "NBPROFILE_BASELINE_RUN"


def finite(value: Any) -> Any:
    """``value`` with every non-finite float (inf, -inf, nan) made ``None``, in nested dicts,
    lists and tuples: JSON has no such numbers (``Infinity`` is not JSON, and strict parsers,
    the panel's ``JSON.parse`` among them, refuse it), and records stored by older versions
    can hold them. The store, the journal and the JSON report write records through it."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: finite(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite(v) for v in value]
    return value


@lru_cache(maxsize=8)  # a cell's start (its journal line) and its record hash the same text in turn
def code_hash(source: str) -> str:
    """A short, stable hash of a cell's code, used to match runs of the same cell
    when no cell id is known (terminal IPython, older frontends)."""
    return hashlib.sha1(source.strip().encode("utf-8", "surrogatepass")).hexdigest()[:16]


def new_run_id() -> str:
    return uuid.uuid4().hex[:12]


def utc_iso(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, timezone.utc).isoformat(timespec="milliseconds")


@dataclass(slots=True)
class CellRecord:
    """One execution of one cell (or of one ``measure()`` block)."""

    run_id: str
    seq: int
    notebook: str | None
    cell_id: str | None
    execution_count: int | None
    code_hash: str
    source: str
    started_at: float  # seconds since the epoch, UTC
    status: Status
    error_type: str | None
    readings: dict[str, Reading]
    #: time the profiler's hooks spent measuring this cell, outside its wall time
    overhead_s: float
    name: str | None = None
    budget: dict[str, Any] | None = None  # a BudgetSpec as JSON
    verdict: dict[str, Any] | None = None  # a Verdict as JSON
    verdict_status: str | None = None  # pass | fail | unmeasurable
    notes: list[str] = field(default_factory=list)  # meter faults and other caveats
    #: what happened inside the cell, beyond its readings: ``hotspots`` (where the time went,
    #: :class:`nbprofile.insights.HotSpots` as JSON) and ``projections`` (what its progress bar
    #: projected, and when); None for a cell too short to say
    insights: dict[str, Any] | None = None
    id: int | None = None  # assigned by the store
    schema_version: int = RECORD_SCHEMA_VERSION

    def value(self, key: str) -> float | None:
        """The value of a reading, or ``None`` when it is missing or unavailable."""
        reading = self.readings.get(key)
        return None if reading is None else reading.value

    @property
    def started_iso(self) -> str:
        return utc_iso(self.started_at)

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "run_id": self.run_id,
            "seq": self.seq,
            "notebook": self.notebook,
            "cell_id": self.cell_id,
            "execution_count": self.execution_count,
            "code_hash": self.code_hash,
            "source": self.source,
            "started_at": self.started_iso,
            "status": self.status,
            "error_type": self.error_type,
            "readings": {k: _reading_json(r) for k, r in self.readings.items()},
            "overhead_s": self.overhead_s,
            "name": self.name,
            "budget": self.budget,
            "verdict": self.verdict,
            "verdict_status": self.verdict_status,
            "notes": list(self.notes),
            "insights": self.insights,
            "schema_version": self.schema_version,
        }


def _reading_json(reading: Reading) -> dict[str, Any]:
    return {
        "value": reading.value,
        "unit": reading.unit,
        "method": reading.method,
        "source": reading.source,
        "note": reading.note,
    }


@dataclass(frozen=True, slots=True)
class LiveNumbers:
    """A running cell's numbers so far, once a second while it runs (the live view)."""

    elapsed_s: float
    cpu_s: float | None
    #: CPU time over wall time since the previous look (1.0 = one core busy)
    cpu_fraction: float | None
    rss_now_bytes: int | None
    rss_peak_bytes: int | None
    #: (GPU index, energy so far in J, mean power over the last second in W or None) per device
    #: whose energy counter answered
    gpus: tuple[tuple[int, float, float | None], ...] = ()
    #: LLM tokens and dollars of the calls the cell made so far (None: no call yet)
    llm_tokens: int | None = None
    llm_cost_usd: float | None = None
    #: where the cell's progress bar says it will end (``38 % · 1 min 12 s left · ≈ 3 min 10 s``)
    projection: str | None = None
    #: the budget limits the projection says will break (``time<=3min will be exceeded at ≈ …``)
    will_break: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {"elapsed_s": self.elapsed_s, "cpu_s": self.cpu_s, "cpu_fraction": self.cpu_fraction,
                "rss_now_bytes": self.rss_now_bytes, "rss_peak_bytes": self.rss_peak_bytes,
                "gpus": [list(g) for g in self.gpus],
                "llm_tokens": self.llm_tokens, "llm_cost_usd": self.llm_cost_usd,
                "projection": self.projection, "will_break": list(self.will_break)}


@dataclass(slots=True)
class RunInfo:
    """One kernel run: where the records of a session came from."""

    run_id: str
    notebook: str | None
    kernel_id: str | None
    started_at: float
    host: str = field(default_factory=socket.gethostname)
    python: str = field(default_factory=lambda: platform.python_version())
    platform: str = field(default_factory=platform.platform)
    nbprofile: str = ""
    pid: int = field(default_factory=os.getpid)
    #: who ran it: a team store (PostgreSQL) lists everyone's runs and tells them apart by this
    user: str = field(default_factory=lambda: current_user())
    # Filled in by the meters that know them (GPU, carbon, prices); None = unknown.
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "notebook": self.notebook,
            "kernel_id": self.kernel_id,
            "started_at": utc_iso(self.started_at),
            "host": self.host,
            "python": self.python,
            "platform": self.platform,
            "nbprofile": self.nbprofile,
            "pid": self.pid,
            "user": self.user,
            **self.extra,
        }


def current_user() -> str:
    """The login name of whoever runs this process; ``""`` where the system has none (a
    container's uid with no passwd entry and no $USER)."""
    try:
        return getpass.getuser()
    except (OSError, KeyError, ImportError):  # no name for this uid: the run is still recorded
        return ""


def environment_info() -> dict[str, Any]:
    """Facts about the machine and packages that shape the numbers, for the run record.

    Gathered once per run (at its first record), never by importing the packages.
    """
    from importlib import metadata

    info: dict[str, Any] = {"cpu_count": os.cpu_count()}
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                if line.startswith("model name"):
                    info["cpu"] = line.split(":", 1)[1].strip()
                    break
    except OSError:
        info["cpu"] = platform.processor() or None
    if hasattr(os, "sysconf") and "SC_PHYS_PAGES" in os.sysconf_names:
        info["memory_bytes"] = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for dist in ("ipython", "ipykernel", "torch", "numpy"):
        try:
            info[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            info[dist] = None
    return info
