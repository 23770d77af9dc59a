"""Exporters of stored runs: JSON and CSV (the numbers), Markdown and HTML (to read).

``export(fmt, records, run)`` returns the file's text; every format carries each
number with its method, so an estimate never passes for a measurement. With
``other``, the report also compares the run with another one.
"""

from __future__ import annotations

from typing import Any, Sequence

from nbprofile.errors import ExportError
from nbprofile.record import CellRecord

FORMATS: dict[str, tuple[str, str]] = {  # format -> (file suffix, media type)
    "html": (".html", "text/html; charset=utf-8"),
    "md": (".md", "text/markdown; charset=utf-8"),
    "json": (".json", "application/json"),
    "csv": (".csv", "text/csv; charset=utf-8"),
}


def export(fmt: str, records: Sequence[CellRecord], run: dict[str, Any], *,
           other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    if fmt == "html":
        from nbprofile.report.html_report import to_html

        return to_html(records, run, other=other, other_run=other_run)
    if fmt == "md":
        from nbprofile.report.markdown_report import to_markdown

        return to_markdown(records, run, other=other, other_run=other_run)
    if fmt == "json":
        from nbprofile.report.json_report import to_json

        return to_json(records, run, other=other, other_run=other_run)
    if fmt == "csv":
        if other is not None:
            raise ExportError("a CSV report holds one run: use --format md, html or json to compare two")
        from nbprofile.report.csv_report import to_csv

        return to_csv(records, run)
    raise ExportError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")


def format_for(path: str) -> str | None:
    """The format a file name asks for (``report.md`` → ``md``), if any."""
    for fmt, (suffix, _) in FORMATS.items():
        if path.lower().endswith(suffix) or (fmt == "md" and path.lower().endswith(".markdown")):
            return fmt
    return None
