"""The first-GPU check's cells: the real profiler, with its default meters, around real GPU work.

Run as ``python -m nbprofile.gpucheck.cells STEP [--seconds N]`` in a fresh process
(CUDA state cannot be undone; a hung GPU is killed with the process), printing one
result line (:data:`~nbprofile.gpucheck.probe.RESULT_MARK` and JSON). Steps:

``queued``  a cell that returns leaving ~N s of matmuls queued: its GPU time must be
            measured (not cut off by the hang guard), and the next cell's too;
``matmul``  N s of matmuls: counter energy against sampled mean power x time, and the
            oldest power sample the driver still holds against the window's start;
``alloc``   a 4 GiB allocation: torch's allocator peak against NVML's used memory;
``cost``    the per-cell cost of the default meters with CUDA up (window overhead).
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

from nbprofile.engine import assembly
from nbprofile.engine.profiler import Profiler
from nbprofile.gpucheck.probe import emit, fact, samples
from nbprofile.readings import Reading, Readings

GiB = 1024**3


def reading(r: Reading | None) -> dict[str, Any] | None:
    return None if r is None else {"value": r.value, "method": r.method, "note": r.note, "source": r.source}


def profiler() -> Profiler:
    """The profiler a notebook gets: the default meters, and the default formulas."""
    p = Profiler(meters=assembly.default_meters())
    p.windows.derivers = assembly.default_derivers(p.carbon, p.prices, p.windows.meters)
    return p


def gpu_keys(readings: Readings, d: int) -> dict[str, Any]:
    per_device = ("energy_j", "power_mean_w", "power_peak_w", "util_pct", "mem_used_bytes",
                  "mem_used_peak_bytes", "vram_peak_bytes", "vram_reserved_peak_bytes")
    keys = ["wall_s", "gpu_time_s", "gpu_energy_j", "vram_peak_bytes", "energy_j", "compute_cost_usd",
            *(f"gpu{d}_{k}" for k in per_device)]
    return {k: reading(readings.get(k)) for k in keys}


def matmul_rate(torch: Any, a: Any) -> float:
    """Seconds per ``a @ a``."""
    for _ in range(3):
        a @ a
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        a @ a
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / 20


def queued(torch: Any, seconds: float) -> dict[str, Any]:
    p = profiler()
    try:
        # large matmuls (~10 ms each on an H100): few enough launches that CUDA's launch queue
        # does not fill and block the loop, so most of the work is still queued when the cell returns
        a = torch.randn(16384, 16384, device="cuda", dtype=torch.bfloat16)
        n = max(1, int(seconds / matmul_rate(torch, a)))
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        window = p.open_window("queued")
        t_launch = time.perf_counter()
        start.record()
        for _ in range(n):
            a @ a
        end.record()
        t_return = time.perf_counter()  # the cell's Python code returns here, the GPU still busy
        r = p.close_window(window)
        close_s = time.perf_counter() - t_return
        end.synchronize()
        nxt = p.close_window(p.open_window("next"))
        d = torch.cuda.current_device()
        return {"matmuls": n, "kernel_event_s": start.elapsed_time(end) / 1000, "close_window_s": close_s,
                "launch_loop_s": t_return - t_launch,
                "cell": gpu_keys(r, d), "faults": window.faults, "disabled": dict(p.windows.disabled),
                "next_cell_gpu_time_s": reading(nxt.get("gpu_time_s")),
                "ok": bool(r["gpu_time_s"].value and r["gpu_time_s"].value >= start.elapsed_time(end) / 1000
                           and not p.windows.disabled)}
    finally:
        p.close()


def matmul(torch: Any, seconds: float) -> dict[str, Any]:
    from nbprofile.meters.nvml.discovery import _import_pynvml

    nvml = _import_pynvml()
    p = profiler()
    try:
        a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
        per = matmul_rate(torch, a)
        window = p.open_window("matmul")
        t_end = time.perf_counter() + seconds
        n = 0
        while time.perf_counter() < t_end:
            for _ in range(max(1, int(0.5 / per))):
                a @ a
                n += 1
            torch.cuda.synchronize()
        r = p.close_window(window)
        d = torch.cuda.current_device()
        out: dict[str, Any] = {"matmuls": n, "cell": gpu_keys(r, d), "faults": window.faults,
                               "tflops_achieved": 2 * 8192**3 * n / seconds / 1e12}
        keys = (f"gpu{d}_energy_j", f"gpu{d}_power_mean_w", "gpu_time_s")
        energy, power, span = (_value(r, k) for k in keys)
        if energy is not None and power is not None and span is not None:
            implied = power * span
            out["counter_j"], out["power_x_time_j"] = energy, implied
            out["counter_over_power_x_time"] = energy / implied if implied else None
        nvml.nvmlInit()
        handle = nvml.nvmlDeviceGetHandleByIndex(_nvml_index(nvml, torch, d))
        started_us = int(window.started_at * 1e6)
        buffer = fact(lambda: samples(nvml, handle, 0))
        out["power_buffer_after_cell"] = buffer
        if isinstance(buffer, dict) and buffer.get("oldest_age_s") is not None:
            oldest_us = time.time_ns() // 1000 - int(buffer["oldest_age_s"] * 1e6)
            out["oldest_sample_minus_window_start_s"] = (oldest_us - started_us) / 1e6
            out["buffer_covers_window"] = oldest_us <= started_us
        nvml.nvmlShutdown()
        return out
    finally:
        p.close()


def _value(readings: Readings, key: str) -> float | None:
    r = readings.get(key)
    return None if r is None or r.value is None else float(r.value)


def _nvml_index(nvml: Any, torch: Any, d: int) -> int:
    """The NVML index of torch's device ``d`` (its whole GPU's, for a MIG slice), by UUID; 0 if unmatched."""
    from nbprofile.meters.nvml.discovery import _mig_enabled, _mig_instances, _norm, _text

    want = _norm(str(torch.cuda.get_device_properties(d).uuid))
    for i in range(int(nvml.nvmlDeviceGetCount())):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        uuids = [_text(nvml.nvmlDeviceGetUUID(handle))]
        if _mig_enabled(nvml, handle):
            uuids += [uuid for _, uuid in _mig_instances(nvml, handle)]
        if want in {_norm(u) for u in uuids}:
            return i
    return 0


def alloc(torch: Any, gib: float) -> dict[str, Any]:
    p = profiler()
    try:
        torch.ones(1, device="cuda")
        torch.cuda.synchronize()
        window = p.open_window("alloc")
        x = torch.empty(int(gib * GiB), dtype=torch.uint8, device="cuda")
        x.fill_(1)
        r = p.close_window(window)
        d = torch.cuda.current_device()
        peak = torch.cuda.max_memory_allocated(d)
        del x
        cell = gpu_keys(r, d)
        used = (cell.get(f"gpu{d}_mem_used_bytes") or {}).get("value")
        used_peak = (cell.get(f"gpu{d}_mem_used_peak_bytes") or {}).get("value")
        return {"gib": gib, "cell": cell, "torch_max_memory_allocated": peak,
                "nvml_used_minus_allocator_peak": None if used is None else used - peak,
                "nvml_used_peak_minus_allocator_peak": None if used_peak is None else used_peak - peak}
    finally:
        p.close()


def cost(torch: Any, amount: float) -> dict[str, Any]:
    """Median and p90 per-cell overhead (both edges) of the default meters, CUDA up and idle."""
    cells = max(10, int(amount))
    p = profiler()
    try:
        torch.ones(1, device="cuda")
        torch.cuda.synchronize()
        for _ in range(5):
            p.close_window(p.open_window("warm"))
        overheads = []
        for i in range(cells):
            w = p.open_window(f"c{i}")
            p.close_window(w)
            overheads.append(w.overhead_ns / 1000)
        overheads.sort()
        per_meter = {}
        for meter in p.windows.active():
            times = []
            for i in range(min(cells, 100)):
                t0 = time.perf_counter_ns()
                meter.begin(("m", i))
                meter.end(("m", i))
                times.append((time.perf_counter_ns() - t0) / 1000)
            per_meter[meter.name] = round(statistics.median(times), 1)
        return {"cells": cells, "median_us": round(statistics.median(overheads), 1),
                "p90_us": round(overheads[int(0.9 * len(overheads))], 1), "max_us": round(overheads[-1], 1),
                "per_meter_median_us": per_meter, "meters": p.windows.measuring()}
    finally:
        p.close()


STEPS: dict[str, Callable[[Any, float], dict[str, Any]]] = {
    "queued": queued, "matmul": matmul, "alloc": alloc, "cost": cost}
DEFAULTS = {"queued": 5.0, "matmul": 30.0, "alloc": 4.0, "cost": 200}


def main(argv: list[str]) -> int:
    step = argv[0] if argv else ""
    if step not in STEPS:
        print(f"usage: python -m nbprofile.gpucheck.cells {{{','.join(STEPS)}}} [--seconds N]",
              file=sys.stderr)
        return 2
    amount = float(argv[argv.index("--seconds") + 1]) if "--seconds" in argv else DEFAULTS[step]
    import torch

    if torch.version.cuda is None or not torch.cuda.is_available():
        emit({"skipped": f"torch {torch.__version__} has no usable CUDA device"})
        return 0
    result = STEPS[step](torch, amount)
    result["device"] = torch.cuda.get_device_name(torch.cuda.current_device())
    result["torch"] = torch.__version__
    emit(result)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
