"""How fast journals go into the store, and how soon a reader sees a record.

Run: python bench/ingest.py [RECORDS] [--kernels K]

* **ingestion**: K journals (one per simulated kernel) of RECORDS/K real cell
  records each (every CPU reading a kernel writes, with a few lines of source),
  written with nbprofile's own journal writer, then moved into a new SQLite store
  by a reader recovering them (the path the Jupyter server and the CLI take);
  and the same records written one commit each through ``SQLiteStore.write``
  (the old path) for comparison. Target: >= 20,000 records/s.
* **latency**: a profiler saves a record every 20 ms (a busy notebook) while
  another connection polls the store every 10 ms; the time from ``save`` to the
  reader seeing the row. Target: <= 1 s.
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import threading
import time
from pathlib import Path

from nbprofile.engine.profiler import Profiler
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore
from nbprofile.store.journal import JournalWriter, record_entry, run_entry


def record(run_id: str, seq: int) -> CellRecord:
    source = f"loss = train_step(batch_{seq})\nlog(loss)\nsteps.append(loss)"
    readings = {
        "wall_s": Reading(0.01 + seq % 97 / 1000, "s", "measured", "perf_counter"),
        "cpu_s": Reading(0.009, "s", "measured", "getrusage"),
        "cpu_user_s": Reading(0.008, "s", "measured", "getrusage"),
        "cpu_system_s": Reading(0.001, "s", "measured", "getrusage"),
        "rss_peak_bytes": Reading(2e9 + seq, "B", "measured", "clear_refs+VmHWM"),
        "rss_end_bytes": Reading(2e9, "B", "measured", "statm"),
        "rss_delta_bytes": Reading(1e6, "B", "measured", "statm"),
        "cpu_energy_j": Reading(1.5, "J", "estimated", "tdp", "package TDP 65 W x CPU share"),
        "energy_j": Reading(1.5, "J", "estimated", "sum"),
        "co2_g": Reading(0.0002, "g", "estimated", "intensity", "world average 475 g/kWh"),
        "cost_usd": Reading(0.0, "USD", "measured", "ledger"),
        "llm_tokens": Reading(0.0, "tokens", "measured", "ledger"),
        "gpu_time_s": Reading.unavailable("s", "no CUDA device"),
        "vram_peak_bytes": Reading.unavailable("B", "no NVIDIA GPU"),
        "gpu_energy_j": Reading.unavailable("J", "no NVIDIA GPU"),
    }
    return CellRecord(run_id=run_id, seq=seq, notebook="/nb/train.ipynb", cell_id=f"cell-{seq % 40}",
                      execution_count=seq, code_hash=code_hash(source), source=source,
                      started_at=1.79e9 + seq, status="ok", error_type=None, readings=readings,
                      overhead_s=4e-5)


def ingestion(total: int, kernels: int, folder: Path) -> dict[str, float]:
    per = total // kernels
    journals = folder / "records.db.journals"
    for k in range(kernels):
        run = RunInfo(run_id=f"run{k}", notebook="/nb/train.ipynb", kernel_id=None, started_at=1.79e9)
        writer = JournalWriter(journals, f"host-{k}-run{k}-0.jsonl")
        writer.append(run_entry(run))
        for seq in range(1, per + 1):
            writer.append(record_entry(record(run.run_id, seq), ends_cell=True))
        writer.close(remove=False)  # the "kernel" is gone: its journal waits for a reader
    t0 = time.perf_counter()
    store = SQLiteStore(folder / "records.db")  # opening it recovers the journals
    recovered = time.perf_counter() - t0
    count = store.count()
    store.close()
    assert count == per * kernels, (count, per * kernels)
    # the old path: one commit per record
    old = SQLiteStore(folder / "old.db")
    run = RunInfo(run_id="old", notebook="/nb/train.ipynb", kernel_id=None, started_at=1.79e9)
    n_old = min(per * kernels, 5000)
    t0 = time.perf_counter()
    for seq in range(1, n_old + 1):
        old.write(record("old", seq), run)
    one_by_one = time.perf_counter() - t0
    old.close()
    return {"records": float(count), "journal_records_per_s": count / recovered,
            "one_commit_each_records_per_s": n_old / one_by_one}


def latency(n: int, folder: Path) -> list[float]:
    db = folder / "latency.db"
    SQLiteStore(db).close()
    profiler = Profiler(meters=[], store=SQLiteStore(db))
    saved_at: dict[int, float] = {}
    seen_at: dict[int, float] = {}
    done = threading.Event()

    def reader() -> None:
        import sqlite3

        conn = sqlite3.connect(db)
        while not done.is_set() or len(seen_at) < n:
            for (seq,) in conn.execute("SELECT seq FROM cells"):
                seen_at.setdefault(seq, time.perf_counter())
            time.sleep(0.01)
            if done.is_set() and time.perf_counter() - max(saved_at.values()) > 5:
                break
        conn.close()

    thread = threading.Thread(target=reader)
    thread.start()
    for i in range(n):
        window = profiler.open_window(i)
        rec = profiler.record(window, cell_id=f"c{i}", source=f"x = {i}", status="ok")
        saved_at[rec.seq] = time.perf_counter()
        profiler.save(rec, ends_cell=True)
        time.sleep(0.02)
    done.set()
    thread.join()
    profiler.close()
    return [seen_at[s] - saved_at[s] for s in saved_at if s in seen_at]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("records", nargs="?", type=int, default=100_000)
    parser.add_argument("--kernels", type=int, default=4)
    parser.add_argument("--latency-records", type=int, default=200)
    opts = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="nbprofile-bench-") as tmp:
        result = ingestion(opts.records, opts.kernels, Path(tmp))
        lags = sorted(latency(opts.latency_records, Path(tmp)))
    result.update({"latency_median_s": statistics.median(lags), "latency_p95_s": lags[int(0.95 * len(lags))],
                   "latency_max_s": lags[-1], "latency_seen": float(len(lags))})
    print(f"ingestion from {opts.kernels} journals: {result['journal_records_per_s']:,.0f} records/s "
          f"({int(result['records']):,} records; target >= 20,000)")
    print(f"one commit per record (the old path): {result['one_commit_each_records_per_s']:,.0f} records/s")
    print(f"save -> visible to another connection: median {result['latency_median_s'] * 1000:.0f} ms, "
          f"p95 {result['latency_p95_s'] * 1000:.0f} ms, max {result['latency_max_s'] * 1000:.0f} ms "
          f"over {int(result['latency_seen'])} records (target <= 1 s)")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "ingest.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
