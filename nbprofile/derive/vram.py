"""``vram_peak_bytes``: one figure for a window's peak GPU memory, from the per-device readings."""

from __future__ import annotations

from nbprofile.readings import Reading, Readings

_ORDER: dict[str, int] = {"measured": 0, "sampled": 1, "estimated": 2}


def derive_vram_peak(readings: Readings) -> Readings:
    """``vram_peak_bytes``: the max over devices of torch's allocator peak, else NVML's sampled peak.

    A :data:`~nbprofile.readings.Deriver`: run it after the GPU meters. Torch's
    figure wins when present because it is exact; NVML's ``total - free`` peak
    (whole GPU, every process, sampled) stands in when torch is not in use.
    One pass over the readings (~1 µs without a GPU): it runs after every cell.
    """
    torch_peaks: list[Reading] = []
    nvml_peaks: list[Reading] = []
    for key, reading in readings.items():
        if key[:3] != "gpu" or reading.value is None:
            continue
        if key.endswith("_vram_peak_bytes"):  # not "_vram_reserved_peak_bytes"
            torch_peaks.append(reading)
        elif key.endswith("_mem_used_peak_bytes"):
            nvml_peaks.append(reading)
    if torch_peaks:
        return {"vram_peak_bytes": _max_reading(torch_peaks, "torch allocator, max over devices", None)}
    if nvml_peaks:
        note = "torch is not in use: NVML's total - free, whole GPU and every process, sampled"
        return {"vram_peak_bytes": _max_reading(nvml_peaks, "NVML memory, max over devices", note)}
    reasons = [r.note for k in ("gpu_time_s", "gpu_energy_j")
               if (r := readings.get(k)) is not None and r.note and r.value is None]
    reason = "; ".join(reasons) if reasons else "no GPU meter measured memory in this window"
    return {"vram_peak_bytes": Reading.unavailable("B", reason)}


def _max_reading(parts: list[Reading], source: str, note: str | None) -> Reading:
    weakest = max(parts, key=lambda r: _ORDER.get(r.method, 2)).method
    return Reading(max(r.value for r in parts if r.value is not None), "B", weakest, source, note)
