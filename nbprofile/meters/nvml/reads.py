"""One NVML read of one device: the energy counter, the driver's sample buffer, power, memory.

``nvml`` is the imported ``pynvml`` module; each function is one or two driver
calls, the cost a window pays at its edges (see the package docstring).
"""

from __future__ import annotations

from typing import Any

from nbprofile.meters.nvml.discovery import _FI_POWER_INSTANT, Gpu

_VALUE_FIELDS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")  # by NVML_VALUE_TYPE_*


def _read_energy(nvml: Any, gpu: Gpu) -> tuple[int | None, str | None]:
    if gpu.energy_reason is not None:
        return None, None
    try:
        return int(nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.board)), None
    except nvml.NVMLError as exc:
        return None, f"the energy counter failed: {exc}"


def _samples(nvml: Any, handle: Any, kind: int, since_us: int) -> list[float]:
    """Drain the driver's sample buffer: the values newer than ``since_us``."""
    try:
        value_type, samples = nvml.nvmlDeviceGetSamples(handle, kind, since_us)
    except nvml.NVMLError_NotFound:  # the driver's answer when no sample is newer than since_us
        return []
    name = _VALUE_FIELDS[value_type]
    return [float(getattr(s.sampleValue, name)) for s in samples if s.timeStamp > since_us]


def _instant_power(nvml: Any, gpu: Gpu) -> tuple[float | None, str]:
    """(watts, how it was read), or (None, why not)."""
    try:
        if gpu.instant_power:
            value = nvml.nvmlDeviceGetFieldValues(gpu.board, [_FI_POWER_INSTANT])[0]
            if value.nvmlReturn == 0:
                return getattr(value.value, _VALUE_FIELDS[value.valueType]) / 1000, "instant power"
        return nvml.nvmlDeviceGetPowerUsage(gpu.board) / 1000, "nvmlDeviceGetPowerUsage"
    except nvml.NVMLError as exc:
        return None, f"power could not be read: {exc}"


def _memory_used(nvml: Any, gpu: Gpu) -> int:
    if gpu.memory_v2:
        info = nvml.nvmlDeviceGetMemoryInfo(gpu.memory, version=nvml.nvmlMemory_v2)
    else:
        info = nvml.nvmlDeviceGetMemoryInfo(gpu.memory)
    return int(info.total - info.free)
