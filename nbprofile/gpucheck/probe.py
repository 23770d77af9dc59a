"""The raw NVML facts of the first-GPU check: what the driver gives, before nbprofile makes readings of it.

Run as ``python -m nbprofile.gpucheck.probe [--detect]``: prints one result line
(:data:`RESULT_MARK` and a JSON object). ``--detect`` only says whether there is an
NVIDIA GPU (fast); the full probe reads, per physical GPU: versions, MIG mode and
instances, GPM support, memory v1 vs v2 (reserved memory on an idle GPU), the
driver's sample buffers for power and utilisation (count, spacing, span, value
type, the oldest sample's age), the energy counter's tick period over
``--tick-s`` seconds, the POWER_INSTANT field against GetPowerUsage, and the
per-call cost of each NVML call the meter makes. Every fact is read on its own:
one that fails is recorded as its error.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from typing import Any

RESULT_MARK = "NBPROFILE_GPUCHECK_RESULT "
_POWER_SAMPLES, _UTIL_SAMPLES = 0, 1  # NVML_TOTAL_POWER_SAMPLES, NVML_GPU_UTILIZATION_SAMPLES
_FI_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT
_FI_TOTAL_ENERGY = 83  # NVML_FI_DEV_TOTAL_ENERGY_CONSUMPTION
_VALUE_FIELDS = {0: "dVal", 1: "uiVal", 2: "ulVal", 3: "ullVal", 4: "sllVal", 5: "siVal", 6: "usVal"}


def emit(result: dict[str, Any]) -> None:
    """The one line the check's runner reads back from a step."""
    print(RESULT_MARK + json.dumps(result, default=str), flush=True)


def fact(fn: Callable[[], Any]) -> Any:
    """``fn()``, or ``{"error": ...}``: one fact failing never loses the others."""
    try:
        return fn()
    except Exception as exc:  # recorded in the result, which is the point of the probe
        return {"error": f"{type(exc).__name__}: {exc}"}


def text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


def detect(nvml: Any) -> dict[str, Any]:
    nvml.nvmlInit()
    try:
        count = int(nvml.nvmlDeviceGetCount())
        names = [text(nvml.nvmlDeviceGetName(nvml.nvmlDeviceGetHandleByIndex(i))) for i in range(count)]
        return {"gpus": count, "names": names, "driver": text(nvml.nvmlSystemGetDriverVersion())}
    finally:
        nvml.nvmlShutdown()


def cost_us(fn: Callable[[], Any], n: int = 50) -> dict[str, Any]:
    """Median and max µs of ``n`` calls, and the median CPU µs of this thread (a call that waits on
    the device costs wall time; one that spins in the driver costs CPU inside the cell's window);
    errors included: a failing call costs too."""
    times, cpu, errors = [], [], 0
    for _ in range(n):
        t0, c0 = time.perf_counter_ns(), time.thread_time_ns()
        try:
            fn()
        except Exception:  # counted below: the cost of a call that fails is still its cost
            errors += 1
        times.append((time.perf_counter_ns() - t0) / 1000)
        cpu.append((time.thread_time_ns() - c0) / 1000)
    return {"median_us": round(statistics.median(times), 1), "max_us": round(max(times), 1),
            "cpu_median_us": round(statistics.median(cpu), 1), "calls": n, "errors": errors}


def samples(nvml: Any, handle: Any, kind: int) -> dict[str, Any]:
    """The driver's buffer since its start: what ``GetSamples`` gives a window's end."""
    now_us = time.time_ns() // 1000
    value_type, found = nvml.nvmlDeviceGetSamples(handle, kind, 0)
    stamps = sorted(int(s.timeStamp) for s in found)
    field = _VALUE_FIELDS.get(int(value_type), "uiVal")
    values = [getattr(s.sampleValue, field) for s in found]
    gaps = [(b - a) / 1000 for a, b in zip(stamps, stamps[1:])]
    return {"count": len(stamps), "value_type": int(value_type), "value_field": field,
            "spacing_ms_median": round(statistics.median(gaps), 2) if gaps else None,
            "spacing_ms_max": round(max(gaps), 2) if gaps else None,
            "span_s": round((stamps[-1] - stamps[0]) / 1e6, 3) if stamps else None,
            "oldest_age_s": round((now_us - stamps[0]) / 1e6, 3) if stamps else None,
            "newest_age_s": round((now_us - stamps[-1]) / 1e6, 3) if stamps else None,
            "last_values": values[-5:]}


