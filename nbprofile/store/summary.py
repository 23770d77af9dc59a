"""A run's summary, kept up to date as its records arrive, so that listing runs reads no cell.

Listing runs used to join and group every cell of every run (~800 ms at a million
records). Each run row now carries its distinct cells, executions, the wall time of
all executions, its budget failures and its last cell's start, and ``run_cells``
holds the distinct cells of each run (by id, else by code: as compare matches them).
A batch of rows adds to these once per run (two statements), whatever its size.

The SQL here is common to SQLite and PostgreSQL (``?`` placeholders; the PostgreSQL
store turns them into its own).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: the columns of a cell row (:func:`nbprofile.store.codec.cell_row`) the summary reads
_RUN, _CELL_ID, _CODE, _STARTED, _WALL, _VERDICT = 0, 3, 5, 7, 10, 16

RUN_COLUMNS = ("run_id, notebook, kernel_id, host, started_at, info, username, cell_count, executions,"
               " wall_s, budget_failures, last_cell_at")

ADD_KEY = "INSERT INTO run_cells (run_id, cell_key) VALUES (?, ?) ON CONFLICT DO NOTHING"
ADD = (
    "UPDATE runs SET executions = executions + ?,"
    " wall_s = CASE WHEN ? = 1 THEN COALESCE(wall_s, 0) + ? ELSE wall_s END,"
    " budget_failures = budget_failures + ?,"
    " last_cell_at = CASE WHEN last_cell_at IS NULL OR last_cell_at < ? THEN ? ELSE last_cell_at END,"
    " cell_count = (SELECT COUNT(*) FROM run_cells WHERE run_id = ?)"
    " WHERE run_id = ?"
)
#: a run row written after some of its cells (a record saved with no run): summed from its cells
RECOUNT_KEYS = (
    "INSERT INTO run_cells (run_id, cell_key) SELECT run_id, COALESCE(cell_id, 'code:' || code_hash)"
    " FROM cells WHERE run_id = ? ON CONFLICT DO NOTHING"
)
RECOUNT = (
    "UPDATE runs SET (executions, wall_s, budget_failures, last_cell_at) = (SELECT COUNT(*), SUM(wall_s),"
    " COALESCE(SUM(CASE WHEN verdict_status = 'fail' THEN 1 ELSE 0 END), 0), MAX(started_at)"
    " FROM cells WHERE run_id = ?), cell_count = (SELECT COUNT(*) FROM run_cells WHERE run_id = ?)"
    " WHERE run_id = ?"
)
#: a verdict replaced (a CI gate's budget file): the run's failures follow
VERDICT_OF = "SELECT run_id, verdict_status FROM cells WHERE id = ?"
ADD_FAILURES = "UPDATE runs SET budget_failures = budget_failures + ? WHERE run_id = ?"


@dataclass
class Delta:
    """What a batch adds to one run's summary."""

    executions: int = 0
    wall: float = 0.0
    has_wall: bool = False
    failures: int = 0
    last: float | None = None
    keys: set[str] = field(default_factory=set)


def cell_key(cell_id: str | None, code: str) -> str:
    return cell_id if cell_id is not None else "code:" + code


def deltas(rows: Sequence[Sequence[Any]]) -> dict[str, Delta]:
    """Per run, what these cell rows add."""
    out: dict[str, Delta] = {}
    for row in rows:
        d = out.get(row[_RUN])
        if d is None:
            d = out[row[_RUN]] = Delta()
        d.executions += 1
        wall = row[_WALL]
        if wall is not None:
            d.wall += wall
            d.has_wall = True
        if row[_VERDICT] == "fail":
            d.failures += 1
        started = row[_STARTED]
        if d.last is None or started > d.last:
            d.last = started
        d.keys.add(cell_key(row[_CELL_ID], row[_CODE]))
    return out


def key_rows(changes: dict[str, Delta]) -> list[tuple[str, str]]:
    return [(run_id, key) for run_id, d in changes.items() for key in d.keys]


def add_rows(changes: dict[str, Delta]) -> list[tuple[Any, ...]]:
    return [(d.executions, int(d.has_wall), d.wall, d.failures, d.last, d.last, run_id, run_id)
            for run_id, d in changes.items()]


def failures_change(old: str | None, new: str | None) -> int:
    return (new == "fail") - (old == "fail")


def run_from_row(row: Sequence[Any], info: dict[str, Any]) -> dict[str, Any]:
    """A run as :class:`~nbprofile.store.base.RecordStore` gives it, from a row of :data:`RUN_COLUMNS`."""
    return {
        "run_id": row[0], "notebook": row[1], "kernel_id": row[2], "host": row[3],
        "started_at": row[4], "info": info, "user": row[6] or info.get("user") or None,
        "cells": row[7], "executions": row[8], "wall_s": row[9], "budget_failures": row[10] or 0,
        "last_cell_at": row[11],
    }


def add_batch(executemany: Any, rows: Sequence[Sequence[Any]]) -> None:
    """Add cell rows (just inserted, same transaction) to their runs' summaries."""
    if not rows:
        return
    changes = deltas(rows)
    executemany(ADD_KEY, key_rows(changes))
    executemany(ADD, add_rows(changes))


def recount(execute: Any, run_id: str) -> None:
    """Sum a run's summary from the cells already stored (a run row that is new here)."""
    execute(RECOUNT_KEYS, (run_id,))
    execute(RECOUNT, (run_id, run_id, run_id))
