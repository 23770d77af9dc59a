"""The JSON report: every record of a run, exactly as stored, under a versioned schema."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nbprofile.record import CellRecord
from nbprofile.report.compare import compare_runs, compared_keys
from nbprofile.report.totals import total, total_method

SCHEMA = "nbprofile.report/1"


def report_dict(records: Sequence[CellRecord], run: dict[str, Any], *,
                other: Sequence[CellRecord] | None = None,
                other_run: dict[str, Any] | None = None) -> dict[str, Any]:
    report: dict[str, Any] = {
        "schema": SCHEMA,
        "run": run,
        "totals": {m: total(records, m) for m in compared_keys()},
        # estimated / sampled when any cell's value was; cells < of: the total is a lower bound
        "totals_method": {m: total_method(records, m) for m in compared_keys()},
        "cells": [r.to_json() for r in records],
    }
    if other is not None:
        report["compared_with"] = {"run": other_run, **compare_runs(other, records).to_json()}
    return report


def to_json(records: Sequence[CellRecord], run: dict[str, Any], *,
            other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    # allow_nan=False: a NaN would make the file unreadable to strict parsers; none is stored
    return json.dumps(report_dict(records, run, other=other, other_run=other_run), indent=1, allow_nan=False, ensure_ascii=False)
