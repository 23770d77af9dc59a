"""A run's summary, kept up to date as its records arrive, so that listing runs reads no cell.

Listing runs used to join and group every cell of every run (~800 ms at a million
records). Each run row now carries its distinct cells, executions, the wall time of
all executions, its budget failures and its last cell's start. A batch of rows adds to
these with one statement per run, whatever its size.

A run's distinct cells (by id, else by code: as compare matches them) are counted by the
store object that writes the run (:class:`RunCells`): a row per cell in a table of every
run's cells cost PostgreSQL a third of its write time, for a number. What it knows of a
run is checked against the run's executions, read with the run's row locked: a run
another writer added to since is read again from its cells.

The SQL here is common to SQLite and PostgreSQL (``?`` placeholders; the PostgreSQL
store turns them into its own).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

#: the columns of a cell row (:func:`nbprofile.store.codec.cell_row`) the summary reads
_RUN, _CELL_ID, _CODE, _STARTED, _WALL, _VERDICT = 0, 3, 5, 7, 10, 16

RUN_COLUMNS = ("run_id, notebook, kernel_id, host, started_at, info, username, cell_count, executions,"
               " wall_s, budget_failures, last_cell_at")

#: a cell's key within its run, in SQL (:func:`cell_key`)
_KEY_SQL = "COALESCE(cell_id, 'code:' || code_hash)"
#: the distinct cells of a run, from its cells
KEYS_OF = f"SELECT DISTINCT {_KEY_SQL} FROM cells WHERE run_id = ?"
#: each run's executions, as the summary holds them (PostgreSQL adds ``FOR UPDATE``)
EXECUTIONS = "SELECT run_id, executions FROM runs WHERE run_id IN ({})"
ADD = (
    "UPDATE runs SET executions = executions + ?,"
    " wall_s = CASE WHEN ? = 1 THEN COALESCE(wall_s, 0) + ? ELSE wall_s END,"
    " budget_failures = budget_failures + ?,"
    " last_cell_at = CASE WHEN last_cell_at IS NULL OR last_cell_at < ? THEN ? ELSE last_cell_at END,"
    " cell_count = cell_count + ?"
    " WHERE run_id = ?"
)
#: a run row written after some of its cells (a record saved with no run): summed from its cells
RECOUNT = (
    "UPDATE runs SET (executions, wall_s, budget_failures, last_cell_at, cell_count) = (SELECT COUNT(*),"
    " SUM(wall_s), COALESCE(SUM(CASE WHEN verdict_status = 'fail' THEN 1 ELSE 0 END), 0), MAX(started_at),"
    f" COUNT(DISTINCT {_KEY_SQL}) FROM cells WHERE run_id = ?) WHERE run_id = ?"
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
    return out


def batch_cells(heads: Iterable[Sequence[Any]]) -> dict[str, tuple[int, set[str]]]:
    """Per run, a batch's executions and distinct cells, from each row's (run id, cell id,
    code hash): known before the rest of its rows is made."""
    out: dict[str, tuple[int, set[str]]] = {}
    for run_id, cell_id, code in heads:
        found = out.get(run_id)
        keys = found[1] if found is not None else set()
        keys.add(cell_key(cell_id, code))
        out[run_id] = ((found[0] if found is not None else 0) + 1, keys)
    return out


def row_heads(rows: Sequence[Sequence[Any]]) -> Iterator[tuple[Any, Any, Any]]:
    """(run id, cell id, code hash) of cell rows."""
    return ((row[_RUN], row[_CELL_ID], row[_CODE]) for row in rows)


class RunCells:
    """The distinct cells of the runs a store object has written lately, each with the run's
    executions it reflects: what a batch's cells add to their runs' ``cell_count``."""

    #: runs kept (a kernel writes one at a time; a server recovering journals, a few)
    KEEP = 64

    def __init__(self) -> None:
        self._known: OrderedDict[str, tuple[int, set[str]]] = OrderedDict()

    def forget(self) -> None:
        """After a rolled-back transaction, which may have added to what is known."""
        self._known.clear()

    def new_cells(self, batch: dict[str, tuple[int, set[str]]], executions: dict[str, int],
                  keys_of: Callable[[str], set[str]]) -> dict[str, int]:
        """How many cells each run's batch (:func:`batch_cells`) adds; asked before the batch
        is stored. ``executions``: each run's, read in this transaction with its row locked (a
        run with no row yet is counted when it comes: :data:`RECOUNT`); ``keys_of``: a run's
        distinct cells, from its stored cells."""
        added: dict[str, int] = {}
        for run_id, (count, batch_keys) in batch.items():
            stored = executions.get(run_id)
            if stored is None:
                added[run_id] = 0
                continue
            known = self._known.pop(run_id, None)
            keys = known[1] if known is not None and known[0] == stored else keys_of(run_id)
            new = batch_keys - keys
            keys |= new
            added[run_id] = len(new)
            self._known[run_id] = (stored + count, keys)
        while len(self._known) > self.KEEP:
            self._known.popitem(last=False)
        return added


def add_rows(changes: dict[str, Delta], added: dict[str, int]) -> list[tuple[Any, ...]]:
    return [(d.executions, int(d.has_wall), d.wall, d.failures, d.last, d.last, added[run_id], run_id)
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


def recount(execute: Any, run_id: str) -> None:
    """Sum a run's summary from the cells already stored (a run row that is new here)."""
    execute(RECOUNT, (run_id, run_id))
