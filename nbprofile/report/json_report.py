"""The JSON report: every record of a run, exactly as stored, under a versioned schema."""

from __future__ import annotations

import json
from typing import Any, Sequence

from nbprofile.compare import METRICS, total
from nbprofile.record import CellRecord

SCHEMA = "nbprofile.report/1"


def report_dict(records: Sequence[CellRecord], run: dict[str, Any]) -> dict[str, Any]:
    return {
        "schema": SCHEMA,
        "run": run,
        "totals": {m: total(records, m) for m in METRICS},
        "cells": [r.to_json() for r in records],
    }


def to_json(records: Sequence[CellRecord], run: dict[str, Any]) -> str:
    # allow_nan=False: a NaN would make the file unreadable to strict parsers; none is stored
    return json.dumps(report_dict(records, run), indent=1, allow_nan=False, ensure_ascii=False)
