"""Judging a cell's readings against budget limits.

A limit is only ever *passed* by a number that was obtained: a reading that is
missing or unavailable makes the limit ``"unmeasurable"`` with the reason, so a
machine without a GPU cannot quietly pass ``vram<=8GiB``. Relative limits
(``+10%``, ``last``, ``baseline``) resolve against readings of an earlier run that
the caller supplies; without one they are unmeasurable too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from nbprofile.budgets.limits import BudgetSpec, Limit
from nbprofile.format import format_value
from nbprofile.metrics import Metric
from nbprofile.readings import Reading

Status = Literal["pass", "fail", "unmeasurable"]
_STATUSES = ("pass", "fail", "unmeasurable")
NOT_MEASURED = "not measured here"


def pair_text(value: float, threshold: float, unit: str) -> tuple[str, str]:
    """Format two numbers so that different ones never print the same."""
    a, b = format_value(value, unit), format_value(threshold, unit)
    if a == b and value != threshold:
        return f"{value:.6g} {unit}", f"{threshold:.6g} {unit}"
    return a, b


def _signed(value: float, unit: str) -> str:
    text = format_value(value, unit)
    return text if text.startswith("-") else f"+{text}"


@dataclass(frozen=True)
class LimitVerdict:
    """One limit judged: ``threshold`` is the resolved limit in base units.

    ``reason`` says why a limit is unmeasurable (the reading's note, or that there
    is no earlier run), or for a relative limit what it was compared with.
    """

    limit: Limit
    status: Status
    value: float | None
    threshold: float | None
    reason: str | None = None

    def describe(self) -> str:
        """One short line: ``time 302 ms > 100 ms``, ``vram not measurable here (no GPU)``."""
        metric = self.limit.metric
        if self.status == "unmeasurable" or self.value is None or self.threshold is None:
            if self.value is None:
                why = "" if self.reason in (None, NOT_MEASURED) else f" ({self.reason})"
                return f"{metric.budget_label} not measurable here{why}"
            shown = format_value(self.value, metric.unit)
            return f"{metric.budget_label} {shown} not checked against {self.limit.text} ({self.reason})"
        op: str = self.limit.op  # pass: the limit held; fail: say how it was broken
        if self.status == "fail":
            op = ">" if self.value > self.threshold else ">="
        a, b = pair_text(self.value, self.threshold, metric.unit)
        text = f"{metric.budget_label} {a} {op} {b}"
        return f"{text} ({self.reason})" if self.limit.relative and self.reason else text

    def shown(self) -> tuple[str | None, str | None]:
        """The value and the limit as every view shows them (the footer, the panel's chips,
        reports): two different numbers never print the same."""
        unit = self.limit.metric.unit
        if self.value is not None and self.threshold is not None:
            return pair_text(self.value, self.threshold, unit)
        return (None if self.value is None else format_value(self.value, unit),
                None if self.threshold is None else format_value(self.threshold, unit))

    def to_json(self, *, shown: bool = False) -> dict[str, Any]:
        """The stored form; ``shown`` adds the texts a view prints (``text``, ``value_text``,
        ``threshold_text``), so that no view formats the numbers again its own way."""
        out = {"limit": self.limit.to_json(), "status": self.status, "value": self.value,
               "threshold": self.threshold, "reason": self.reason}
        if shown:
            value_text, threshold_text = self.shown()
            out.update(text=self.describe(), value_text=value_text, threshold_text=threshold_text)
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> LimitVerdict:
        status = d.get("status")
        if status not in _STATUSES:
            raise ValueError(f"not a stored verdict status: {status!r}")
        return cls(Limit.from_json(d["limit"]), status, d.get("value"), d.get("threshold"),
                   d.get("reason"))


@dataclass(frozen=True)
class Verdict:
    """All limits of one budget judged for one run of a cell."""

    items: tuple[LimitVerdict, ...]
    name: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "items", tuple(self.items))

    @property
    def status(self) -> Status:
        """``fail`` beats ``unmeasurable`` beats ``pass``: unknown is never success."""
        statuses = {item.status for item in self.items}
        if "fail" in statuses:
            return "fail"
        return "unmeasurable" if "unmeasurable" in statuses else "pass"

    @property
    def failed(self) -> tuple[LimitVerdict, ...]:
        return tuple(item for item in self.items if item.status == "fail")

    def passed(self, *, strict: bool = False) -> bool:
        """Whether a caller should treat the budget as met (``strict``: unmeasurable fails)."""
        return self.status == "pass" or (self.status == "unmeasurable" and not strict)

    def to_json(self, *, shown: bool = False) -> dict[str, Any]:
        return {"items": [item.to_json(shown=shown) for item in self.items], "name": self.name,
                "status": self.status}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Verdict:
        return cls(tuple(LimitVerdict.from_json(x) for x in d.get("items", ())), d.get("name"))


def usable_value(readings: Mapping[str, Reading] | None, metric: Metric) -> tuple[float | None, str]:
    """The usable value of a metric's reading, or None and why not."""
    r = None if readings is None else readings.get(metric.key)
    if r is None:
        return None, NOT_MEASURED
    if r.value is None:
        return None, r.note or NOT_MEASURED
    if r.unit != metric.unit:
        return None, f"the reading is in {r.unit}, the limit in {metric.unit}"
    value = float(r.value)
    if not math.isfinite(value):
        return None, "the reading is not a finite number"
    return value, ""


