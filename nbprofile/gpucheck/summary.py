"""The first-GPU check's short text summary: one line a step, the figures that matter, read defensively."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def get(data: Any, *path: str | int) -> Any:
    """``data[path...]``, or None where any part is missing (a failed fact is a dict with "error")."""
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def num(value: Any, fmt: str = ".3g") -> str:
    return "?" if not isinstance(value, (int, float)) or isinstance(value, bool) else format(value, fmt)


def probe_line(r: dict[str, Any]) -> str:
    d = get(r, "devices", 0) or {}
    mem, cost = get(d, "memory") or {}, get(d, "call_cost") or {}
    power, util, ticks = get(d, "power_samples"), get(d, "util_samples"), get(d, "energy_counter")
    parts = [
        f"driver {get(r, 'driver_version')}, NVML {get(r, 'nvml_version')}, {get(r, 'device_count')} GPU(s)",
        f"gpu0 {get(d, 'name')}: power samples {get(power, 'count')} every "
        f"{num(get(power, 'spacing_ms_median'))} ms over {num(get(power, 'span_s'))} s "
        f"(type {get(power, 'value_type')}), util samples {get(util, 'count')} "
        f"over {num(get(util, 'span_s'))} s",
        f"energy tick {num(get(ticks, 'tick_ms_median'))} ms",
        f"POWER_INSTANT return {get(d, 'power_instant_field', 'nvml_return')}",
        f"memory used v1-v2 {num(get(mem, 'v1_used_minus_v2_used'))} B, "
        f"reserved {num(get(mem, 'v2', 'reserved'))} B",
        f"MIG {get(d, 'mig_mode', 'current')}; GPM {get(d, 'gpm_supported')}",
        "call cost (median µs, CPU µs): " + ", ".join(
            f"{label} {num(get(cost, key, 'median_us'))} ({num(get(cost, key, 'cpu_median_us'))})"
            for label, key in (
                ("energy", "energy_counter"), ("energy field", "field_values_total_energy"),
                ("power samples", "get_samples_power_with_samples"),
                ("util samples", "get_samples_util_with_samples"),
                ("processes", "process_list"), ("power field", "field_values_power_instant"))),
    ]
    return "; ".join(parts)


def queued_line(r: dict[str, Any]) -> str:
    span = get(r, "cell", "gpu_time_s")
    return (f"kernels {num(get(r, 'kernel_event_s'))} s (launched in {num(get(r, 'launch_loop_s'))} s), "
            f"gpu_time {num(get(span, 'value'))} s "
            f"({get(span, 'method')}), wall {num(get(r, 'cell', 'wall_s', 'value'))} s; "
            f"meters switched off: {get(r, 'disabled') or 'none'}; next cell gpu_time "
            f"{get(r, 'next_cell_gpu_time_s', 'method')}; {'OK' if get(r, 'ok') else 'NOT OK'}")


def matmul_line(r: dict[str, Any]) -> str:
    return (f"{num(get(r, 'tflops_achieved'))} TFLOP/s; counter {num(get(r, 'counter_j'))} J "
            f"vs mean power x time {num(get(r, 'power_x_time_j'))} J "
            f"(ratio {num(get(r, 'counter_over_power_x_time'))}); oldest power sample - window start "
            f"{num(get(r, 'oldest_sample_minus_window_start_s'))} s (covers the window: "
            f"{get(r, 'buffer_covers_window')}); power note: {get(r, 'cell', 'gpu0_power_mean_w', 'note')}")


def alloc_line(r: dict[str, Any]) -> str:
    return (f"allocator peak {num(get(r, 'torch_max_memory_allocated'))} B, cell vram_peak "
            f"{num(get(r, 'cell', 'vram_peak_bytes', 'value'))} B; NVML used - peak "
            f"{num(get(r, 'nvml_used_minus_allocator_peak'))} B, NVML sampled peak - peak "
            f"{num(get(r, 'nvml_used_peak_minus_allocator_peak'))} B")


def cost_line(r: dict[str, Any]) -> str:
    return (f"per cell median {num(get(r, 'median_us'))} µs, p90 {num(get(r, 'p90_us'))} µs over "
            f"{get(r, 'cells')} cells; per meter {get(r, 'per_meter_median_us')}")


def pytest_line(r: dict[str, Any]) -> str:
    return f"{get(r, 'summary')} (exit {get(r, 'exit_code')})"


def notebook_line(r: dict[str, Any]) -> str:
    failed = [name for name, ok in (get(r, "checks") or {}).items() if ok is False]
    workers = get(r, "cells", "workers", "readings") or {}
    return (f"nbprofile run exit {get(r, 'exit_code')} in {num(get(r, 'seconds'))} s; "
            f"busy gpu_time {num(get(r, 'cells', 'busy', 'readings', 'gpu_time_s', 'value'))} s of wall "
            f"{num(get(r, 'cells', 'busy', 'readings', 'wall_s', 'value'))} s; queued gpu_time "
            f"{num(get(r, 'cells', 'queued', 'readings', 'gpu_time_s', 'value'))} s; workers' GPU busy "
            f"{num(get(workers, 'cluster_gpu_busy_s', 'value'))} s, energy "
            f"{num(get(workers, 'cluster_gpu_energy_j', 'value'))} J; overhead median "
            f"{num(get(r, 'overhead', 'cuda_up', 'median_ms'))} ms (CUDA up), "
            f"{num(get(r, 'overhead', 'cuda_and_cluster_up', 'median_ms'))} ms (cluster up); "
            + ("every check held" if not failed else f"checks that failed: {', '.join(failed)}"))


LINES: dict[str, Callable[[dict[str, Any]], str]] = {
    "nvml_probe": probe_line, "queued_cell": queued_line, "matmul_cell": matmul_line,
    "alloc_cell": alloc_line,
    "cell_cost": cost_line, "pytest_gpu": pytest_line, "notebook": notebook_line}


def summarise(report: dict[str, Any]) -> str:
    head = f"nbprofile GPU check: {report.get('verdict', '')}".rstrip(": ")
    lines = [head]
    for step in report.get("steps", []):
        line = f"- {step['name']} [{step['status']}, {step['seconds']} s]"
        result = step.get("result")
        if isinstance(result, dict) and step["name"] in LINES and step["status"] != "skipped":
            try:
                line += ": " + LINES[step["name"]](result)
            except Exception as exc:  # a summary line must never lose the others
                line += f": (summary failed: {type(exc).__name__}: {exc})"
        if step.get("error"):
            line += f" -- {step['error']}"
        lines.append(line)
    return "\n".join(lines) + "\n"
