"""The driver's sample buffers over a window: drained during long windows, and what they cover.

NVML keeps only a device's latest samples, and how many differs by board and
driver: about 120 of each kind ~1/6 s apart on an H100 (20 s); on an H200 with
driver 580, 119 power samples 20 ms apart (2.4 s) and 71 utilisation samples
~0.2 s apart (14 s). One read at the end of a 60 s window would see only its
tail. While windows are open, :func:`drain` reads each kind's buffer every
:data:`DRAIN_INTERVAL_S` of that kind (from the polling thread's tick, or the
live view's once-a-second look) and folds the new samples into every open
window; the window's end reads what is left. Each window keeps a cursor per
series (the newest sample it holds), so overlapping windows share one read.

A gap longer than :data:`LOST_GAP_S` between a window's cursor and the oldest
sample a read returns means the buffer overwrote samples in between (no drain
ran in time): the window's figure is then labelled with the span its samples
cover, and the counter-vs-samples comparison is not made.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from nbprofile.meters.nvml.discovery import _POWER, _UTIL, Gpu
from nbprofile.meters.nvml.reads import Sample, _samples

#: how often each kind of sample buffer is read during a long window: well inside the shortest span
#: seen (the H200's 2.4 s of power), and no more often than that needs. A read costs CPU inside the
#: cell's window (on that H200: 0.29 ms for power, 2.1 ms for utilisation, whatever the range asked)
DRAIN_INTERVAL_S: dict[int, float] = {_POWER: 1.0, _UTIL: 5.0}
#: a gap this long before a read's oldest new sample means the buffer overwrote samples
LOST_GAP_S = 2.0


@dataclass(slots=True)
class Series:
    """One kind of sample (power or utilisation) of one device, over one window."""

    cursor_us: int  #: the newest sample folded in (the window's start before any)
    total: float = 0.0
    n: int = 0
    peak: float = 0.0
    lost_us: int = 0  #: time whose samples the buffer overwrote before they were read
    error: str | None = None  #: why the last read failed

    def fold(self, samples: list[Sample]) -> None:
        new = [s for s in samples if s[0] > self.cursor_us]
        if not new:
            return
        gap = new[0][0] - self.cursor_us
        if gap > LOST_GAP_S * 1e6:
            self.lost_us += gap
        for _, value in new:
            self.total += value
            self.peak = value if self.n == 0 else max(self.peak, value)
            self.n += 1
        self.cursor_us = new[-1][0]

    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    def complete(self) -> bool:
        return self.lost_us == 0

    def coverage(self, duration_s: float) -> str | None:
        """The note for a figure whose samples miss part of the window; None when they do not."""
        if self.lost_us == 0:
            return None
        covered = max(0.0, duration_s - self.lost_us / 1e6)
        return (f"covers only {covered:.0f} s of this {duration_s:.0f} s window: the driver keeps only its "
                f"latest samples, and older ones were overwritten before they were read")


@dataclass(slots=True)
class Buffers:
    """One window's series: per device, by kind (only the kinds the device buffers)."""

    series: list[dict[int, Series]]
    closed: bool = False  #: set under the lock at the window's end: no drain folds into it after

    @staticmethod
    def kinds(gpus: list[Gpu]) -> list[list[int]]:
        """The sample kinds each device buffers (worked out once, at probe)."""
        return [[k for k, on in ((_POWER, g.power_samples), (_UTIL, g.util_samples)) if on and not g.mig]
                for g in gpus]

    @classmethod
    def open(cls, kinds: list[list[int]], since_us: int) -> Buffers:
        return cls([{k: Series(since_us) for k in ks} for ks in kinds])


def drain(nvml: Any, gpus: list[Gpu], windows: list[Buffers], lock: threading.Lock,
          kinds: tuple[int, ...] = (_POWER, _UTIL)) -> str | None:
    """Read each buffered series of ``kinds`` once, since the oldest open window's cursor, and fold
    the new samples into every open window. NVML calls run outside the lock. Returns the last error."""
    error = None
    for i, gpu in enumerate(gpus):
        for kind in kinds:
            with lock:
                cursors = [w.series[i][kind].cursor_us for w in windows
                           if not w.closed and i < len(w.series) and kind in w.series[i]]
            if not cursors:
                continue
            try:
                samples = _samples(nvml, gpu.board, kind, min(cursors))
            except nvml.NVMLError as exc:  # kept for the readings' notes: the window's end reads again
                error = f"reading the sample buffer of gpu{gpu.index} failed: {exc}"
                continue
            with lock:
                for w in windows:
                    if not w.closed and i < len(w.series) and kind in w.series[i]:
                        w.series[i][kind].fold(samples)
    return error


def finish(nvml: Any, gpu: Gpu, series: dict[int, Series], kind: int) -> Series | None:
    """The window's last read of one series (the window is closed: no drain touches it now)."""
    found = series.get(kind)
    if found is None:
        return None
    try:
        found.fold(_samples(nvml, gpu.board, kind, found.cursor_us))
    except nvml.NVMLError as exc:
        found.error = f"nvmlDeviceGetSamples failed: {exc}"
    return found