def energy_ticks(nvml: Any, handle: Any, seconds: float) -> dict[str, Any]:
    """How often the energy counter moves: read it every ~1 ms for ``seconds``."""
    changes: list[float] = []
    reads = 0
    last = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    first_mj, t_end = last, time.perf_counter() + seconds
    while time.perf_counter() < t_end:
        value = nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
        reads += 1
        if value != last:
            changes.append(time.perf_counter())
            last = value
        time.sleep(0.001)
    gaps = [b - a for a, b in zip(changes, changes[1:])]
    return {"seconds": seconds, "reads": reads, "changes": len(changes),
            "tick_ms_median": round(statistics.median(gaps) * 1000, 2) if gaps else None,
            "tick_ms_min": round(min(gaps) * 1000, 2) if gaps else None,
            "tick_ms_max": round(max(gaps) * 1000, 2) if gaps else None,
            "energy_j": (last - first_mj) / 1000, "unit_note": "counter in mJ since the driver loaded"}


def memory(nvml: Any, handle: Any) -> dict[str, Any]:
    v1 = fact(lambda: nvml.nvmlDeviceGetMemoryInfo(handle))
    v2 = fact(lambda: nvml.nvmlDeviceGetMemoryInfo(handle, version=nvml.nvmlMemory_v2))
    out: dict[str, Any] = {}
    for label, info in (("v1", v1), ("v2", v2)):
        out[label] = info if isinstance(info, dict) else {
            k: int(getattr(info, k)) for k in ("total", "free", "used", "reserved") if hasattr(info, k)}
    if "used" in out["v1"] and "used" in out["v2"]:
        out["v1_used_minus_v2_used"] = out["v1"]["used"] - out["v2"]["used"]
    return out


def instant_power(nvml: Any, handle: Any) -> dict[str, Any]:
    value = nvml.nvmlDeviceGetFieldValues(handle, [_FI_POWER_INSTANT])[0]
    field = _VALUE_FIELDS.get(int(value.valueType), "uiVal")
    return {"nvml_return": int(value.nvmlReturn), "value_type": int(value.valueType),
            "value_mw": getattr(value.value, field) if int(value.nvmlReturn) == 0 else None,
            "get_power_usage_mw": fact(lambda: int(nvml.nvmlDeviceGetPowerUsage(handle)))}


def mig(nvml: Any, handle: Any) -> dict[str, Any]:
    current, pending = nvml.nvmlDeviceGetMigMode(handle)
    out: dict[str, Any] = {"current": int(current), "pending": int(pending), "instances": []}
    if int(current) != 1:
        return out
    for j in range(int(nvml.nvmlDeviceGetMaxMigDeviceCount(handle))):
        try:
            inst = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, j)
        except nvml.NVMLError:  # an empty slot
            continue
        out["instances"].append(mig_instance(nvml, inst))
    return out


def mig_instance(nvml: Any, inst: Any) -> dict[str, Any]:
    keys = ("multiprocessorCount", "gpuInstanceSliceCount", "computeInstanceSliceCount", "memorySizeMB")

    def attributes() -> dict[str, Any]:
        a = nvml.nvmlDeviceGetAttributes(inst)
        return {k: getattr(a, k) for k in keys if hasattr(a, k)}

    return {"uuid": fact(lambda: text(nvml.nvmlDeviceGetUUID(inst))),
            "name": fact(lambda: text(nvml.nvmlDeviceGetName(inst))), "attributes": fact(attributes)}


