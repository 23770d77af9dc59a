"""The first-GPU check's notebook: a real kernel, run headless by ``nbprofile run``, with GPU cells.

Run as ``python -m nbprofile.gpucheck.notebook [--device cuda|cpu] [--out DIR]``: writes a
notebook, runs it with the CLI (a real ipykernel, the journal, the store, the budget gate),
reads the run back from its JSON report and prints one result line
(:data:`~nbprofile.gpucheck.probe.RESULT_MARK` and JSON): for each cell the readings a user
sees, and the checks below. ``--device cpu`` runs the same notebook without a GPU, so the
step's plumbing is tested where there is none (every GPU reading is then unavailable).

The cells, in order:

``init``      imports torch and makes CUDA's context (its time is the first cell's, not the next's);
``busy``      ~4 s of matmuls, synchronised: GPU time ≈ wall, energy measured, under a budget;
``queued``    ~3 s of matmuls left queued when the cell's code returns: GPU time ≥ 3 s;
``alloc``     a 2 GiB tensor: peak VRAM ≥ 2 GiB;
``trivial``   20 cells of ``pass`` with CUDA up: the profiler's overhead per cell;
``cluster``   a 2-worker ``LocalCluster`` started, then each worker's torch and CUDA warmed up;
``workers``   ~3 s of matmuls on each worker at once: the workers' GPU busy time and energy;
``cluster_trivial``  20 cells of ``pass`` with the cluster up: overhead per cell.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from nbprofile.gpucheck.probe import emit

GiB = 1024**3
TRIVIAL_CELLS = 20

_INIT = """\
import time, torch
DEVICE = {device!r}
a = torch.randn(4096, 4096, device=DEVICE, dtype=torch.float32)
if DEVICE == "cuda":
    torch.cuda.synchronize()
def spin(seconds, a=a):
    t0 = time.perf_counter()
    n = 0
    while time.perf_counter() - t0 < seconds:
        a @ a
        n += 1
        if DEVICE == "cuda" and n % 8 == 0:
            torch.cuda.synchronize()
    if DEVICE == "cuda":
        torch.cuda.synchronize()
    return n
"""
_BUSY = "%%budget time<=60s vram<=8GiB energy<=5Wh\nspin(4.0)"
_QUEUED = """\
# ~3 s of large matmuls (~12 ms each on an H100), launched and left queued: few enough launches
# that CUDA's launch queue does not fill, so the cell's code returns with the GPU still busy
if DEVICE == "cuda":
    q = torch.randn(16384, 16384, device=DEVICE, dtype=torch.bfloat16)
    q @ q; torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(4):
        q @ q
    torch.cuda.synchronize(); per = (time.perf_counter() - t0) / 4
    for _ in range(int(3.5 / per)):
        q @ q
"""
_ALLOC = """\
x = torch.empty(2 * 1024**3, dtype=torch.uint8, device=DEVICE)
x.fill_(1)
del x
"""
_CLUSTER = """\
import warnings
from distributed import Client, LocalCluster
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
    client = Client(cluster)
client.wait_for_workers(2, timeout=120)
workers = sorted(client.scheduler_info(n_workers=-1)["workers"])

def on_worker(seconds, device=DEVICE):
    import time, torch
    b = torch.randn(4096, 4096, device=device, dtype=torch.float32)
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        b @ b
        if device == "cuda":
            torch.cuda.synchronize()
    return time.perf_counter() - t0

client.gather([client.submit(on_worker, 0.5, workers=[w], pure=False) for w in workers])
"""
_WORKERS = "spent = client.gather([client.submit(on_worker, 3.0, workers=[w], pure=False) for w in workers])"
_CLOSE = "client.close(); cluster.close()"


def notebook(device: str) -> dict[str, Any]:
    """The check's notebook as nbformat 4 JSON, each cell tagged with its name in ``metadata``."""
    plan = [("init", _INIT.format(device=device)), ("busy", _BUSY), ("queued", _QUEUED), ("alloc", _ALLOC)]
    plan += [(f"trivial{i}", "pass") for i in range(TRIVIAL_CELLS)]
    plan += [("cluster", _CLUSTER), ("workers", _WORKERS)]
    plan += [(f"cluster_trivial{i}", "pass") for i in range(TRIVIAL_CELLS)]
    plan += [("close", _CLOSE)]
    cells: list[dict[str, Any]] = [
        {"cell_type": "code", "id": f"c{i:02d}-{name}", "metadata": {}, "source": source, "outputs": [],
         "execution_count": None} for i, (name, source) in enumerate(plan)]
    cells.insert(0, {"cell_type": "code", "id": "load", "metadata": {}, "source": "%load_ext nbprofile",
                     "outputs": [], "execution_count": None})
    return {"nbformat": 4, "nbformat_minor": 5, "cells": cells,
            "metadata": {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}}


def _value(cell: dict[str, Any], key: str) -> float | None:
    reading = cell["readings"].get(key)
    return None if reading is None else reading.get("value")


