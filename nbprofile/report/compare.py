"""Compare two runs of a notebook, cell by cell.

Cells are matched by their cell id, else by their code (terminal IPython, old
notebooks). A cell run several times in one run counts with its last execution,
which is what the notebook shows. nbprofile's own magic cells (``%nbprofile report``,
``%load_ext nbprofile``) are left out by default: their time is nbprofile's, not the
notebook's, and a slower ``%nbprofile doctor`` is no regression of the user's code.
A regression is per metric: a row says which metrics got worse and by how much.
Pure: the server, the CLI and the reports use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nbprofile.format import format_percent, format_value
from nbprofile.metrics import CATALOG, REGRESSION_FRACTION, label_of, metric, unit_of
from nbprofile.record import DIED, CellRecord
from nbprofile.report.totals import total, total_method


def compared_keys() -> tuple[str, ...]:
    """The reading keys compared by default: the catalog's, in its order."""
    return tuple(m.key for m in CATALOG.compared)


#: the line magics that drive nbprofile itself (see :func:`is_own_magic`)
_OWN_MAGICS = ("%nbprofile", "%load_ext nbprofile", "%unload_ext nbprofile", "%reload_ext nbprofile")


def is_own_magic(source: str) -> bool:
    """Whether a cell is one of nbprofile's own magic cells (``%nbprofile history``,
    ``%load_ext nbprofile``, ...): what it costs is nbprofile's, not the notebook's.

    The one rule for this; compare and history both ask it."""
    text = source.strip()
    # the magic's name must end where the word does: `%nbprofile_x` or `%load_ext nbprofile2` is not ours
    return any(text == m or text.startswith((m + " ", m + "\n", m + "\t")) for m in _OWN_MAGICS)


def match_key(record: CellRecord) -> str:
    return record.cell_id if record.cell_id else f"code:{record.code_hash}"


@dataclass
class Delta:
    abs: float | None
    pct: float | None  # a fraction: 0.1 = +10%

    def to_json(self) -> dict[str, float | None]:
        return {"abs": self.abs, "pct": self.pct}


def delta(a: float | None, b: float | None) -> Delta:
    if a is None or b is None:
        return Delta(None, None)
    return Delta(b - a, (b - a) / a if a else None)


@dataclass(frozen=True)
class Regression:
    """One metric of one cell that got worse by more than the rule allows (:func:`is_regression`)."""

    metric: str
    a: float
    b: float
    pct: float

    def describe(self) -> str:
        """``CPU +32% (0.41 s → 0.54 s)``: which metric, by how much, from what to what."""
        unit = unit_of(self.metric)
        return (f"{label_of(self.metric)} {format_percent(self.pct, signed=True)} "
                f"({format_value(self.a, unit)} → {format_value(self.b, unit)})")

    def to_json(self) -> dict[str, Any]:
        return {"metric": self.metric, "label": label_of(self.metric), "a": self.a, "b": self.b,
                "pct": self.pct, "text": self.describe()}


@dataclass
class CellComparison:
    key: str
    cell_id: str | None
    source: str
    a: dict[str, float | None]
    b: dict[str, float | None]
    delta: dict[str, Delta]
    #: the metrics that regressed, in the catalog's order; empty when none did
    regressions: list[Regression] = field(default_factory=list)
    #: how each value was obtained (measured / sampled / estimated); None where there is none
    method_a: dict[str, str | None] = field(default_factory=dict)
    method_b: dict[str, str | None] = field(default_factory=dict)
    #: the record's status in each run (ok, error, interrupted, died); None where the cell did not run
    status_a: str | None = None
    status_b: str | None = None

    @property
    def regression(self) -> bool:
        return bool(self.regressions)

    def regression_text(self) -> str:
        """``CPU +32% (0.41 s → 0.54 s); peak RAM +50% (…)``, or "" when nothing regressed."""
        return "; ".join(r.describe() for r in self.regressions)

    @property
    def died(self) -> str | None:
        """Which run's kernel died in this cell: "A", "B", "both", or None."""
        a, b = self.status_a == DIED, self.status_b == DIED
        return "both" if a and b else "A" if a else "B" if b else None

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key, "cell_id": self.cell_id, "source": self.source,
            "a": self.a, "b": self.b, "method_a": self.method_a, "method_b": self.method_b,
            "delta": {k: d.to_json() for k, d in self.delta.items()},
            "regression": self.regression, "regressions": [r.to_json() for r in self.regressions],
            "status_a": self.status_a, "status_b": self.status_b, "died": self.died,
        }


