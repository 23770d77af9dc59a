"""Model FLOPs utilisation: ``mfu_fraction`` = FLOPs / (time x peak x GPUs in use).

The time is ``gpu_time_s`` when available, else ``wall_s``; the peak is the
device's dense BF16 datasheet figure (:data:`PEAK_FLOPS`). No known peak (a CPU,
an unlisted GPU, a MIG slice whose profile cannot be read): unavailable. A MIG
slice gets its share of the whole GPU's peak (:mod:`nbprofile.derive.mig`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import NamedTuple

from nbprofile.derive.gpus import gpus_in_use
from nbprofile.derive.mig import is_mig, mig_slice
from nbprofile.meters.torch_cuda import cuda_device_name
from nbprofile.readings import Deriver, Reading, Readings, weakest


class Peak(NamedTuple):
    flops_per_s: float
    what: str  # "H100 SXM, bf16 dense"


# Dense BF16 tensor-core peaks per GPU, FLOP/s, from NVIDIA's and AMD's datasheets (the dense figure:
# half of the "with sparsity" one). First match on the device name wins, so the specific come first;
# (?<!G) keeps the Grace-Hopper/Blackwell superchips (GH200, GB200) off their GPU's entry.
# H800 PCIe / H800 SXM: the H100 PCIe / SXM dies with a narrower interconnect, the same tensor peaks.
PEAK_FLOPS: tuple[tuple[str, str, float], ...] = (
    (r"H[18]00.*PCIe", "H100/H800 PCIe, bf16 dense", 756e12),
    (r"H100.*NVL", "H100 NVL, bf16 dense", 835e12),
    (r"GH200", "GH200, bf16 dense", 989.4e12),
    (r"(?<!G)H200.*NVL", "H200 NVL, bf16 dense", 835e12),
    (r"(?<!G)H200", "H200, bf16 dense", 989e12),
    (r"H100|H800", "H100 SXM, bf16 dense", 989.4e12),
    (r"GB200", "GB200 (per GPU), bf16 dense", 2500e12),
    (r"(?<!G)B200", "B200, bf16 dense", 2250e12),
    (r"A100|A800", "A100, bf16 dense", 312e12),
    (r"\bA30\b", "A30, bf16 dense", 165e12),
    (r"MI300X", "MI300X, bf16 dense", 1307.4e12),
    (r"L40S", "L40S, bf16 dense", 362e12),
    (r"\bL4\b", "L4, bf16 dense", 121e12),
    (r"\bA10\b", "A10, bf16 dense", 125e12),
    (r"V100", "V100, fp16 dense (no bf16)", 125e12),
    (r"\bT4\b", "T4, fp16 dense (no bf16)", 65e12),
)
_PEAKS = tuple((re.compile(p, re.IGNORECASE), what, f) for p, what, f in PEAK_FLOPS)
NO_PEAK = "peak throughput unknown for this device (a CPU, or a GPU not in nbprofile's table)"
MIG_UNKNOWN = "a MIG slice whose profile cannot be read from its name: its share of the GPU's peak is unknown"


def peak_for(device_name: str | None) -> Peak | None:
    """The dense BF16 peak of a GPU by its name, or None (unknown, or a CPU).

    A MIG slice (``... MIG 1g.10gb``) gets its share of the whole GPU's peak; a MIG
    device whose profile cannot be read gets None, never the whole GPU's figure.
    """
    if not device_name:
        return None
    if is_mig(device_name):
        part = mig_slice(device_name)
        whole = peak_for(part.gpu) if part is not None else None
        if part is None or whole is None:
            return None
        return Peak(whole.flops_per_s * part.fraction, f"{whole.what}, {part.label}")
    for regex, what, flops in _PEAKS:
        if regex.search(device_name):
            return Peak(flops, what)
    return None


def _no_peak_reason(device_name: str | None) -> str:
    return MIG_UNKNOWN if is_mig(device_name) and mig_slice(device_name) is None else NO_PEAK


def device_peak() -> Peak | None:
    """The peak of the CUDA device in use, if torch has CUDA up and the device is known."""
    return peak_for(cuda_device_name())


def derive_mfu(peak: Peak | float | Callable[[], Peak | None] | None) -> Deriver:
    """A deriver of ``mfu_fraction`` from ``flops``; ``peak`` is a :class:`Peak`, FLOP/s, or a
    function asked at each window (e.g. :func:`device_peak`). No ``flops`` key: no MFU key."""

    def derive_mfu_fraction(readings: Readings) -> Readings:
        flops = readings.get("flops")
        if flops is None:
            return {}
        if flops.value is None:
            return {"mfu_fraction": Reading.unavailable("", f"no FLOP count: {flops.note}")}
        p = peak() if callable(peak) else Peak(peak, "your peak") if isinstance(peak, (int, float)) else peak
        if p is None:
            why = _no_peak_reason(cuda_device_name()) if callable(peak) else NO_PEAK
            return {"mfu_fraction": Reading.unavailable("", why)}
        time = readings.get("gpu_time_s")
        if time is None or time.value is None:
            time = readings.get("wall_s")
        if time is None or time.value is None or time.value <= 0:
            return {"mfu_fraction": Reading.unavailable("", "no time for the window")}
        n = gpus_in_use(readings)
        value = flops.value / (time.value * p.flops_per_s * n)
        return {"mfu_fraction": Reading(value, "", weakest(flops.method, time.method), "flops/(time x peak)",
                                        f"vs {n} x {p.what} {p.flops_per_s / 1e12:g} TFLOP/s")}

    return derive_mfu_fraction