def _shown(cell: dict[str, Any], keys: list[str]) -> dict[str, Any]:
    """The readings ``keys`` (and the per-device ones for GPU 0) as value, method and note."""
    out = {}
    for key, reading in cell["readings"].items():
        if key in keys or key.startswith("gpu0_"):
            out[key] = {k: reading.get(k) for k in ("value", "method", "note") if reading.get(k) is not None}
    return out


GPU_KEYS = ["wall_s", "cpu_s", "gpu_time_s", "gpu_energy_j", "gpu_energy_other_j", "vram_peak_bytes",
            "energy_j", "co2_g", "compute_cost_usd", "cluster_cpu_s", "cluster_workers", "cluster_tasks",
            "cluster_gpu_energy_j", "cluster_gpu_busy_s", "cluster_rss_peak_bytes"]


def checks(by_name: dict[str, dict[str, Any]], device: str) -> dict[str, bool | None]:
    """What must hold on a real GPU (``None``: not applicable on ``device``)."""
    gpu = device == "cuda"

    def at_least(name: str, key: str, floor: float) -> bool | None:
        if not gpu or name not in by_name:
            return None
        value = _value(by_name[name], key)
        return value is not None and value >= floor

    busy = by_name.get("busy", {})
    gpu_time, wall = _value(busy, "gpu_time_s") if busy else None, _value(busy, "wall_s") if busy else None
    return {
        "every_cell_recorded": all(by_name.get(n, {}).get("status") == "ok"
                                   for n in ("busy", "queued", "alloc", "workers")),
        "busy_gpu_time_near_wall": (None if not gpu else gpu_time is not None and wall is not None
                                    and abs(gpu_time - wall) <= 0.1 * wall),
        "busy_gpu_energy_measured": at_least("busy", "gpu_energy_j", 1.0),
        "busy_budget_passed": busy.get("verdict_status") == "pass" if gpu and busy else None,
        "queued_gpu_time_ge_3s": at_least("queued", "gpu_time_s", 2.9),
        "alloc_vram_peak_ge_2GiB": at_least("alloc", "vram_peak_bytes", 2 * GiB),
        "workers_cluster_gpu_energy_measured": at_least("workers", "cluster_gpu_energy_j", 1.0),
        "workers_cluster_gpu_busy_ge_2s": at_least("workers", "cluster_gpu_busy_s", 2.0),
        "workers_cluster_cpu_measured": (None if "workers" not in by_name
                                         else _value(by_name["workers"], "cluster_cpu_s") is not None),
    }


def _overheads_ms(cells: list[dict[str, Any]], prefix: str) -> dict[str, float] | None:
    values = sorted(c["overhead_s"] * 1e3 for c in cells if c["name"].startswith(prefix))
    if not values:
        return None
    return {"median_ms": round(statistics.median(values), 3), "max_ms": round(values[-1], 3)}


def run(device: str, out: Path) -> dict[str, Any]:
    out.mkdir(parents=True, exist_ok=True)
    nb_path = out / "gpucheck.ipynb"
    nb = notebook(device)
    nb_path.write_text(json.dumps(nb, indent=1))
    report, summary = out / "gpucheck-notebook-report.json", out / "gpucheck-notebook-summary.json"
    env = dict(os.environ)
    env.setdefault("NBPROFILE_DB", str(out / "gpucheck-notebook.sqlite"))
    t0 = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "nbprofile.cli", "run", str(nb_path), "--timeout", "180",
                           "--report", str(report), "--json", str(summary)],
                          capture_output=True, text=True, env=env, timeout=420, check=False)
    result: dict[str, Any] = {"exit_code": proc.returncode, "seconds": round(time.monotonic() - t0, 1),
                              "output_tail": (proc.stdout + proc.stderr)[-2500:]}
    if not report.exists():
        result["error"] = "nbprofile run wrote no report"
        return result
    data = json.loads(report.read_text())
    names = {c["id"]: c["id"].split("-", 1)[1] for c in nb["cells"] if "-" in c["id"]}
    cells = []
    for cell in data["cells"]:
        cell["name"] = names.get(cell.get("cell_id") or "", cell.get("cell_id"))
        cells.append(cell)
    by_name = {c["name"]: c for c in cells}
    result["cells"] = {name: {"status": c["status"], "verdict": c.get("verdict_status"),
                              "notes": c.get("notes"), "readings": _shown(c, GPU_KEYS)}
                       for name, c in by_name.items() if not name.startswith(("trivial", "cluster_trivial"))}
    result["overhead"] = {"cuda_up": _overheads_ms(cells, "trivial"),
                          "cuda_and_cluster_up": _overheads_ms(cells, "cluster_trivial")}
    result["totals"] = {k: v for k, v in data.get("totals", {}).items() if v is not None}
    result["checks"] = checks(by_name, device)
    result["ok"] = all(v is not False for v in result["checks"].values())
    return result


def main(argv: list[str]) -> int:
    device = argv[argv.index("--device") + 1] if "--device" in argv else "cuda"
    out = (Path(argv[argv.index("--out") + 1]) if "--out" in argv
           else Path(tempfile.mkdtemp(prefix="nbprofile-gpucheck-")))
    result = run(device, out)
    result["device"] = device
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
