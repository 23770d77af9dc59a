"""The CPU nbprofile's own threads spend, kept apart from the cells' CPU time.

``getrusage(RUSAGE_SELF)`` counts every thread of the kernel, nbprofile's too: the NVML
poller's drains (on an H200, 0.7 ms of CPU a second per GPU), the hot-spot sampler, the
writer that moves records into the store, the OOM guard and the live view it drives, the RSS
sampler where the peak cannot be read exactly, the RAPL counters' wrap watcher. Each of
those threads wraps each turn of its work in :func:`counted`, which adds what that thread
spent on it (``getrusage(RUSAGE_THREAD)``: user and system time apart; where there is none,
``thread_time`` as user time). The CPU meter leaves the part spent inside a window out of the
cell's ``cpu_s`` and reports it as ``profiler_cpu_s``.

A unit is counted when it ends: one that straddles a window's edge counts whole on the side
where it ended, an error of at most one unit (a drain: 2.4 ms on an H200; a sample of the main
thread's stack: tens of µs).
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext

_RUSAGE_THREAD: int | None = getattr(resource, "RUSAGE_THREAD", None)  # Linux


def thread_cpu() -> tuple[float, float]:
    """(user, system) seconds the calling thread has run."""
    if _RUSAGE_THREAD is None:
        return time.thread_time(), 0.0
    usage = resource.getrusage(_RUSAGE_THREAD)
    return usage.ru_utime, usage.ru_stime


class OwnCpu:
    """One per profiler: the user and system seconds its threads' work has taken, in all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._user = 0.0
        self._system = 0.0

    @contextmanager
    def spent(self) -> Iterator[None]:
        """Count the calling thread's CPU over the ``with`` block as nbprofile's own."""
        user0, system0 = thread_cpu()
        try:
            yield
        finally:
            user1, system1 = thread_cpu()
            with self._lock:
                self._user += user1 - user0
                self._system += system1 - system0

    def totals(self) -> tuple[float, float]:
        """(user, system) seconds counted so far."""
        with self._lock:
            return self._user, self._system


def counted(own: OwnCpu | None) -> AbstractContextManager[None]:
    """Count the ``with`` block's CPU in ``own``; nothing where there is none (a part used alone)."""
    return own.spent() if own is not None else nullcontext()
