"""Session budgets: running totals of a kernel's cells against absolute limits.

``%nbprofile budget energy<=100Wh cost<=$5`` sets one; each cell's readings are
added, a limit warns once at 80% and reports every breach while over.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from nbprofile.budgets.evaluate import pair_text, usable_value
from nbprofile.budgets.limits import BudgetSyntaxError, Limit
from nbprofile.format import counted
from nbprofile.readings import Reading


@dataclass(frozen=True)
class SessionEvent:
    """A session total that came near (``warning``) or went over (``breach``) a limit."""

    limit: Limit
    kind: Literal["warning", "breach"]
    total: float
    threshold: float

    def describe(self) -> str:
        metric = self.limit.metric
        total, threshold = pair_text(self.total, self.threshold, metric.unit)
        if self.kind == "breach":
            op = ">" if self.total > self.threshold else ">="
            return f"session budget exceeded: {metric.budget_label} {total} {op} {threshold}"
        pct = self.total / self.threshold * 100 if self.threshold else math.inf
        return f"session {metric.budget_label} at {pct:.0f}% of {threshold} ({total})"


class SessionBudget:
    """Running totals of a kernel session checked against absolute limits.

    Each cell's readings are added with :meth:`add`. A limit warns once when its
    total first reaches ``warn_fraction`` of it, and reports a breach on every add
    while the total is over it, so a user who carries on keeps being told.
    ``totals`` is keyed by reading key (``energy_j``), in base units; cells whose
    reading was unavailable add nothing and are counted in ``missing``.
    """

    def __init__(self, limits: Sequence[Limit], warn_fraction: float = 0.8) -> None:
        for limit in limits:
            if limit.relative:
                raise BudgetSyntaxError(
                    f"{limit.text}: a session budget takes fixed limits only (e.g. "
                    f"{limit.key}<=... with a unit), not +N%, last or baseline")
        if not 0 < warn_fraction <= 1:
            raise ValueError(f"warn_fraction must be in (0, 1], not {warn_fraction!r}")
        self.limits: tuple[Limit, ...] = tuple(limits)
        self.warn_fraction = warn_fraction
        self._metrics = {limit.metric.key: limit.metric for limit in self.limits}
        self.totals: dict[str, float] = {key: 0.0 for key in self._metrics}
        self.missing: dict[str, int] = {key: 0 for key in self._metrics}
        self._warned: set[int] = set()

    def add(self, readings: Mapping[str, Reading]) -> list[SessionEvent]:
        """Add one cell's readings; return the warnings and breaches this causes."""
        for key, metric in self._metrics.items():
            value, _ = usable_value(readings, metric)
            if value is None:
                self.missing[key] += 1
            else:
                self.totals[key] += value
        events = []
        for i, limit in enumerate(self.limits):
            total = self.totals[limit.metric.key]
            over = total > limit.value if limit.op == "<=" else total >= limit.value
            if over:
                self._warned.add(i)  # a breach supersedes the warning
                events.append(SessionEvent(limit, "breach", total, limit.value))
            elif i not in self._warned and total > 0 and total >= self.warn_fraction * limit.value:
                self._warned.add(i)
                events.append(SessionEvent(limit, "warning", total, limit.value))
        return events

    def status_lines(self) -> list[str]:
        """One line per limit: total, limit, share used, cells not measured."""
        lines = []
        for limit in self.limits:
            metric = limit.metric
            total = self.totals[metric.key]
            shown, threshold = pair_text(total, limit.value, metric.unit)
            share = f"{total / limit.value * 100:.0f}%" if limit.value else "-"
            over = total > limit.value if limit.op == "<=" else total >= limit.value
            line = f"{metric.budget_label} {shown} of {threshold} ({share})"
            if over:
                line += ", exceeded"
            missing = self.missing[metric.key]
            if missing:
                line += f"; {counted(missing, 'cell')} not measured"
            lines.append(line)
        return lines
