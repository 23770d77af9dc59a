"""Naming runs: a run id, or ``latest`` / ``previous`` (of a notebook, when one is given)."""

from __future__ import annotations

from typing import Any

from nbprofile.errors import NbprofileError
from nbprofile.store.base import RecordStore

ALIASES = {"latest": 0, "previous": 1}


def resolve_run(store: RecordStore, ref: str, notebook: str | None = None) -> dict[str, Any]:
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


def latest_pair(store: RecordStore, a: str, b: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """Two runs named by aliases (``previous`` / ``latest``) with no notebook given: the
    runs of one notebook, the one run most recently, never two notebooks."""
    recent = store.runs(None, limit=200)
    same = [r for r in recent if r["notebook"] == recent[0]["notebook"]] if recent else []
    if len(same) < 2:
        raise NbprofileError(f"the latest run's notebook has no earlier run in {store.path} to compare with; "
                             "name two runs (`nbprofile runs` lists them)")
    return same[ALIASES[a]], same[ALIASES[b]]
