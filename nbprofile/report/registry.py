"""The report formats, listed once: the CLI, ``%nbprofile report``, the server and the panel read them here.

Each :class:`ReportFormat` names its file suffix, media type and renderer, and
whether it can hold a comparison of two runs. A name or file suffix that is not
here is an :class:`~nbprofile.errors.ExportError`, never HTML written under a
``.pdf`` name. Every format gets the records with their secrets masked
(:mod:`nbprofile.redact`).
"""

from __future__ import annotations

import importlib
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, cast

from nbprofile.errors import ExportError
from nbprofile.record import CellRecord
from nbprofile.redact import mask_record


class Renderer(Protocol):
    def __call__(self, records: Sequence[CellRecord], run: dict[str, Any], *,
                 other: Sequence[CellRecord] | None = None,
                 other_run: dict[str, Any] | None = None) -> str: ...


@dataclass(frozen=True)
class ReportFormat:
    name: str  #: what ``--format`` takes
    label: str  #: how a menu shows it
    suffixes: tuple[str, ...]  #: file names it is chosen for; the first is the one written
    media_type: str
    compares: bool  #: can hold a comparison of two runs
    #: ``module:function`` of the renderer, imported when a report is made (not at ``%load_ext``)
    renderer: str

    @property
    def suffix(self) -> str:
        return self.suffixes[0]

    def render(self, records: Sequence[CellRecord], run: dict[str, Any], *,
               other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
        """The text of a report of ``records`` (with ``other``: compared with that run)."""
        if other is not None and not self.compares:
            raise ExportError(f"a {self.label} report holds one run: use "
                              f"{', '.join(f.name for f in FORMATS.values() if f.compares)} to compare two")
        module, function = self.renderer.split(":")
        renderer = cast(Renderer, getattr(importlib.import_module(module), function))
        # records are masked when made; these may come from a store an older version wrote
        return renderer([mask_record(r) for r in records], run,
                        other=None if other is None else [mask_record(r) for r in other], other_run=other_run)

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "label": self.label, "suffix": self.suffix,
                "media_type": self.media_type, "compares": self.compares}


#: In menu order; the first is the default.
FORMATS: dict[str, ReportFormat] = {f.name: f for f in (
    ReportFormat("html", "HTML", (".html", ".htm"), "text/html; charset=utf-8", True,
                 "nbprofile.report.html_report:to_html"),
    ReportFormat("md", "Markdown", (".md", ".markdown"), "text/markdown; charset=utf-8", True,
                 "nbprofile.report.markdown_report:to_markdown"),
    ReportFormat("json", "JSON", (".json",), "application/json", True, "nbprofile.report.json_report:to_json"),
    ReportFormat("csv", "CSV", (".csv",), "text/csv; charset=utf-8", False, "nbprofile.report.csv_report:to_csv"),
)}
DEFAULT = "html"
NAMES = tuple(FORMATS)


def get(name: str) -> ReportFormat:
    found = FORMATS.get(name)
    if found is None:
        raise ExportError(f"unknown report format {name!r}: use one of {', '.join(FORMATS)}")
    return found


def for_path(path: str) -> ReportFormat | None:
    """The format a file name asks for by its suffix (``report.md`` → Markdown); None when it
    has no suffix; an ExportError when its suffix is one no format writes."""
    suffix = os.path.splitext(path)[1].lower()
    if not suffix:
        return None
    for fmt in FORMATS.values():
        if suffix in fmt.suffixes:
            return fmt
    known = ", ".join(s for f in FORMATS.values() for s in f.suffixes)
    raise ExportError(f"no report format writes {suffix} files: name the file {known}, or drop the suffix "
                      "and choose a format")


def choose(name: str | None, path: str | None) -> ReportFormat:
    """The format asked for by name, else by the output's suffix, else the default; a name
    and a suffix that disagree are an error rather than a file whose name lies about it."""
    by_path = for_path(path) if path else None
    if name is not None:
        fmt = get(name)
        if by_path is not None and by_path is not fmt:
            raise ExportError(f"--format {name} but the file is named {os.path.basename(path or '')}: "
                              f"use a {fmt.suffix} name, or leave out --format")
        return fmt
    return by_path or FORMATS[DEFAULT]


def export(name: str, records: Sequence[CellRecord], run: dict[str, Any], *,
           other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    """The text of a report of ``records`` (with ``other``: compared with that run)."""
    return get(name).render(records, run, other=other, other_run=other_run)
