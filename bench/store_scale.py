"""How the store's queries scale with history, SQLite and PostgreSQL side by side.

Fills each store with ``--records`` records (runs of 500 cells, 20 notebooks, two users),
through the stores' own journal ingestion (one transaction a run), then times what the
panel and the CLI ask for:

- the newest 50 runs (the CLI's ``nbprofile runs``, the panel's list): goal <= 20 ms
- a notebook's last two runs, with their 1,000 cells (the panel's compare): goal <= 20 ms;
  beside it, the whole compare the panel asks for (the two runs read, compared, as JSON)
- ingestion, records/s, at full history (journal lines, as a kernel's writer moves them): goal >= 20,000
  and the CPU a record takes in the writer's process and in the server's backend (where the
  server runs on this machine): what carries from one machine to another better than a rate
- a report (JSON) of one run, at small and at full history: goal unaffected (ratio ~1)
- the store's size, bytes a record (tables and indexes)
- deleting (``nbprofile delete``), last: one run from the middle of the history (500 records),
  then a retention of the oldest 100 runs (50,000 records)

PostgreSQL: ``--pg postgresql://...`` (an empty database), else a throwaway server
started from the PostgreSQL binaries on this machine (as the tests do), else skipped.

    python bench/store_scale.py                    # 1,000,000 records
    python bench/store_scale.py --records 100000   # smaller
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _common import machine, write_result

ROOT = Path(__file__).resolve().parents[1]
CELLS = 500
NOTEBOOKS = 20
#: the oldest runs a retention deletes at the end (nbprofile delete --older-than)
RETENTION_RUNS = 100
GOALS = {"newest 50 runs": "<= 20 ms", "last two runs (1,000 cells)": "<= 20 ms",
         "  compared, as JSON": "", "ingestion": ">= 20,000 rec/s", "  CPU a record": "",
         "  from journal lines": "",
         "report of one run": "unaffected", "size": "", "delete one run": "", "  a retention": ""}


def _readings(i: int) -> dict[str, Any]:
    """About what a CPU-only machine records (~20 readings; ~870 bytes a stored record)."""
    from nbprofile.readings import Reading

    out = {"wall_s": Reading(0.01 + (i % 97) / 100, "s", "measured", "perf_counter"),
           "cpu_s": Reading(0.008 + (i % 89) / 100, "s", "measured", "getrusage"),
           "rss_peak_bytes": Reading(float(2**27 + i % 4096), "B", "measured", "clear_refs"),
           "rss_delta_bytes": Reading(float(i % 65536), "B", "measured", "/proc/self/status"),
           "energy_j": Reading(0.5 + (i % 13), "J", "estimated", "tdp-share", "TDP x CPU share"),
           "co2e_g": Reading(0.0001 * (i % 7), "g", "estimated", "carbon", "grid average"),
           "vram_peak_bytes": Reading.unavailable("B", "no NVIDIA GPU"),
           "gpu_energy_j": Reading.unavailable("J", "no NVIDIA GPU")}
    for k in range(12):
        out[f"extra_{k}"] = Reading(float(i % (k + 3)), "s", "measured", "bench")
    return out


def make_records(run_id: str, notebook: str, started: float, first: int) -> list[Any]:
    from nbprofile.record import CellRecord, code_hash

    records = []
    for seq in range(1, CELLS + 1):
        i = first + seq
        source = f"result_{seq} = train_step(model, batch_{seq % 17}, lr=3e-4)  # step {seq}"
        records.append(CellRecord(
            run_id=run_id, seq=seq, notebook=notebook, cell_id=f"cell-{seq:04d}", execution_count=seq,
            code_hash=code_hash(source), source=source, started_at=started + seq, status="ok",
            error_type=None, overhead_s=3e-5, readings=_readings(i),
            verdict_status="fail" if i % 101 == 0 else None))
    return records


def run_of(n: int, started: float) -> Any:
    from nbprofile.record import RunInfo

    return RunInfo(run_id=f"run-{n:07d}", notebook=f"/team/nb{n % NOTEBOOKS:02d}.ipynb", kernel_id=f"k{n}",
                   started_at=started, nbprofile="bench", user="ada" if n % 2 else "grace", host="box")


def fill(store: Any, first_run: int, runs: int, say: Callable[[str], None],
         cpu: dict[str, float] | None = None) -> float:
    """``runs`` runs through the store's journal transactions, as a kernel's writer moves the
    records it holds in memory (one transaction a run); records/s of the store's part alone.
    ``cpu`` gets the CPU seconds of the writer's process (and of the server's backend, where
    it runs on this machine) over the same part: what a slower or faster machine scales."""
    spent = writer = 0.0
    server_before = server_cpu(store)
    base = 1.7e9
    for n in range(first_run, first_run + runs):
        run = run_of(n, base + n * 3600)
        records = make_records(run.run_id, run.notebook, run.started_at, n * CELLS)
        c0, t0 = time.process_time(), time.perf_counter()
        with store.journal_transaction("bench-fill") as tx:
            tx.write([run], records, tx.offset + 1, {})
        spent += time.perf_counter() - t0
        writer += time.process_time() - c0
        if n % 200 == 199:
            say(f"  {(n + 1) * CELLS:,} records")
    if cpu is not None:
        cpu["writer"] = writer
        server_after = server_cpu(store)
        if server_before is not None and server_after is not None:
            cpu["server"] = server_after - server_before
    return runs * CELLS / spent


def server_cpu(store: Any) -> float | None:
    """The CPU seconds so far of the PostgreSQL backend serving ``store``, where it runs on
    this machine (its /proc entry); None for SQLite or a server elsewhere."""
    if store.__class__.__name__ != "PostgresStore":
        return None
    with store._session("read"):
        (pid,) = store._execute("SELECT pg_backend_pid()").fetchone()
        (local,) = store._execute("SELECT inet_server_addr() IS NULL OR host(inet_server_addr())"
                                  " IN ('127.0.0.1', '::1')").fetchone()
    stat = Path(f"/proc/{pid}/stat")
    if not local or not stat.exists():
        return None
    fields = stat.read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def rows_of(store: Any, run_id: str) -> list[Any]:
    """A run's rows, not made into records: the query's share of reading a run."""
    from nbprofile.store.codec import CELL_COLUMNS

    sql = f"SELECT id, {CELL_COLUMNS} FROM cells WHERE run_id = ? ORDER BY seq"
    return list(store._execute(sql, (run_id,)).fetchall())


def timed(call: Callable[[], Any], repeat: int = 15) -> float:
    """The best of ``repeat`` (a shared machine's other work only ever adds time)."""
    call()  # warm: caches, prepared statements
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return min(times)


def report_time(store: Any, run_id: str) -> float:
    from nbprofile.report import registry

    def make() -> None:
        registry.FORMATS["json"].render(store.records(run_id), store.run(run_id))
    return timed(make, 3)


def journal_of(folder: Path, first_run: int, runs: int) -> Any:
    """A kernel's journal of ``runs`` runs, as it writes them."""
    from nbprofile.store.journal import JournalWriter, record_entry, run_entry

    journal = JournalWriter(folder, f"bench-{first_run}.jsonl")
    for n in range(first_run, first_run + runs):
        run = run_of(n, 1.7e9 + n * 3600)
        journal.append(run_entry(run))
        for record in make_records(run.run_id, run.notebook, run.started_at, n * CELLS):
            journal.append(record_entry(record, ends_cell=True))
    return journal


def ingest_rate(store: Any, folder: Path, first_run: int, runs: int) -> float:
    """Journal lines (what a store recovers from a gone kernel's journal) into the store."""
    from nbprofile.store.ingest import ingest

    journal = journal_of(folder, first_run, runs)
    t0 = time.perf_counter()
    written, _ = ingest(store, journal.path.name, journal.read)
    elapsed = time.perf_counter() - t0
    journal.close(remove=True)
    return written / elapsed


def settle(store: Any) -> None:
    """After the bulk load, what a server in use has done long since: PostgreSQL's autovacuum
    and checkpoint of a million new rows (else they run during the measurements, on the same
    two cores), SQLite's checkpoint of its WAL."""
    if store.__class__.__name__ == "PostgresStore":
        with store._session("write to"):
            store._execute("VACUUM ANALYZE")
    else:
        with store._lock:
            store._execute("PRAGMA wal_checkpoint(TRUNCATE)")


def compared(store: Any, notebook: str) -> None:
    """What the panel's compare asks for: the two runs read, compared, made JSON."""
    from nbprofile.report.compare import compare_runs

    a, b = [store.records(run["run_id"]) for run in store.runs(notebook, limit=2)]
    json.dumps(compare_runs(a, b).to_json())


def size_per_record(store: Any) -> float:
    if hasattr(store, "_conn") and store.__class__.__name__ == "PostgresStore":
        with store._session("read"):
            (size,) = store._execute("SELECT pg_database_size(current_database())").fetchone()
    else:
        size = sum(f.stat().st_size for f in Path(store.path).parent.glob(Path(store.path).name + "*"))
    return size / store.count()


def measure(name: str, store: Any, small: Any, total_runs: int, folder: Path,
            say: Callable[[str], None]) -> dict[str, Any]:
    """Everything at full history, and the per-run figures at small history too (``small``: a
    store of 20 runs), measured in turns so that the machine's other work falls on both alike."""
    say(f"{name}: filling {total_runs * CELLS:,} records (and a store of 20 runs)")
    fill(small, 0, 20, say)
    fill(store, 0, total_runs, say)
    for filled in (small, store):
        settle(filled)
    notebook = run_of(total_runs - 1, 0).notebook
    old = run_of(10, 0).run_id

    def last_two() -> None:
        for run in store.runs(notebook, limit=2):
            store.records(run["run_id"])
    best: dict[str, float] = {}

    def keep(key: str, value: float, lower: bool = True) -> None:
        best[key] = min(best.get(key, value), value) if lower else max(best.get(key, value), value)
    next_run = total_runs
    per_record: dict[str, float] = {}
    for _ in range(3):
        keep("newest", timed(lambda: store.runs(limit=50)))
        keep("pair", timed(last_two))
        keep("pair_sql", timed(lambda: [rows_of(store, r["run_id"]) for r in store.runs(notebook, limit=2)]))
        keep("compare", timed(lambda: compared(store, notebook)))
        keep("report_small", report_time(small, old))
        keep("report_full", report_time(store, old))
        keep("ingest_small", fill(small, next_run, 4, say), lower=False)
        cpu: dict[str, float] = {}
        rate = fill(store, next_run, 4, say, cpu)
        if rate >= best.get("ingest_full", 0.0):
            per_record = {side: seconds / (4 * CELLS) for side, seconds in cpu.items()}
        keep("ingest_full", rate, lower=False)
        next_run += 4
    lines = ingest_rate(store, folder, next_run, 8)
    size = size_per_record(store)
    # last, as it removes history: deleting at full history (nbprofile delete)
    t0 = time.perf_counter()
    store.delete_runs([run_of(total_runs // 2, 0).run_id])
    one_run = time.perf_counter() - t0
    t0 = time.perf_counter()
    store.delete_runs([run_of(n, 0).run_id for n in range(RETENTION_RUNS)])
    retention = time.perf_counter() - t0
    ms = {key: f"{value * 1e3:.1f}" for key, value in best.items()}
    return {"newest 50 runs": f"{ms['newest']} ms",
            "last two runs (1,000 cells)": f"{ms['pair']} ms (query {ms['pair_sql']})",
            "  compared, as JSON": f"{ms['compare']} ms",
            "ingestion": f"{best['ingest_full']:,.0f} rec/s (20 runs: {best['ingest_small']:,.0f})",
            "  CPU a record": " + ".join(f"{side} {sec * 1e6:.0f} µs" for side, sec in per_record.items()),
            "  from journal lines": f"{lines:,.0f} rec/s",
            "report of one run": f"{ms['report_full']} ms (20 runs: {ms['report_small']})",
            "size": f"{size:,.0f} B a record",
            "delete one run": f"{one_run * 1e3:.0f} ms",
            "  a retention": f"{retention:.2f} s"}


def postgres(url: str | None, say: Callable[[str], None]) -> tuple[list[str], Callable[[], None]]:
    """Two empty databases (full history, 20 runs); none where there is no PostgreSQL."""
    sys.path.insert(0, str(ROOT))
    from tests.support.postgres import binaries, start_server

    if url:
        return [url], lambda: None
    if binaries() is None:
        say("PostgreSQL: no binaries here and no --pg: skipped")
        return [], lambda: None
    server = start_server()
    return [server.new_database(), server.new_database()], server.destroy


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--pg", default=None,
                        help="an empty PostgreSQL database's URL (default: a throwaway server)")
    parser.add_argument("--only", choices=("sqlite", "postgresql"), default=None)
    args = parser.parse_args()
    total_runs = max(args.records // CELLS, 21)

    def say(text: str) -> None:
        print(text, file=sys.stderr, flush=True)

    from nbprofile.store import open_store

    results: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="nbprofile-scale-") as tmp:
        if args.only != "postgresql":
            store = open_store(str(Path(tmp) / "records.db"), recover=False)
            small = open_store(str(Path(tmp) / "small.db"), recover=False)
            results["SQLite"] = measure("SQLite", store, small, total_runs, Path(tmp) / "j-sqlite", say)
            store.close()
            small.close()
        if args.only != "sqlite":
            urls, done = postgres(args.pg, say)
            try:
                if urls:
                    store = open_store(urls[0], recover=False)
                    # with --pg, the store of 20 runs is a SQLite file (the comparison is then less exact)
                    small = open_store(urls[1] if len(urls) > 1 else str(Path(tmp) / "small-pg.db"),
                                       recover=False)
                    results["PostgreSQL"] = measure("PostgreSQL", store, small, total_runs,
                                                    Path(tmp) / "j-pg", say)
                    store.close()
                    small.close()
            finally:
                done()
    names = list(results)
    host = machine()
    print(f"\nmachine: {host['processor']}, {host['cpus']} cores, Python {host['python']}")
    print(f"{total_runs * CELLS:,} records ({total_runs:,} runs x {CELLS} cells); "
          "times: best of 45 (9 for reports), ingestion: best of 3 batches of 2,000")
    widths = [30, 17] + [40] * len(names)
    print("".join(h.ljust(w) for h, w in zip(["", "goal", *names], widths)))
    for key, goal in GOALS.items():
        print("".join(c.ljust(w) for c, w in zip([key, goal, *(results[n][key] for n in names)], widths)))
    write_result("store_scale", {"records": total_runs * CELLS, "goals": GOALS, "results": results})
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
