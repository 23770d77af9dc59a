"""Bound a meter call that hangs (a wedged GPU driver, a stuck sysfs read).

Meters run in the main thread as usual, so a healthy cell pays a few attribute
writes per phase, not a thread hand-off per call. ``arm()`` starts a phase (all
meters' begins, or all their ends) and ``current`` names the meter running; the
guard's watcher thread looks every :data:`CHECK_INTERVAL_S`, and once a phase has
run past its deadline it interrupts the main thread (:mod:`nbprofile.engine.interrupt`).
That raises ``KeyboardInterrupt`` inside the meter, where the engine catches it
(``take_fire()`` tells it apart from the user's own Ctrl-C) and switches that
meter off. A call into C code that never returns and ignores signals cannot be
interrupted from inside the process; it is blamed when it returns.

Some meters wait for work on purpose: the torch meter's ``torch.cuda.synchronize()``
waits for the kernels a cell left queued, which can take minutes. Such a meter
keeps its own, longer limit on that wait, and tells the engine when the wait
starts and ends (its ``wait_hook``); the engine moves the deadline with
:meth:`HangGuard.allow` for the wait alone, so the rest of the meter's call, and
the meters after it, get the usual :data:`DEFAULT_TIMEOUT_S`.
"""

from __future__ import annotations

import threading
import time

from nbprofile.engine.interrupt import Watcher, absorb_pending_interrupt

CHECK_INTERVAL_S = 0.5
DEFAULT_TIMEOUT_S = 2.0


class MeterHung(Exception):
    """A meter call ran past its timeout and was interrupted."""


class HangGuard(Watcher):
    """One per profiler; only the main thread's phases are guarded."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        super().__init__("nbprofile-hang-guard", CHECK_INTERVAL_S)
        self.timeout_s = timeout_s
        self.current = ""  # the meter running now, set by the engine
        self._deadline = 0.0  # 0: no phase in progress
        self._phase = 0
        self._fired: int | None = None  # the phase the guard interrupted, until taken
        self._blamed = ""

    @property
    def active(self) -> bool:
        return threading.current_thread() is threading.main_thread()

    def arm(self) -> None:
        self.start()
        self._phase += 1
        self._deadline = time.monotonic() + self.timeout_s

    def look(self) -> bool:
        if not self._deadline or time.monotonic() < self._deadline or self._fired == self._phase:
            return False
        self._fired = self._phase
        self._blamed = self.current
        return True

    def allow(self, seconds: float) -> None:
        """From now, the running phase may go on ``seconds`` more (a meter that waits on purpose,
        or the meters after it getting their own time again)."""
        with self.lock:
            if self._deadline:
                self._deadline = time.monotonic() + seconds

    @property
    def sent_interrupt(self) -> bool:
        """True from the moment the guard decides to interrupt a phase until that is taken:
        a SIGINT arriving then is the guard's, not the user's."""
        return self._fired is not None and self._fired == self._phase

    def take_fire(self) -> str | None:
        """If the guard interrupted this phase, the meter it blamed (once); else None."""
        with self.lock:
            if self._fired != self._phase:
                return None
            self._fired = None
            self._deadline = time.monotonic() + self.timeout_s  # the next meters get their own time
            return self._blamed

    def disarm(self) -> str | None:
        """End the phase; the meter blamed by an interrupt not yet taken, if any."""
        with self.lock:
            self._deadline = 0.0
            blamed = self._blamed if self._fired == self._phase else None
            self._fired = None
        if blamed is not None:
            absorb_pending_interrupt()  # the interrupt is pending: let it surface here, where it is expected
        return blamed
