"""The JSON report: every record of a run, exactly as stored, under a versioned schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nbprofile.record import CellRecord, finite
from nbprofile.report.compare import compare_runs, compared_keys
from nbprofile.report.died import record_json
from nbprofile.report.totals import total, total_method

SCHEMA = "nbprofile.report/1"


def dumps(value: Any, **options: Any) -> str:
    """``json.dumps`` of :func:`finite` ``(value)``: always valid JSON, never ``Infinity``."""
    return json.dumps(finite(value), allow_nan=False, **options)


def report_dict(records: Sequence[CellRecord], run: dict[str, Any], *,
                other: Sequence[CellRecord] | None = None,
                other_run: dict[str, Any] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run": run,
        "totals": {m: total(records, m) for m in compared_keys()},
        # estimated / sampled when any cell's value was; cells < of: the total is a lower bound
        "totals_method": {m: total_method(records, m) for m in compared_keys()},
        "cells": [record_json(r) for r in records],  # as stored, plus a died cell's summary
    }
    if other is not None:
        report["compared_with"] = {"run": other_run, **compare_runs(other, records).to_json()}
    return report


def to_json(records: Sequence[CellRecord], run: dict[str, Any], *,
            other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    # non-finite numbers (older stores hold some) become null: a NaN or Infinity token would make
    # the file unreadable to strict parsers
    return dumps(report_dict(records, run, other=other, other_run=other_run), indent=1, ensure_ascii=False)
