"""One NVML read of one device: the energy counter, the driver's sample buffer, power, memory.

``nvml`` is the imported ``pynvml`` module; each function is one or two driver
calls, the cost a window pays at its edges (see the package docstring). Reads
that one reading alone needs raise ``NVMLError`` for the caller to turn into
that reading's reason, so a failing call never takes the device's other
readings with it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from nbprofile.meters.nvml.discovery import _FI_POWER_INSTANT, Gpu

_VALUE_FIELDS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")  # by NVML_VALUE_TYPE_*

#: (µs since the epoch, value): power samples in mW, utilisation samples in %
Sample = tuple[int, float]


@dataclass(frozen=True, slots=True)
class Memory:
    """Device memory at one moment: ``used`` excludes the driver's reservation where v2 says so."""

    used: int
    reserved: int | None  #: the driver's own reservation (v2); None with v1, whose ``used`` includes it
    source: str


def _read_energy(nvml: Any, gpu: Gpu) -> tuple[int | None, str | None]:
    if gpu.energy_reason is not None:
        return None, None
    try:
        return int(nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.board)), None
    except nvml.NVMLError as exc:
        return None, f"the energy counter failed: {exc}"


def _samples(nvml: Any, handle: Any, kind: int, since_us: int) -> list[Sample]:
    """The driver's buffered samples newer than ``since_us``, oldest first.

    ``NotFound`` is the driver's answer when no sample is newer: an empty list.
    pynvml sizes the array in one call and fills it in a second, so a sample
    landing in between gives ``InsufficientSize``: asked once more. Any other
    ``NVMLError`` is raised.
    """
    for attempt in (1, 2):
        try:
            value_type, samples = nvml.nvmlDeviceGetSamples(handle, kind, since_us)
            break
        except nvml.NVMLError_NotFound:
            return []
        except nvml.NVMLError_InsufficientSize:
            if attempt == 2:
                raise
    name = _VALUE_FIELDS[value_type]
    found = [(int(s.timeStamp), float(getattr(s.sampleValue, name)))
             for s in samples if s.timeStamp > since_us]
    found.sort()  # the driver's ring buffer is read in order; sorting costs nothing when it is
    return found


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


def _memory(nvml: Any, gpu: Gpu) -> Memory:
    """v2 memory info's ``used`` (allocations only) and ``reserved``; v1's ``total - free`` otherwise."""
    if gpu.memory_v2:
        info = nvml.nvmlDeviceGetMemoryInfo(gpu.memory, version=nvml.nvmlMemory_v2)
        return Memory(int(info.used), int(info.reserved), "nvmlDeviceGetMemoryInfo v2: used")
    info = nvml.nvmlDeviceGetMemoryInfo(gpu.memory)
    return Memory(int(info.total - info.free), None, "nvmlDeviceGetMemoryInfo v1: total - free")


def _memory_used(nvml: Any, gpu: Gpu) -> int:
    return _memory(nvml, gpu).used
