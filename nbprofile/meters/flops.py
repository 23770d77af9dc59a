"""Opt-in FLOP counting (``%nbprofile flops on``).

:class:`FlopMeter` enters torch's ``FlopCounterMode`` at the window's start and
leaves it at the end, so ``flops`` counts the matmul, convolution and attention
FLOPs torch dispatched in between (other ops are not counted; the note says so).
The mode intercepts every op: it slows a cell heavily (pytorch PR #187927) and
defeats ``torch.compile`` graphs, which is why it is off unless asked for.

Off (``enabled = False``, the default), the meter adds no keys at all: absent
keys say "not asked for" better than an unavailable reading on every cell. On,
but torch not imported in this kernel: ``flops`` is unavailable with that reason
(the meter never imports torch).

Model FLOPs utilisation is derived from ``flops``: :mod:`nbprofile.derive.mfu`.
"""

from __future__ import annotations

import sys
from typing import Any

from nbprofile.meters.base import Meter
from nbprofile.readings import Availability, Reading, Readings

FLOPS_NOTE = "matmul, convolution and attention FLOPs counted by torch's FlopCounterMode; other ops not counted"


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
