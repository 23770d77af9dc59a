"""Bound a meter call that hangs (a wedged GPU driver, a stuck sysfs read).

Meters run in the main thread as usual, so a healthy cell pays a few attribute
writes per phase, not a thread hand-off per call. ``arm()`` starts a phase (all
meters' begins, or all their ends) and ``current`` names the meter running; a
parked daemon thread looks every :data:`CHECK_INTERVAL_S`, and once a phase has
run past its deadline it sends SIGINT to the main thread. That interrupts sleeps
and blocking system calls and raises ``KeyboardInterrupt`` inside the meter,
where the profiler catches it (``take_fire()`` tells it apart from the user's own
Ctrl-C) and switches that meter off. A call into C code that never returns and
ignores signals cannot be interrupted from inside the process; it is blamed
when it returns.

A lock makes the decision to interrupt and ``disarm()`` exclusive, so no interrupt
is sent once a phase has ended; one sent just before is absorbed by ``disarm()``.
"""

from __future__ import annotations

import signal
import threading
import time

CHECK_INTERVAL_S = 0.5
DEFAULT_TIMEOUT_S = 2.0


class MeterHung(Exception):
    """A meter call ran past its timeout and was interrupted."""


class HangGuard:
    """One per profiler; only the main thread's phases are guarded."""

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        self.current = ""  # the meter running now, set by the profiler
        self._lock = threading.Lock()
        self._deadline = 0.0  # 0: no phase in progress
        self._phase = 0
        self._fired: int | None = None  # the phase the guard interrupted, until taken
        self._blamed = ""
        self._main = threading.main_thread().ident
        self._thread: threading.Thread | None = None
        self._stopped = False

    @property
    def active(self) -> bool:
        return threading.current_thread() is threading.main_thread()

    def arm(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nbprofile-hang-guard", daemon=True)
            self._thread.start()
        self._phase += 1
        self._deadline = time.monotonic() + self.timeout_s

    def take_fire(self) -> str | None:
        """If the guard interrupted this phase, the meter it blamed (once); else None."""
        with self._lock:
            if self._fired != self._phase:
                return None
            self._fired = None
            self._deadline = time.monotonic() + self.timeout_s  # the next meters get their own time
            return self._blamed

    def disarm(self) -> str | None:
        """End the phase; the meter blamed by an interrupt not yet taken, if any."""
        with self._lock:
            self._deadline = 0.0
            blamed = self._blamed if self._fired == self._phase else None
            self._fired = None
        if blamed is not None:
            try:  # the interrupt is pending: let it surface here, where it is expected
                for _ in range(1000):
                    time.sleep(0)
            except KeyboardInterrupt:
                pass
        return blamed

    def _run(self) -> None:
        while not self._stopped:
            time.sleep(CHECK_INTERVAL_S)
            deadline = self._deadline
            if not deadline or time.monotonic() < deadline:
                continue
            with self._lock:
                if self._deadline and time.monotonic() >= self._deadline and self._fired != self._phase:
                    self._fired = self._phase
                    self._blamed = self.current
                    signal.pthread_kill(self._main, signal.SIGINT)  # type: ignore[arg-type]

    def stop(self) -> None:
        self._stopped = True
