"""Opt-in FLOP counting (``%nbprofile flops on``) and model FLOPs utilisation (MFU).

:class:`FlopMeter` enters torch's ``FlopCounterMode`` at the window's start and
leaves it at the end, so ``flops`` counts the matmul, convolution and attention
FLOPs torch dispatched in between (other ops are not counted; the note says so).
The mode intercepts every op: it slows a cell heavily (pytorch PR #187927) and
defeats ``torch.compile`` graphs, which is why it is off unless asked for.

Off (``enabled = False``, the default), the meter adds no keys at all: absent
keys say "not asked for" better than an unavailable reading on every cell. On,
but torch not imported in this kernel: ``flops`` is unavailable with that reason
(the meter never imports torch).

MFU needs the window's time, so it is a deriver, :func:`derive_mfu`:
``flops / (time x peak x GPUs in use)``, the time being ``gpu_time_s`` when
available, else ``wall_s``, and the peak the device's dense BF16 datasheet
figure (:data:`PEAK_FLOPS`). No known peak (a CPU, an unlisted GPU): unavailable.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

from nbprofile.readings import weakest
from nbprofile.compute_cost import cuda_device_name, gpus_in_use
from nbprofile.readings import Availability, Reading, Readings
from nbprofile.meters.base import Meter

if TYPE_CHECKING:
    from nbprofile.readings import Deriver


class Peak(NamedTuple):
    flops_per_s: float
    what: str  # "H100 SXM, bf16 dense"


# Dense BF16 tensor-core peaks per GPU, FLOP/s, from NVIDIA's and AMD's datasheets (the dense figure:
# half of the "with sparsity" one). First match on the device name wins, so the specific come first.
PEAK_FLOPS: tuple[tuple[str, str, float], ...] = (
    (r"H100.*PCIe", "H100 PCIe, bf16 dense", 756e12),
    (r"H100.*NVL", "H100 NVL, bf16 dense", 835e12),
    (r"GH200", "GH200, bf16 dense", 989.4e12),
    (r"H200.*NVL", "H200 NVL, bf16 dense", 835e12),
    (r"H200", "H200, bf16 dense", 989e12),
    (r"H100|H800", "H100 SXM, bf16 dense", 989.4e12),
    (r"B200", "B200, bf16 dense", 2250e12),
    (r"A100|A800", "A100, bf16 dense", 312e12),
    (r"MI300X", "MI300X, bf16 dense", 1307.4e12),
    (r"L40S", "L40S, bf16 dense", 362e12),
    (r"\bL4\b", "L4, bf16 dense", 121e12),
    (r"\bA10\b", "A10, bf16 dense", 125e12),
    (r"V100", "V100, fp16 dense (no bf16)", 125e12),
    (r"\bT4\b", "T4, fp16 dense (no bf16)", 65e12),
)
_PEAKS = tuple((re.compile(p, re.IGNORECASE), what, f) for p, what, f in PEAK_FLOPS)
FLOPS_NOTE = "matmul, convolution and attention FLOPs counted by torch's FlopCounterMode; other ops not counted"


def peak_for(device_name: str | None) -> Peak | None:
    """The dense BF16 peak of a GPU by its name, or None (unknown, or a CPU)."""
    if device_name:
        for regex, what, flops in _PEAKS:
            if regex.search(device_name):
                return Peak(flops, what)
    return None


class FlopMeter(Meter):
    """``flops`` per window while ``enabled``; ``{}`` while not (see the module docstring)."""

    name = "flops"
    keys = ("flops",)

    def __init__(self, enabled: bool = False) -> None:
        self.enabled = enabled
        self._modes: list[tuple[object, Any]] = []  # (key, FlopCounterMode), innermost last
        self._open: dict[object, str | None] = {}  # key -> None (counting) or why not

    def probe(self) -> Availability:
        import importlib.util

        if importlib.util.find_spec("torch") is None:
            return Availability(False, "torch is not installed (FLOPs are counted with torch's FlopCounterMode)",
                                "pip install torch, then %nbprofile flops on")
        state = "on" if self.enabled else "off (opt-in: %nbprofile flops on; it slows cells heavily)"
        return Availability(True, f"torch FlopCounterMode, {state}; matmul/conv/attention only")

    def begin(self, key: object) -> None:
        if not self.enabled:
            return
        torch = sys.modules.get("torch")
        if torch is None:
            self._open[key] = "torch is not imported in this kernel (nbprofile never imports it)"
            return
        from torch.utils.flop_counter import FlopCounterMode

        mode: Any = FlopCounterMode(display=False)
        mode.__enter__()
        self._modes.append((key, mode))
        self._open[key] = None

    def end(self, key: object) -> Readings:
        if key not in self._open:
            return {}  # begun while off: no keys, as for every window while off
        why_not = self._open.pop(key)
        if why_not is not None:
            return {"flops": Reading.unavailable("FLOP", why_not, "FlopCounterMode")}
        mode = self._pop(key)
        if mode is None:
            return {"flops": Reading.unavailable("FLOP", "the window was never opened", "FlopCounterMode")}
        return {"flops": Reading(float(mode.get_total_flops()), "FLOP", "measured", "FlopCounterMode",
                                 FLOPS_NOTE)}

    def _pop(self, key: object) -> Any:
        """Leave ``key``'s mode; dispatch modes are a stack, so leave any opened after it first."""
        keys = [k for k, _ in self._modes]
        if key not in keys:
            return None
        while self._modes:
            k, mode = self._modes.pop()
            mode.__exit__(None, None, None)
            if k == key:
                return mode
            if k in self._open:
                self._open[k] = "an enclosing window closed first, which ended this count"
        return None

    def discard(self, key: object) -> None:
        if self._open.pop(key, "") is None:
            self._pop(key)

    def close(self) -> None:
        while self._modes:
            _, mode = self._modes.pop()
            mode.__exit__(None, None, None)
        self._open.clear()

    def peak(self) -> Peak | None:
        """The peak of the CUDA device in use, if torch has CUDA up and the device is known."""
        return peak_for(cuda_device_name())


def derive_mfu(peak: Peak | float | Callable[[], Peak | None] | None) -> Deriver:
    """A deriver of ``mfu_fraction`` from ``flops``; ``peak`` is a :class:`Peak`, FLOP/s, or a
    function asked at each window (e.g. ``FlopMeter.peak``). No ``flops`` key: no MFU key."""

    def derive_mfu_fraction(readings: Readings) -> Readings:
        flops = readings.get("flops")
        if flops is None:
            return {}
        if flops.value is None:
            return {"mfu_fraction": Reading.unavailable("", f"no FLOP count: {flops.note}")}
        p = peak() if callable(peak) else Peak(peak, "your peak") if isinstance(peak, (int, float)) else peak
        if p is None:
            return {"mfu_fraction": Reading.unavailable(
                "", "peak throughput unknown for this device (a CPU, or a GPU not in nbprofile's table)")}
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
