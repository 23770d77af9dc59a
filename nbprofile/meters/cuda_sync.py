"""Waiting for a GPU's queued work: long waits are measured, a wedged GPU never hangs the notebook.

``torch.cuda.synchronize()`` returns when every kernel queued on a device has
finished: after a cell that queued minutes of work, minutes later. That wait is
the measurement (the cell's GPU time), not a hang, so it must not fall under the
engine's short hang-guard deadline (:mod:`nbprofile.engine.hang_guard`, 2 s).

A synchronise that never returns (a wedged driver, a kernel that never ends)
blocks inside CUDA, where no signal reaches it: run in the main thread it would
hang the notebook for good. So the call runs on one daemon thread of the
meter's, and the main thread waits for it at most ``timeout_s`` (default
:data:`DEFAULT_SYNC_TIMEOUT_S`, ``NBPROFILE_GPU_SYNC_TIMEOUT_S`` to change it).
Past that the window's GPU time is unavailable with the reason, the cell ends as
usual, and while the call is still blocked later windows say so at once instead
of queueing behind it; when it returns, measuring resumes by itself.

Cost: two event hand-offs between threads per synchronisation (tens of µs),
paid only when torch has CUDA up.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable

#: ten minutes: longer than any single cell's queued GPU work we expect, short enough to end a wedge
DEFAULT_SYNC_TIMEOUT_S = 600.0
SYNC_TIMEOUT_ENV = "NBPROFILE_GPU_SYNC_TIMEOUT_S"
STILL_WAITING = ("an earlier torch.cuda.synchronize() has not returned: the GPU has not finished "
                 "queued work (or is wedged)")


def sync_timeout_from_env(environ: dict[str, str] | None = None) -> float:
    """The wait limit from ``NBPROFILE_GPU_SYNC_TIMEOUT_S``, else the default (a bad value is warned of)."""
    text = (os.environ if environ is None else environ).get(SYNC_TIMEOUT_ENV, "").strip()
    if not text:
        return DEFAULT_SYNC_TIMEOUT_S
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value > 0 or value == float("inf"):
        warnings.warn(f"nbprofile: {SYNC_TIMEOUT_ENV}={text!r} is not a positive number of seconds; "
                      f"using {DEFAULT_SYNC_TIMEOUT_S:g}", RuntimeWarning, stacklevel=2)
        return DEFAULT_SYNC_TIMEOUT_S
    return min(value, threading.TIMEOUT_MAX)  # a wait longer than the platform's maximum would raise


class Synchronizer:
    """Runs a blocking GPU wait on its own thread; the caller waits at most ``timeout_s``."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._job: Callable[[], str | None] | None = None
        self._result: str | None = None
        self._go = threading.Event()
        self._done = threading.Event()
        self._done.set()  # nothing in flight
        self._thread: threading.Thread | None = None
        self._stopping = False

    @property
    def busy(self) -> bool:
        """A call handed over earlier has not returned yet."""
        return not self._done.is_set()

    def run(self, job: Callable[[], str | None]) -> str | None:
        """``job()``'s result (an error text, or None), or why there is none within ``timeout_s``."""
        if self.busy:
            return STILL_WAITING
        if self._stopping:
            return "the meter was closed"
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._work, name="nbprofile-cuda-sync", daemon=True)
            self._thread.start()
        self._job = job
        self._done.clear()
        self._go.set()
        if not self._done.wait(self.timeout_s):
            return (f"the GPU had not finished its queued work after {self.timeout_s:g} s "
                    f"(torch.cuda.synchronize() still waiting; {SYNC_TIMEOUT_ENV} sets the limit)")
        return self._result

    def _work(self) -> None:
        while True:
            self._go.wait()
            self._go.clear()
            if self._stopping:
                return
            job, self._job = self._job, None
            try:
                self._result = job() if job is not None else None
            except Exception as exc:  # the wait's failure is the window's reason, never the thread's end
                self._result = f"{type(exc).__name__}: {exc}"
            self._done.set()

    def stop(self) -> None:
        """Let the thread end (at once if idle; after its call returns if one is blocked)."""
        self._stopping = True
        self._go.set()