def device(nvml: Any, index: int, tick_s: float) -> dict[str, Any]:
    h = nvml.nvmlDeviceGetHandleByIndex(index)
    return {
        "index": index,
        "name": fact(lambda: text(nvml.nvmlDeviceGetName(h))),
        "uuid": fact(lambda: text(nvml.nvmlDeviceGetUUID(h))),
        "pci_bus_id": fact(lambda: text(nvml.nvmlDeviceGetPciInfo(h).busId)),
        "persistence_mode": fact(lambda: int(nvml.nvmlDeviceGetPersistenceMode(h))),
        "power_limit_mw": fact(lambda: int(nvml.nvmlDeviceGetEnforcedPowerLimit(h))),
        "mig_mode": fact(lambda: mig(nvml, h)),
        "gpm_supported": fact(lambda: bool(nvml.nvmlGpmQueryDeviceSupport(h).isSupportedDevice)),
        "memory": fact(lambda: memory(nvml, h)),
        "power_samples": fact(lambda: samples(nvml, h, _POWER_SAMPLES)),
        "util_samples": fact(lambda: samples(nvml, h, _UTIL_SAMPLES)),
        "power_instant_field": fact(lambda: instant_power(nvml, h)),
        "energy_counter": fact(lambda: energy_ticks(nvml, h, tick_s)),
        "call_cost": call_costs(nvml, h),
    }


def call_costs(nvml: Any, h: Any) -> dict[str, Any]:
    """What each NVML call the meter makes costs here (GetSamples with a full buffer)."""
    return {
        "energy_counter": cost_us(lambda: nvml.nvmlDeviceGetTotalEnergyConsumption(h)),
        "get_samples_power_with_samples": cost_us(lambda: nvml.nvmlDeviceGetSamples(h, _POWER_SAMPLES, 0)),
        "get_samples_util_with_samples": cost_us(lambda: nvml.nvmlDeviceGetSamples(h, _UTIL_SAMPLES, 0)),
        "process_list": cost_us(lambda: nvml.nvmlDeviceGetComputeRunningProcesses(h)),
        "field_values_power_instant": cost_us(
            lambda: nvml.nvmlDeviceGetFieldValues(h, [_FI_POWER_INSTANT])),
        # the same counter as a field value, which also carries the time of its last update
        "field_values_total_energy": cost_us(
            lambda: nvml.nvmlDeviceGetFieldValues(h, [_FI_TOTAL_ENERGY])),
        "memory_info_v2": cost_us(lambda: nvml.nvmlDeviceGetMemoryInfo(h, version=nvml.nvmlMemory_v2)),
    }


def probe(nvml: Any, tick_s: float = 2.0) -> dict[str, Any]:
    """Every raw fact, per physical GPU (NVML's numbering)."""
    nvml.nvmlInit()
    try:
        count = int(nvml.nvmlDeviceGetCount())
        return {
            "driver_version": fact(lambda: text(nvml.nvmlSystemGetDriverVersion())),
            "nvml_version": fact(lambda: text(nvml.nvmlSystemGetNVMLVersion())),
            "cuda_driver_version": fact(lambda: int(nvml.nvmlSystemGetCudaDriverVersion())),
            "device_count": count,
            "devices": [fact(partial(device, nvml, i, tick_s)) for i in range(count)],
        }
    finally:
        nvml.nvmlShutdown()


def main(argv: list[str]) -> int:
    from nbprofile.meters.nvml.discovery import _import_pynvml

    try:
        nvml = _import_pynvml()
    except ImportError as exc:
        emit({"gpus": 0, "reason": f"nvidia-ml-py is not installed ({exc})"})
        return 0
    if "--detect" in argv:
        try:
            emit(detect(nvml))
        except nvml.NVMLError as exc:
            emit({"gpus": 0, "reason": f"NVML: {exc}"})
        return 0
    tick_s = float(argv[argv.index("--tick-s") + 1]) if "--tick-s" in argv else 2.0
    try:
        emit(probe(nvml, tick_s))
    except nvml.NVMLError as exc:  # NVML itself failed (no driver): the result says so
        emit({"error": f"NVML: {exc}"})
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
