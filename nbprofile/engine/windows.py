"""Measurement windows over a set of meters: begin them all, end them all, derive.

A :class:`MeterSet` opens a :class:`Window` on every active meter (slow reads
first, the wall clock last) and closes it in the reverse order, then runs the
derivers on what the meters returned. A meter that raises, or that the hang
guard has to interrupt, is switched off for the rest of the run with one
warning; the window notes it, and from then on its readings say why they are
missing. The cell never sees any of it.

A meter that waits for work on purpose (the torch meter waits for the GPU's
queued kernels) has a ``wait_hook`` attribute: the MeterSet sets it to one that moves
the hang guard's deadline for the length of that wait, and back to the usual
:data:`~nbprofile.engine.hang_guard.DEFAULT_TIMEOUT_S` after it, so the rest of
the meter's call is guarded as any other.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from time import perf_counter_ns

from nbprofile.engine.hang_guard import HangGuard, MeterHung
from nbprofile.engine.warn import OnceWarnings
from nbprofile.meters.base import Meter
from nbprofile.metrics import unit_of
from nbprofile.readings import Availability, Deriver, Reading, Readings


@dataclass
class Window:
    """An open measurement window and what it closed with."""

    key: object
    started_at: float  # seconds since the epoch
    began_ns: int  # perf_counter_ns at the start, for live elapsed time
    readings: Readings | None = None
    faults: list[str] = field(default_factory=list)
    overhead_ns: int = 0


class MeterSet:
    """The meters of one profiler, probed once, and the windows opened on them."""

    def __init__(self, meters: Iterable[Meter], warnings: OnceWarnings, guard: HangGuard | None = None) -> None:
        self.meters: list[Meter] = list(meters)
        self.derivers: list[Deriver] = []
        self.availability: dict[str, Availability] = {}
        self.disabled: dict[str, str] = {}  # meter name -> why it was switched off
        self._warnings = warnings
        self.guard = guard or HangGuard()
        for meter in self.meters:
            self.availability[meter.name] = self._probe(meter)
        self._beginning: tuple[Meter, ...] = ()  # the active meters, in begin order
        self._ending: tuple[Meter, ...] = ()  # and in end order
        self._end_order: list[Meter] = []
        self.order_meters()
        for meter in self.meters:
            if hasattr(meter, "wait_hook"):
                setattr(meter, "wait_hook", self._waiting)  # noqa: B010 - not every Meter has one

    def _probe(self, meter: Meter) -> Availability:
        try:
            return meter.probe()
        except Exception as exc:  # a broken probe must not stop the extension loading
            self.disabled[meter.name] = f"probe failed: {type(exc).__name__}: {exc}"
            return Availability(False, self.disabled[meter.name])

    def order_meters(self) -> None:
        """Fix the begin and end order after the meters or their states changed."""
        self._end_order = self.meters[::-1]
        self._beginning = tuple(m for m in self.meters if m.name not in self.disabled)
        self._ending = self._beginning[::-1]

    def _waiting(self, seconds: float | None) -> None:
        """A meter starts (``seconds``: how long it may take) or ends (None) a wait on purpose."""
        if self.guard.active:  # only the main thread's phases are guarded
            self.guard.allow(self.guard.timeout_s if seconds is None else seconds)

    def active(self) -> list[Meter]:
        return [m for m in self.meters if m.name not in self.disabled]

    def find(self, kind: type[Meter]) -> Meter | None:
        """The first meter of a kind, active or not."""
        return next((m for m in self.meters if isinstance(m, kind)), None)

    def measuring(self) -> list[str]:
        """Names of the meters that measure here: active, enabled and available."""
        return [m.name for m in self.active()
                if getattr(m, "enabled", True) and self.availability[m.name].available]

    # -- windows -------------------------------------------------------------
    def open_window(self, key: object) -> Window:
        """Begin every active meter; the wall clock (last in the list) begins last."""
        t0 = perf_counter_ns()
        window = Window(key=key, started_at=time.time(), began_ns=t0)
        guard = self.guard if self.guard.active else None
        if guard is not None:
            guard.arm()
        # The meters are called in the loop itself, here and in close_window: a helper call
        # per meter per edge was a fifth of the hooks' own bookkeeping.
        for meter in self._beginning:
            if guard is not None:
                guard.current = meter.name
            try:
                meter.begin(key)
            except (Exception, KeyboardInterrupt) as exc:
                self._meter_raised(meter, "begin", exc, window, guard)
        if guard is not None:
            self._blame(guard.disarm(), "begin", window)
        window.overhead_ns = perf_counter_ns() - t0
        return window

    def close_window(self, window: Window) -> Readings:
        """End every meter (wall clock first), derive, and keep the readings on the window."""
        if window.readings is not None:
            return window.readings
        t0 = perf_counter_ns()
        key = window.key
        readings: Readings = {}
        guard = self.guard if self.guard.active else None
        if guard is not None:
            guard.arm()
        for meter in self._ending:
            if guard is not None:
                guard.current = meter.name
            try:
                ended = meter.end(key)
            except (Exception, KeyboardInterrupt) as exc:
                self._meter_raised(meter, "end", exc, window, guard)
                continue
            if ended:
                readings.update(ended)
        if guard is not None:
            self._blame(guard.disarm(), "end", window)
        if self.disabled:  # off before this window, or since: its readings say why, never a number
            for meter in self._end_order:
                reason = self.disabled.get(meter.name)
                if reason is not None:
                    self._discard(meter, key)
                    for k in meter.keys:
                        readings[k] = Reading.unavailable(unit_of(k), reason)
        for derive in self.derivers:
            try:
                readings.update(derive(readings))
            except Exception as exc:  # a broken formula must not cost the cell its record
                name = getattr(derive, "__name__", repr(derive))
                window.faults.append(f"{name} failed: {type(exc).__name__}: {exc}")
                self._warnings.warn(f"deriver:{name}", f"{name} failed: {exc!r}")
        window.readings = readings
        window.overhead_ns += perf_counter_ns() - t0
        return readings

    def discard_window(self, window: Window) -> None:
        for meter in self.meters:
            self._discard(meter, window.key)

    # -- faults --------------------------------------------------------------
    def _meter_raised(self, meter: Meter, stage: str, exc: BaseException, window: Window,
                      guard: HangGuard | None) -> None:
        """A meter raised, or the guard interrupted it: it is off from now on and the
        cell never sees it. A Ctrl-C the guard did not send is the user's: it goes on up."""
        if isinstance(exc, KeyboardInterrupt):
            if guard is None or guard.take_fire() is None:
                raise exc
            exc = MeterHung(f"did not answer within {self.guard.timeout_s:g} s and was interrupted")
        self._fault(meter, stage, exc, window)

    def _blame(self, name: str | None, stage: str, window: Window) -> None:
        """A meter finished, but only after the guard's deadline: off for the next cells."""
        meter = next((m for m in self.meters if m.name == name), None)
        if meter is not None and meter.name not in self.disabled:
            self._fault(meter, stage, MeterHung(f"took longer than {self.guard.timeout_s:g} s"), window)

    def _fault(self, meter: Meter, stage: str, exc: BaseException, window: Window) -> None:
        reason = f"{meter.name} meter failed in {stage}: {type(exc).__name__}: {exc}"
        self.disabled[meter.name] = reason
        self.order_meters()
        window.faults.append(reason)
        self._warnings.warn(f"meter:{meter.name}", f"{reason}; it is off for the rest of this run")

    def _discard(self, meter: Meter, key: object) -> None:
        try:
            meter.discard(key)
        except Exception as exc:
            self._warnings.warn(f"discard:{meter.name}", f"{meter.name} meter failed to discard: {exc}")

    def close(self) -> None:
        self.guard.stop()
        for meter in self.meters:
            try:
                meter.close()
            except Exception as exc:
                self._warnings.warn(f"close:{meter.name}", f"{meter.name} meter failed to close: {exc}")
