"""Naming runs: a run id, or ``latest`` / ``previous`` (of a notebook, when one is given)."""

from __future__ import annotations

from typing import Any

from nbprofile.errors import NbprofileError
from nbprofile.store import SQLiteStore

ALIASES = {"latest": 0, "previous": 1}


def resolve_run(store: SQLiteStore, ref: str, notebook: str | None = None) -> dict[str, Any]:
    """The run ``ref`` names; a clear error says how to list the runs when none matches."""
    where = f" of {notebook}" if notebook else ""
    if ref in ALIASES:
        runs = store.runs(notebook, limit=ALIASES[ref] + 1)
        if len(runs) <= ALIASES[ref]:
            raise NbprofileError(f"no {ref} run{where} in {store.path}; `nbprofile runs` lists the runs")
        return runs[ALIASES[ref]]
    run = store.run(ref)
    if run is None:
        raise NbprofileError(f"no run {ref!r} in {store.path}; `nbprofile runs` lists the runs")
    return run


def write_report(store: SQLiteStore, fmt: str | None, output: str | None, run_ref: str = "latest",
                 compare: tuple[str, str] | None = None, notebook: str | None = None) -> tuple[str, str]:
    """Export a run (or ``compare = (A, B)``: B compared with A) to ``output``, or to
    ``nbprofile-<run>.<format>`` in the current folder; return (path, format)."""
    from nbprofile.report import FORMATS, export, format_for

    if compare is not None:
        other, run = resolve_run(store, compare[0], notebook), resolve_run(store, compare[1], notebook)
    else:
        other, run = None, resolve_run(store, run_ref, notebook)
    fmt = fmt or (format_for(output) if output else None) or "html"
    if fmt not in FORMATS:
        raise NbprofileError(f"unknown report format {fmt!r}: use one of {', '.join(FORMATS)}")
    path = output or f"nbprofile-{run['run_id']}{FORMATS[fmt][0]}"
    text = export(fmt, store.records(run["run_id"]), run,
                  other=store.records(other["run_id"]) if other else None, other_run=other)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path, fmt
