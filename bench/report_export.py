"""Export time of a 10,000-cell run in each report format (target: HTML <= 2 s).

Run: python bench/report_export.py [N_CELLS]
Records are built in memory the way the store returns them, so this measures the
exporters alone; the store read is reported separately.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.report.registry import export
from nbprofile.store import SQLiteStore


def records(n: int) -> list[CellRecord]:
    out = []
    for i in range(n):
        source = f"loss = train_step(batch_{i})\nlog(loss)"
        out.append(CellRecord(
            run_id="bench", seq=i + 1, notebook="/nb/train.ipynb", cell_id=f"cell-{i}", execution_count=i + 1,
            code_hash=code_hash(source), source=source, started_at=1.79e9 + i, status="ok", error_type=None,
            overhead_s=3e-5, verdict=None,
            readings={
                "wall_s": Reading(0.01 + (i % 97) / 1000, "s", "measured", "perf_counter"),
                "cpu_s": Reading(0.009 + (i % 89) / 1000, "s", "measured", "getrusage"),
                "rss_peak_bytes": Reading(2e9 + (i % 1000) * 1e6, "B", "measured", "clear_refs+VmHWM"),
                "energy_j": Reading(1.5 + (i % 13), "J", "estimated", "tdp", "RAPL needs root"),
                "vram_peak_bytes": Reading.unavailable("B", "no NVIDIA GPU"),
            }))
    return out


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    recs = records(n)
    run = {"run_id": "bench", "notebook": "/nb/train.ipynb", "started_at": 1.79e9, "info": {}}
    results = {}
    for fmt in ("html", "md", "json", "csv"):
        times, size = [], 0
        for _ in range(5):
            t0 = time.perf_counter()
            text = export(fmt, recs, run)
            times.append(time.perf_counter() - t0)
            size = len(text.encode())
        results[fmt] = {"median_s": statistics.median(times), "bytes": size}
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLiteStore(os.path.join(tmp, "r.db"))
        info = RunInfo(run_id="bench", notebook="/nb/train.ipynb", kernel_id=None, started_at=1.79e9)
        for r in recs:
            store.write(r, info)
        t0 = time.perf_counter()
        store.records("bench")
        results["store_read"] = {"median_s": time.perf_counter() - t0, "bytes": 0}
        store.close()
    print(f"{n} cells")
    print(f"{'format':<12}{'median':>10}{'size':>12}")
    for fmt, r in results.items():
        print(f"{fmt:<12}{r['median_s'] * 1000:>8.0f} ms{r['bytes'] / 1e6:>9.1f} MB")
    print(f"target: html <= 2 s -> {'met' if results['html']['median_s'] <= 2 else 'MISSED'}")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "report_export.json").write_text(json.dumps({"cells": n, **results}, indent=1))


if __name__ == "__main__":
    main()