def _resolve(limit: Limit, previous: Mapping[str, Reading] | None,
             baseline: Mapping[str, Reading] | None,
             compared_with: str | None) -> tuple[float | None, str | None]:
    """The absolute threshold of a limit and what it was compared with."""
    if not limit.relative:
        if not math.isfinite(limit.value):  # only a stored limit from an older version can be
            return None, f"the limit {limit.text} is not a finite number; write a finite one"
        return limit.value, None
    metric = limit.metric
    if limit.kind == "last":
        anchor, runs, run_word = "last", previous, "earlier run"
    elif baseline is not None:
        anchor, runs, run_word = "baseline", baseline, "baseline run"
    else:
        anchor, runs, run_word = "last", previous, "earlier run"
    if runs is None:
        return None, f"no {run_word} of this cell to compare with"
    base, note = usable_value(runs, metric)
    if base is None:
        label = metric.budget_label
        return None, f"no {run_word} of this cell with {label} measured to compare with ({note})"
    if limit.percent is not None:
        threshold = base * (1 + limit.percent / 100)
        change = f" {limit.percent:+g}%"
    else:
        threshold = base + limit.value
        change = f" {_signed(limit.value, metric.unit)}" if limit.value else ""
    where = f" in {compared_with}" if compared_with else ""
    if not math.isfinite(threshold):
        # a limit stored before the grammar bounded changes (or absurd readings) can overflow:
        # an infinite limit would pass anything, and JSON cannot hold it
        return None, (f"{anchor}{change} of {format_value(base, metric.unit)}{where} is beyond "
                      "any number; use a fixed limit or a smaller change")
    return threshold, f"{anchor}{change}: {format_value(base, metric.unit)}{where}"


def _judge(limit: Limit, readings: Mapping[str, Reading], previous: Mapping[str, Reading] | None,
           baseline: Mapping[str, Reading] | None, compared_with: str | None) -> LimitVerdict:
    value, note = usable_value(readings, limit.metric)
    threshold, reason = _resolve(limit, previous, baseline, compared_with)
    if value is None:
        return LimitVerdict(limit, "unmeasurable", None, threshold, note)
    if threshold is None:
        return LimitVerdict(limit, "unmeasurable", value, None, reason)
    ok = value <= threshold if limit.op == "<=" else value < threshold
    return LimitVerdict(limit, "pass" if ok else "fail", value, threshold, reason)


def evaluate(spec: BudgetSpec | Sequence[Limit], readings: Mapping[str, Reading], *,
             previous: Mapping[str, Reading] | None = None,
             baseline: Mapping[str, Reading] | None = None,
             compared_with: str | None = None) -> Verdict:
    """Judge ``readings`` against every limit of ``spec``.

    ``previous`` holds the readings of the cell's previous run (for ``last``);
    ``baseline`` those of a pinned baseline run (for ``+N%`` and ``baseline``;
    ``None`` means use ``previous``). ``compared_with`` labels that run in the
    reasons of relative limits, e.g. ``"run 3f2a1c, 12:03"``.
    """
    if isinstance(spec, BudgetSpec):
        limits, name = spec.limits, spec.name
    else:
        limits, name = tuple(spec), None
    return Verdict(tuple(_judge(limit, readings, previous, baseline, compared_with)
                         for limit in limits), name)
