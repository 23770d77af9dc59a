"""How many GPUs a window used, from its readings (for GPU-hours and MFU)."""

from __future__ import annotations

from nbprofile.readings import Readings

_PEAK_KEYS = tuple(f"gpu{i}_vram_peak_bytes" for i in range(64))


def gpus_in_use(readings: Readings) -> int:
    """GPUs this window used: devices with a non-zero torch peak, else 1 (one was in use)."""
    n = misses = 0
    for key in _PEAK_KEYS:  # devices are numbered 0..n-1, only those with a context report: allow gaps
        r = readings.get(key)
        if r is None:
            misses += 1
            if misses == 8:
                break
        elif r.value:
            n += 1
    return n or 1
