"""The meter contract: keyed measurement windows that return labelled readings.

A meter measures one source (a clock, the kernel's memory counters, a GPU). The
profiler opens a window with ``begin(key)`` when a cell starts and closes it with
``end(key)`` when the cell ends; windows are keyed so that a ``measure()`` block
inside a cell can run its own window at the same time as the cell's.

Every number leaves a meter as a :class:`Reading` that says how it was obtained.
A quantity a meter cannot obtain is a reading whose value is ``None`` and whose
method is ``"unavailable"``, with the reason: never a zero.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any, Literal, Mapping, NamedTuple

Method = Literal["measured", "sampled", "estimated", "unavailable"]
METHODS: tuple[Method, ...] = ("measured", "sampled", "estimated", "unavailable")
_RANK = {m: i for i, m in enumerate(METHODS)}  # measured < sampled < estimated < unavailable


def weakest(*methods: Method) -> Method:
    """The least certain of some methods (measured > sampled > estimated)."""
    return max(methods, key=_RANK.__getitem__)


class Reading(NamedTuple):
    """One quantity from one window.

    ``unit`` is the base unit of ``value`` (``s``, ``B``, ``J``, ``g``, ``USD``,
    ``tokens``); reading keys carry it too (``wall_s``, ``rss_peak_bytes``).
    ``source`` names the mechanism (``perf_counter``, ``getrusage``,
    ``clear_refs+VmHWM``); ``note`` explains an estimate or an absence.

    A NamedTuple rather than a frozen dataclass: every cell builds about ten of
    them, and a tuple is built four times faster.
    """

    value: float | None
    unit: str
    method: Method
    source: str = ""
    note: str | None = None

    @classmethod
    def unavailable(cls, unit: str, reason: str, source: str = "") -> "Reading":
        return cls(None, unit, "unavailable", source, reason)

    @property
    def available(self) -> bool:
        return self.value is not None

    def to_json(self) -> list[Any]:
        # A compact positional form: records hold dozens of readings and are
        # written once per cell, so the shorter the cheaper.
        if self.note is None:
            return [self.value, self.unit, self.method, self.source]
        return list(self)

    @classmethod
    def from_json(cls, data: list[Any] | Mapping[str, Any]) -> "Reading":
        if isinstance(data, Mapping):
            return cls(data.get("value"), data["unit"], data["method"],
                       data.get("source", ""), data.get("note"))
        return cls(*data)


Readings = dict[str, Reading]


@dataclass(frozen=True, slots=True)
class Availability:
    """What a meter found when it probed this machine at load time."""

    available: bool
    detail: str
    fix: str | None = None


class Meter(ABC):
    """A source of readings over keyed windows.

    ``probe()`` runs once, when the profiler loads; ``begin``/``end`` run at every
    cell boundary and must be cheap (microseconds). A meter may hold state per
    key between ``begin`` and ``end``. ``end`` of a key that was never begun (or
    was abandoned) returns readings that say so rather than raising.
    """

    #: short, stable name shown by ``%nbprofile status`` and in fault notes
    name: str = "meter"
    #: the reading keys this meter produces, in display order
    keys: tuple[str, ...] = ()

    @abstractmethod
    def probe(self) -> Availability:
        """Check once whether this meter can measure here, and how."""

    @abstractmethod
    def begin(self, key: object) -> None:
        """Open a window."""

    @abstractmethod
    def end(self, key: object) -> Readings:
        """Close a window and return its readings."""

    def discard(self, key: object) -> None:
        """Forget a window without reading it (the cell never ran)."""

    def close(self) -> None:
        """Release what the meter holds (file descriptors, threads)."""
