"""Wall time and process CPU time.

Both read cumulative counters at the window's edges, so they cost a few
microseconds and need no thread: ``perf_counter_ns`` for wall time and
``getrusage`` for CPU time (user + system, all threads of the kernel process;
children separately, and only those already reaped, which is what the kernel
exposes without walking the process tree).
"""

from __future__ import annotations

import resource
from time import perf_counter_ns

from nbprofile.meters.base import Meter
from nbprofile.readings import Availability, Reading, Readings

_RUSAGE_SELF = resource.RUSAGE_SELF
_RUSAGE_CHILDREN = resource.RUSAGE_CHILDREN


class WallClock(Meter):
    """Elapsed time between the window's edges (``perf_counter_ns``, 1 ns steps).

    The profiler begins this meter last and ends it first, so the other meters'
    own reads stay outside the measured time.
    """

    name = "wall"
    keys = ("wall_s",)

    def __init__(self) -> None:
        self._starts: dict[object, int] = {}

    def probe(self) -> Availability:
        return Availability(True, "perf_counter_ns, monotonic, 1 ns resolution")

    def begin(self, key: object) -> None:
        self._starts[key] = perf_counter_ns()

    def end(self, key: object) -> Readings:
        now = perf_counter_ns()
        start = self._starts.pop(key, None)
        if start is None:
            return {"wall_s": Reading.unavailable("s", "the window was never opened")}
        return {"wall_s": Reading((now - start) / 1e9, "s", "measured", "perf_counter")}

    def discard(self, key: object) -> None:
        self._starts.pop(key, None)


class CpuClock(Meter):
    """CPU time of the kernel process (all its threads) and of its reaped children."""

    name = "cpu"
    keys = ("cpu_s", "cpu_user_s", "cpu_sys_s", "children_cpu_s")

    def __init__(self) -> None:
        self._starts: dict[object, tuple[float, float, float]] = {}

    def probe(self) -> Availability:
        return Availability(
            True,
            "getrusage: user + system time of every thread in the kernel; "
            "child processes counted once they have exited",
        )

    def begin(self, key: object) -> None:
        own = resource.getrusage(_RUSAGE_SELF)
        children = resource.getrusage(_RUSAGE_CHILDREN)
        self._starts[key] = (own.ru_utime, own.ru_stime, children.ru_utime + children.ru_stime)

    def end(self, key: object) -> Readings:
        own = resource.getrusage(_RUSAGE_SELF)
        children = resource.getrusage(_RUSAGE_CHILDREN)
        start = self._starts.pop(key, None)
        if start is None:
            reason = "the window was never opened"
            return {k: Reading.unavailable("s", reason) for k in self.keys}
        # getrusage counts whole microseconds: rounding drops the float noise of the
        # subtraction (0.0010359999999999814 -> 0.001036), in records and in exports
        user = round(own.ru_utime - start[0], 6)
        system = round(own.ru_stime - start[1], 6)
        child = round(children.ru_utime + children.ru_stime - start[2], 6)
        return {
            "cpu_s": Reading(round(user + system, 6), "s", "measured", "getrusage"),
            "cpu_user_s": Reading(user, "s", "measured", "getrusage"),
            "cpu_sys_s": Reading(system, "s", "measured", "getrusage"),
            "children_cpu_s": Reading(
                child, "s", "measured", "getrusage(children)",
                None if child else "child processes count once they have exited",
            ),
        }

    def discard(self, key: object) -> None:
        self._starts.pop(key, None)
