"""Exporters of stored runs: JSON and CSV (the numbers), Markdown and HTML (to read).

``export(fmt, records, run)`` returns the file's text; every format carries each
number with its method, so an estimate never passes for a measurement.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

from nbprofile.errors import NbprofileError
from nbprofile.record import CellRecord

Exporter = Callable[[Sequence[CellRecord], dict[str, Any]], str]
FORMATS: dict[str, tuple[str, str]] = {  # format -> (file suffix, media type)
    "json": (".json", "application/json"),
    "csv": (".csv", "text/csv; charset=utf-8"),
}


class ExportError(NbprofileError):
    """A report cannot be produced in the format asked for."""


def exporter(fmt: str) -> Exporter:
    if fmt == "json":
        from nbprofile.report.json_report import to_json

        return to_json
    if fmt == "csv":
        from nbprofile.report.csv_report import to_csv

        return to_csv
    raise ExportError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")


def export(fmt: str, records: Sequence[CellRecord], run: dict[str, Any]) -> str:
    return exporter(fmt)(records, run)