@dataclass
class Comparison:
    metrics: tuple[str, ...]
    cells: list[CellComparison] = field(default_factory=list)
    totals_a: dict[str, float | None] = field(default_factory=dict)
    totals_b: dict[str, float | None] = field(default_factory=dict)
    totals_method_a: dict[str, dict[str, Any]] = field(default_factory=dict)  # see total_method
    totals_method_b: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: how many of nbprofile's own magic cells were left out (:func:`is_own_magic`)
    left_out: int = 0

    @property
    def regressions(self) -> list[CellComparison]:
        return [c for c in self.cells if c.regression]

    def totals_delta(self) -> dict[str, Delta]:
        return {m: delta(self.totals_a[m], self.totals_b[m]) for m in self.metrics}

    def to_json(self) -> dict[str, Any]:
        return {
            "metrics": list(self.metrics),
            "cells": [c.to_json() for c in self.cells], "left_out": self.left_out,
            "totals": {
                "a": self.totals_a, "b": self.totals_b,
                "method_a": self.totals_method_a, "method_b": self.totals_method_b,
                "delta": {k: d.to_json() for k, d in self.totals_delta().items()},
            },
        }


def _last_per_cell(records: Sequence[CellRecord]) -> dict[str, CellRecord]:
    latest: dict[str, CellRecord] = {}
    for record in records:
        latest[match_key(record)] = record  # later executions replace earlier ones
    return latest


def _values(record: CellRecord | None, metrics: Sequence[str]) -> dict[str, float | None]:
    return {m: (record.value(m) if record is not None else None) for m in metrics}


def _methods(record: CellRecord | None, metrics: Sequence[str]) -> dict[str, str | None]:
    if record is None:
        return {m: None for m in metrics}
    return {m: (r.method if (r := record.readings.get(m)) is not None and r.value is not None else None)
            for m in metrics}


def is_regression(key: str, d: Delta) -> bool:
    """More than +10% *and* more than the metric's floor (so that a 2 ms cell taking 3 ms is not one)."""
    if d.abs is None or d.pct is None:
        return False
    found = metric(key)
    floor = found.regression_floor if found is not None and found.regression_floor is not None else 0.0
    return d.pct > REGRESSION_FRACTION and d.abs > floor


def regressions_of(values_a: dict[str, float | None], values_b: dict[str, float | None],
                   deltas: dict[str, Delta]) -> list[Regression]:
    """The metrics of one cell that regressed; a metric that improved never is one."""
    found = []
    for key, d in deltas.items():
        a, b = values_a.get(key), values_b.get(key)
        if is_regression(key, d) and a is not None and b is not None and d.pct is not None:
            found.append(Regression(key, a, b, d.pct))
    return found


def compare_runs(a: Sequence[CellRecord], b: Sequence[CellRecord],
                 metrics: Sequence[str] | None = None, *, own_cells: bool = False) -> Comparison:
    """Per-cell deltas from run ``a`` to run ``b``, in ``b``'s order, then cells only in ``a``.

    Without ``own_cells``, nbprofile's own magic cells are left out of the rows, the
    regressions and the totals (:attr:`Comparison.left_out` counts them)."""
    metrics = compared_keys() if metrics is None else tuple(metrics)
    in_a, in_b = _last_per_cell(a), _last_per_cell(b)
    left_out = 0
    if not own_cells:
        own = {k for k, r in (*in_a.items(), *in_b.items()) if is_own_magic(r.source)}
        left_out = len(own)
        in_a = {k: r for k, r in in_a.items() if k not in own}
        in_b = {k: r for k, r in in_b.items() if k not in own}
    order = list(in_b) + [key for key in in_a if key not in in_b]
    comparison = Comparison(metrics, left_out=left_out)
    for key in order:
        ra, rb = in_a.get(key), in_b.get(key)
        va, vb = _values(ra, metrics), _values(rb, metrics)
        # A died cell's few numbers stop where its kernel was last seen: set against a finished
        # run of the cell they would read as an improvement or a regression that never happened.
        died = any(r is not None and r.status == DIED for r in (ra, rb))
        deltas = {m: Delta(None, None) if died else delta(va[m], vb[m]) for m in metrics}
        shown = rb or ra
        assert shown is not None
        comparison.cells.append(CellComparison(
            key=key, cell_id=shown.cell_id, source=shown.source, a=va, b=vb, delta=deltas,
            regressions=regressions_of(va, vb, deltas),
            method_a=_methods(ra, metrics), method_b=_methods(rb, metrics),
            status_a=ra.status if ra is not None else None, status_b=rb.status if rb is not None else None,
        ))
    last_a, last_b = list(in_a.values()), list(in_b.values())
    comparison.totals_a = {m: total(last_a, m) for m in metrics}
    comparison.totals_b = {m: total(last_b, m) for m in metrics}
    comparison.totals_method_a = {m: total_method(last_a, m) for m in metrics}
    comparison.totals_method_b = {m: total_method(last_b, m) for m in metrics}
    return comparison
