"""The CSV report: one row per cell, a value column and a method column per reading.

Values are written with ``repr`` precision so that reading the file back gives
the stored numbers exactly; an unavailable reading is an empty value with
method ``unavailable`` (never 0).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from typing import Any

from nbprofile.record import CellRecord
from nbprofile.report.died import died_summary, is_died

#: ``died_summary``: the one-line account of a cell whose kernel died (status ``died``), else empty
FIXED = ("run_id", "seq", "notebook", "cell_id", "execution_count", "code_hash", "started_at",
         "status", "error_type", "died_summary", "name", "verdict_status", "overhead_s", "source")


def reading_keys(records: Sequence[CellRecord]) -> list[str]:
    keys: list[str] = []
    for record in records:
        for key in record.readings:
            if key not in keys:
                keys.append(key)
    return keys


def to_csv(records: Sequence[CellRecord], run: dict[str, Any], *,
           other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    keys = reading_keys(records)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*FIXED, *(c for k in keys for c in (k, f"{k}.method"))])
    for r in records:
        fixed = [r.run_id, r.seq, r.notebook or "", r.cell_id or "",
                 "" if r.execution_count is None else r.execution_count, r.code_hash,
                 r.started_iso, r.status, r.error_type or "", died_summary(r) if is_died(r) else "", r.name or "",
                 r.verdict_status or "", repr(r.overhead_s), r.source]
        values: list[Any] = []
        for key in keys:
            reading = r.readings.get(key)
            if reading is None:
                values += ["", ""]
            else:
                values += ["" if reading.value is None else repr(reading.value), reading.method]
        writer.writerow([*fixed, *values])
    return out.getvalue()
