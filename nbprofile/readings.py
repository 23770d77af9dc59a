"""What every number nbprofile keeps is: a :class:`Reading` that says how it was obtained.

A meter measures one source over keyed windows and returns readings; derivers
combine readings into others (total energy, CO2e, dollars). A quantity that
could not be obtained is a reading whose value is ``None`` and whose method is
``"unavailable"``, with the reason: never a zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

Method = Literal["measured", "sampled", "estimated", "unavailable"]
METHODS: tuple[Method, ...] = ("measured", "sampled", "estimated", "unavailable")
_RANK = {m: i for i, m in enumerate(METHODS)}  # measured < sampled < estimated < unavailable
#: the unit of a count of things (tasks, workers), here so that the catalog and the formatters,
#: which may not import each other, name it once
COUNT = "count"


def weakest(*methods: Method) -> Method:
    """The least certain of some methods (measured > sampled > estimated)."""
    return max(methods, key=_RANK.__getitem__)


class Reading(NamedTuple):
    """One quantity from one window.

    ``unit`` is the base unit of ``value`` (``s``, ``B``, ``J``, ``g``, ``USD``,
    ``tokens``); reading keys carry it too (``wall_s``, ``rss_peak_bytes``), and
    :mod:`nbprofile.metrics` describes each key. ``source`` names the mechanism
    (``perf_counter``, ``getrusage``, ``clear_refs+VmHWM``); ``note`` explains an
    estimate or an absence.

    A NamedTuple rather than a frozen dataclass: every cell builds about ten of
    them, and a tuple is built four times faster.
    """

    value: float | None
    unit: str
    method: Method
    source: str = ""
    note: str | None = None

    @classmethod
    def unavailable(cls, unit: str, reason: str, source: str = "") -> Reading:
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
    def from_json(cls, data: list[Any] | Mapping[str, Any]) -> Reading:
        if isinstance(data, Mapping):
            return cls(data.get("value"), data["unit"], data["method"],
                       data.get("source", ""), data.get("note"))
        return cls(*data)


Readings = dict[str, Reading]

#: Turns readings into readings that combine several of them (total energy, CO2e,
#: dollars). Pure; called after every window closes, in order.
Deriver = Callable[[Readings], Readings]


@dataclass(frozen=True, slots=True)
class Availability:
    """What a meter found when it probed this machine at load time."""

    available: bool
    detail: str
    fix: str | None = None
