"""A run's figures: the sum of its cells' values, or the largest for peaks, with how they were obtained.

A total is never 0 for want of values: with none it is ``None``. Its method is
"measured" only when every value in it was, and a total over part of the run
says so (``cells`` < ``of``), so that it reads as a lower bound.

A cell whose kernel died (status ``died``) counts with what the journal knew: its
wall time until the kernel was last seen (estimated, so the total is too; it ran at
least that long) and its last RSS high-water mark; its other readings are absent,
so those totals cover the other cells and say so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbprofile.metrics import CATALOG, is_peak
from nbprofile.readings import Reading, weakest
from nbprofile.record import CellRecord


def total(records: Sequence[CellRecord], key: str) -> float | None:
    """The run's figure for a reading key: the cells' sum (the largest, for peaks); ``None``
    when no cell has one (never 0)."""
    values = [v for r in records if (v := r.value(key)) is not None]
    if not values:
        return None
    return max(values) if is_peak(key) else sum(values)


def total_method(records: Sequence[CellRecord], key: str) -> dict[str, Any]:
    """How a run's total of ``key`` was obtained: ``method`` is "measured" only when every
    value in it was (else the least direct of estimated / sampled, or "unavailable" when
    there is none); ``cells`` / ``of`` say how many cells gave a value."""
    methods = [r.readings[key].method for r in records if r.value(key) is not None]
    return {"method": weakest(*methods) if methods else "unavailable", "cells": len(methods), "of": len(records)}


def run_totals(records: Sequence[CellRecord]) -> dict[str, Reading]:
    """The run's totals of every budgeted metric as readings, so that a budget on a whole
    run is judged by the same evaluation as a cell's."""
    out: dict[str, Reading] = {}
    for entry in CATALOG.budget_keys.values():
        key = entry.key
        unit = next((r.readings[key].unit for r in records if key in r.readings), None)
        if unit is None:
            continue
        value = total(records, key)
        if value is None:
            out[key] = Reading.unavailable(unit, "no cell of the run measured it")
        else:
            how = total_method(records, key)
            note = None if how["cells"] == how["of"] else f"{how['cells']} of {how['of']} cells measured it"
            out[key] = Reading(value, unit, how["method"], "sum over the run's cells", note)
    return out
