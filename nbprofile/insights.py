"""What a record says about the inside of its cell, beyond its readings: where the time went.

Pure data and its words, shared by the engine that finds them (:mod:`nbprofile.engine.hotspots`)
and the footer, tables, reports and panel that show them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class HotSpot:
    """One function by share of the sampled time.

    ``self_share``: samples with it the innermost user function (what ranks); ``total_share``:
    samples with it anywhere on the stack, counted once a sample (recursion included).
    ``where`` is its most sampled line; ``cell_line`` the cell line most often on the way there.
    """

    function: str
    where: str
    self_share: float
    total_share: float
    cell_line: int | None

    def to_json(self) -> list[Any]:
        return [self.function, self.where, round(self.self_share, 4), round(self.total_share, 4),
                self.cell_line]

    @classmethod
    def from_json(cls, d: list[Any]) -> HotSpot:
        function, where, self_share, total_share, cell_line = d
        return cls(str(function), str(where), float(self_share), float(total_share),
                   None if cell_line is None else int(cell_line))


@dataclass(frozen=True)
class HotSpots:
    """The top functions of one cell: ``samples`` taken every ``interval_s`` over ``covered_s``."""

    samples: int
    interval_s: float
    covered_s: float
    entries: tuple[HotSpot, ...]

    def to_json(self) -> dict[str, Any]:
        """Compact, for the record: ``{"n", "dt", "s", "top": [[function, where, self, total, line]]}``."""
        return {"n": self.samples, "dt": self.interval_s, "s": round(self.covered_s, 3),
                "top": [e.to_json() for e in self.entries]}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> HotSpots:
        return cls(int(d["n"]), float(d["dt"]), float(d["s"]),
                   tuple(HotSpot.from_json(e) for e in d["top"]))


def describe(entry: HotSpot) -> str:
    """``62 % train.py:forward ← cell line 14`` (the arrow part only when a cell line is known)."""
    text = f"{round(entry.self_share * 100)} % {entry.function}"
    return text if entry.cell_line is None else f"{text} ← cell line {entry.cell_line}"
