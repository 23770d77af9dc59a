"""Wall time and process CPU time.

Both read cumulative counters at the window's edges, so they cost a few
microseconds and need no thread: ``perf_counter_ns`` for wall time and
``getrusage`` for CPU time (user + system, all threads of the kernel process
less the work of nbprofile's own threads, :mod:`.own_cpu`; children separately,
and only those already reaped, which is what the kernel exposes without
walking the process tree).
"""

from __future__ import annotations

import resource
from time import perf_counter_ns

from nbprofile.meters.base import Meter
from nbprofile.meters.own_cpu import OwnCpu
from nbprofile.readings import Availability, Reading, Readings

_RUSAGE_SELF = resource.RUSAGE_SELF
_RUSAGE_CHILDREN = resource.RUSAGE_CHILDREN
NOT_COUNTED_APART = "nbprofile's own threads are not counted apart here"


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
    """CPU time of the kernel process (all its threads but nbprofile's own) and of its reaped children.

    ``own_cpu`` is the profiler's count of its own threads' CPU (:mod:`.own_cpu`): the part spent
    inside a window is left out of ``cpu_s`` (and of its user and system parts) and reported as
    ``profiler_cpu_s``. Without one (a meter used on its own) every thread counts.
    """

    name = "cpu"
    keys = ("cpu_s", "cpu_user_s", "cpu_sys_s", "children_cpu_s", "profiler_cpu_s")

    def __init__(self, own_cpu: OwnCpu | None = None) -> None:
        self.own_cpu = own_cpu
        self._starts: dict[object, tuple[float, float, float, float, float]] = {}

    def probe(self) -> Availability:
        return Availability(
            True,
            "getrusage: user + system time of every thread in the kernel but nbprofile's own; "
            "child processes counted once they have exited",
        )

    def begin(self, key: object) -> None:
        own = resource.getrusage(_RUSAGE_SELF)
        children = resource.getrusage(_RUSAGE_CHILDREN)
        ours = self.own_cpu.totals() if self.own_cpu is not None else (0.0, 0.0)
        self._starts[key] = (own.ru_utime, own.ru_stime, children.ru_utime + children.ru_stime, *ours)

    def end(self, key: object) -> Readings:
        own = resource.getrusage(_RUSAGE_SELF)
        children = resource.getrusage(_RUSAGE_CHILDREN)
        ours = self.own_cpu.totals() if self.own_cpu is not None else None
        start = self._starts.pop(key, None)
        if start is None:
            reason = "the window was never opened"
            return {k: Reading.unavailable("s", reason) for k in self.keys}
        our_user, our_system = (0.0, 0.0) if ours is None else (ours[0] - start[3], ours[1] - start[4])
        # getrusage counts whole microseconds: rounding drops the float noise of the
        # subtraction (0.0010359999999999814 -> 0.001036), in records and in exports. A unit of
        # nbprofile's work that began before the window counts whole in it: never below zero
        user = round(max(own.ru_utime - start[0] - our_user, 0.0), 6)
        system = round(max(own.ru_stime - start[1] - our_system, 0.0), 6)
        child = round(children.ru_utime + children.ru_stime - start[2], 6)
        source = "getrusage" if ours is None else "getrusage - nbprofile's threads"
        return {
            "cpu_s": Reading(round(user + system, 6), "s", "measured", source),
            "cpu_user_s": Reading(user, "s", "measured", source),
            "cpu_sys_s": Reading(system, "s", "measured", source),
            "children_cpu_s": Reading(
                child, "s", "measured", "getrusage(children)",
                None if child else "child processes count once they have exited",
            ),
            "profiler_cpu_s": (Reading.unavailable("s", NOT_COUNTED_APART) if ours is None else Reading(
                round(our_user + our_system, 6), "s", "measured", "getrusage(RUSAGE_THREAD)")),
        }

    def discard(self, key: object) -> None:
        self._starts.pop(key, None)
