"""What a parsed budget is: :class:`Limit` and :class:`BudgetSpec`, as stored with a record.

Parsing text into them is :mod:`nbprofile.budgets.grammar`'s job; judging
readings against them is :mod:`nbprofile.budgets.evaluate`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from nbprofile.metrics import CATALOG, Metric

Op = Literal["<=", "<"]
Kind = Literal["absolute", "percent", "last", "baseline"]
OPS: tuple[Op, ...] = ("<=", "<")
KINDS: tuple[Kind, ...] = ("absolute", "percent", "last", "baseline")


class BudgetSyntaxError(ValueError):
    """A budget that cannot be understood; the message is one line saying why."""


@dataclass(frozen=True)
class Limit:
    """One parsed limit.

    ``value`` is, for ``absolute``, the limit in the key's base unit; for
    ``percent``, the percent change (``10.0``); for ``last``/``baseline``, the
    amount added in base units (``0.0`` if none). ``percent`` is set for
    ``percent`` limits and the ``last+10%``/``baseline+5%`` forms.
    """

    key: str
    op: Op
    kind: Kind
    value: float
    percent: float | None
    text: str

    @property
    def metric(self) -> Metric:
        return CATALOG.budget_keys[self.key]

    @property
    def relative(self) -> bool:
        """True when the limit needs an earlier run to resolve."""
        return self.kind != "absolute"

    def __str__(self) -> str:
        return self.text

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "op": self.op, "kind": self.kind, "value": self.value,
                "percent": self.percent, "text": self.text}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Limit:
        """Rebuild a stored limit, refusing one this version cannot judge."""
        key, op, kind = d.get("key"), d.get("op"), d.get("kind")
        if key not in CATALOG.budget_keys or op not in OPS or kind not in KINDS:
            raise ValueError(f"not a stored limit: {dict(d)!r}")
        pct = d.get("percent")
        return cls(key, op, kind, float(d["value"]), None if pct is None else float(pct),
                   str(d.get("text", "")))


@dataclass(frozen=True)
class BudgetSpec:
    """A parsed budget line: its limits and flags.

    ``enforce`` asks the caller to raise when the budget fails; ``strict`` asks it
    to treat a limit it could not measure as a failure; ``projected`` (with ``enforce``,
    from ``--enforce=projected``) to stop the cell as soon as its progress bar projects a
    limit will break, rather than when it breaks.
    """

    limits: tuple[Limit, ...]
    enforce: bool = False
    strict: bool = False
    name: str | None = None
    projected: bool = False

    def __post_init__(self) -> None:
        object.__setattr__(self, "limits", tuple(self.limits))

    def to_json(self) -> dict[str, Any]:
        return {"limits": [lim.to_json() for lim in self.limits], "enforce": self.enforce,
                "strict": self.strict, "name": self.name, "projected": self.projected}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> BudgetSpec:
        return cls(tuple(Limit.from_json(x) for x in d.get("limits", ())),
                   bool(d.get("enforce", False)), bool(d.get("strict", False)), d.get("name"),
                   bool(d.get("projected", False)))
