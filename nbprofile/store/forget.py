"""Deleting runs: their records, their summaries, and the cells' chains that ran through them.

A team keeps a retention (the runs of the last months), and anyone may delete a run that
should not have been kept. Each record points at the same cell's record before it, and
``cell_latest`` at each cell's newest (:mod:`nbprofile.store.lineage`): deleting records
from a chain would cut it, and "the same cell's last run" would stop at the gap. So the
records after the deleted ones, and ``cell_latest``, are pointed past them to the nearest
record kept (or to none).

Finding the records after them reads every record's ``previous_id``: there is no index on
it, which would cost every insert, to serve a deletion now and then. That one scan is a
retention job's cost (a quarter of a second at a million records, one run or a hundred),
never a cell's.

The SQL here is common to SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from nbprofile.store.journal import journal_folder, kernel_writing

#: (sql, params) -> a cursor; and (sql, rows) -> None: the store's, inside its write transaction
Execute = Callable[[str, Sequence[Any]], Any]
ExecuteMany = Callable[[str, Sequence[Sequence[Any]]], None]

_RECORDS_OF = "SELECT id, previous_id FROM cells WHERE run_id = ?"


@dataclass(frozen=True)
class Deleted:
    """What a deletion removed."""

    runs: int
    records: int


def still_written(store_path: str, run_id: str) -> str | None:
    """Why a run must not be deleted now, or None: a kernel of this machine still writes it
    (it holds the run's journal's lock), and its next cells would go under a run no list shows."""
    pid = kernel_writing(journal_folder(store_path), run_id)
    if pid is None:
        return None
    return (f"run {run_id} is still being written by a kernel on this machine (pid {pid}): "
            "shut that kernel down first; nothing deleted")


def nearest_kept(doomed: dict[int, int | None], record_id: int | None) -> int | None:
    """The record a chain reaches from ``record_id`` once the doomed records are skipped:
    ``record_id`` itself when it is kept, else back along the doomed ones' previous ids."""
    while record_id is not None and record_id in doomed:
        record_id = doomed[record_id]
    return record_id


def delete_runs(execute: Execute, executemany: ExecuteMany, run_ids: Sequence[str]) -> Deleted:
    """Delete these runs and their records, in the caller's write transaction."""
    doomed: dict[int, int | None] = {}
    for run_id in run_ids:
        doomed.update(execute(_RECORDS_OF, (run_id,)).fetchall())
    runs = sum(execute("SELECT COUNT(*) FROM runs WHERE run_id = ?", (run_id,)).fetchone()[0]
               for run_id in run_ids)
    if doomed:
        # the doomed ids' range, the rest sorted out here: a run's records are mostly one range
        # of ids, and the same SQL serves both backends
        bounds = (min(doomed), max(doomed))
        after = execute("SELECT id, previous_id FROM cells WHERE previous_id BETWEEN ? AND ?",
                        bounds).fetchall()
        executemany("UPDATE cells SET previous_id = ? WHERE id = ?",
                    [(nearest_kept(doomed, previous), record_id) for record_id, previous in after
                     if previous in doomed and record_id not in doomed])
        latest = execute("SELECT cell_key, id FROM cell_latest WHERE id BETWEEN ? AND ?", bounds).fetchall()
        moved = [(key, nearest_kept(doomed, record_id)) for key, record_id in latest if record_id in doomed]
        executemany("UPDATE cell_latest SET id = ? WHERE cell_key = ?",
                    [(kept, key) for key, kept in moved if kept is not None])
        executemany("DELETE FROM cell_latest WHERE cell_key = ?",
                    [(key,) for key, kept in moved if kept is None])
    for table in ("cells", "run_cells", "runs"):  # run_cells: what older writers may still fill (0008)
        executemany(f"DELETE FROM {table} WHERE run_id = ?", [(run_id,) for run_id in run_ids])
    return Deleted(runs=runs, records=len(doomed))
