"""Background polling: the daemon thread, what it accumulates per window, and one tick's reads.

Power and utilisation normally come from the driver's sample buffer; the thread
polls them only where a device has no sample buffer, samples memory (v2's
``used``) every :data:`POLL_INTERVAL_S` for the peak, and on the same ticks
drains the sample buffers and re-reads the process lists when those are due.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nbprofile.meters.nvml.discovery import Gpu
from nbprofile.meters.nvml.reads import _instant_power, _memory_used
from nbprofile.meters.own_cpu import OwnCpu, counted

#: The polling thread's period (memory peak; power and utilisation without a sample buffer).
POLL_INTERVAL_S = 0.1

# One tick's read of one device: (power W, utilisation %, memory used B), None where not polled
_Poll = tuple[float | None, float | None, int | None]


@dataclass(slots=True)
class _Acc:
    """What the polling thread saw for one device during one window."""

    power_sum: float = 0.0
    power_n: int = 0
    power_max: float = 0.0
    util_sum: float = 0.0
    util_n: int = 0
    mem_max: int = 0

    def add(self, power: float | None, util: float | None, mem: int | None) -> None:
        """Fold one tick's read in (the caller holds the meter's lock)."""
        if power is not None:
            self.power_sum += power
            self.power_n += 1
            self.power_max = max(self.power_max, power)
        if util is not None:
            self.util_sum += util
            self.util_n += 1
        if mem is not None:
            self.mem_max = max(self.mem_max, mem)

    def power(self) -> tuple[float, float] | None:
        """(mean, peak) watts polled, or None (the caller holds the meter's lock)."""
        return (self.power_sum / self.power_n, self.power_max) if self.power_n else None

    def util(self) -> float | None:
        return self.util_sum / self.util_n if self.util_n else None


def _poll_device(nvml: Any, gpu: Gpu, sample_memory: bool) -> tuple[_Poll, str | None]:
    """One tick's read of ``gpu``, and why it failed (None when it did not)."""
    power = util = mem = None
    try:
        if not gpu.mig and not gpu.power_samples:
            power = _instant_power(nvml, gpu)[0]
        if not gpu.mig and not gpu.util_samples:
            util = float(nvml.nvmlDeviceGetUtilizationRates(gpu.board).gpu)
        if sample_memory:
            mem = _memory_used(nvml, gpu)
    except nvml.NVMLError as exc:  # a thread cannot raise to anyone: keep the reason for the notes
        return (power, util, mem), f"polling failed: {exc}"
    return (power, util, mem), None


class _Lazy:
    """A value computed at most once, on first use (the instant-power read)."""

    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[], tuple[float | None, str]]) -> None:
        self._fn = fn
        self._value: tuple[float | None, str] | None = None

    def get(self) -> tuple[float | None, str]:
        if self._value is None:
            self._value = self._fn()
        return self._value


class _Poller:
    """One daemon thread that calls ``tick`` every ``interval_s`` while a window is open; each
    turn's CPU (the wakeup and the tick's NVML calls) is counted in ``own_cpu()`` when there is one."""

    def __init__(self, tick: Callable[[], None], interval_s: float,
                 own_cpu: Callable[[], OwnCpu | None] = lambda: None) -> None:
        self._tick = tick
        self._own_cpu = own_cpu
        self._interval = interval_s
        self._active = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nbprofile-nvml", daemon=True)
            self._thread.start()
        self._active.set()

    def park(self) -> None:
        self._active.clear()

    def stop(self) -> None:
        self._stopped.set()
        self._active.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._interval + 2.0)

    def _run(self) -> None:
        while not self._stopped.is_set():
            with counted(self._own_cpu()):
                self._active.wait()
                # the first tick an interval in: each window's end reads the values it needs itself
                if self._stopped.wait(self._interval):
                    return
                if self._active.is_set():
                    self._tick()
