"""The meter contract: keyed measurement windows that return labelled readings.

A meter measures one source (a clock, the kernel's memory counters, a GPU). The
engine opens a window with ``begin(key)`` when a cell starts and closes it with
``end(key)`` when the cell ends; windows are keyed so that a ``measure()`` block
inside a cell can run its own window at the same time as the cell's.

Every number leaves a meter as a :class:`~nbprofile.readings.Reading` that says
how it was obtained; a quantity a meter cannot obtain is an unavailable reading
with the reason, never a zero.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

from nbprofile.meters.own_cpu import OwnCpu
from nbprofile.readings import Availability, Readings


class Meter(ABC):
    """A source of readings over keyed windows.

    ``probe()`` runs once, when the profiler loads; ``begin``/``end`` run at every
    cell boundary and must be cheap (microseconds). A meter may hold state per
    key between ``begin`` and ``end``. ``end`` of a key that was never begun (or
    was abandoned) returns readings that say so rather than raising.
    """

    #: short, stable name shown by ``%nbprofile status`` and in fault notes
    name: str = "meter"
    #: the reading keys this meter produces, in display order (each one in :mod:`nbprofile.metrics`)
    keys: tuple[str, ...] = ()
    #: the profiler's count of its own threads' CPU (:mod:`.own_cpu`), set by the profiler: a meter
    #: whose thread works while cells run counts that work in it, and the CPU meter leaves it out
    own_cpu: OwnCpu | None = None

    @abstractmethod
    def probe(self) -> Availability:
        """Check once whether this meter can measure here, and how."""

    @abstractmethod
    def begin(self, key: object) -> None:
        """Open a window."""

    @abstractmethod
    def end(self, key: object) -> Readings:
        """Close a window and return its readings."""

    def so_far(self, key: object) -> Readings:
        """What the open window ``key`` has measured until now, for a running cell's live numbers
        and projection: called from another thread, about once a second, so only cheap reads.
        ``{}`` (the default) when this meter cannot say before the window closes."""
        return {}

    def discard(self, key: object) -> None:
        """Forget a window without reading it (the cell never ran)."""

    def close(self) -> None:
        """Release what the meter holds (file descriptors, threads)."""
