"""The store's reads, written once for both backends (SQLite and PostgreSQL).

A backend supplies :meth:`StoreQueries._query` (run one ``SELECT`` with ``?`` placeholders under
its own lock or session, and decode the rows there) and :meth:`StoreQueries._record` (a cell row
into a record); the SQL here is what both dialects accept.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from nbprofile.record import CellRecord
from nbprofile.store.codec import CELL_COLUMNS
from nbprofile.store.lineage import PREVIOUS, lineage_key
from nbprofile.store.summary import RUN_COLUMNS, run_from_row

T = TypeVar("T")
_ALL = "1 = 1"


class StoreQueries:
    """Records and runs read back: the panel's, the CLI's, the reports' and the judge's queries."""

    #: a notebook's runs, a missing notebook (NULL) matching too: the one phrase the dialects
    #: spell differently (SQLite before 3.39 has no ``IS NOT DISTINCT FROM``)
    _notebook_is = "notebook IS NOT DISTINCT FROM ?"

    def _query(self, sql: str, params: Sequence[Any], decode: Callable[[list[Any]], T]) -> T:
        """Run a read (``?`` placeholders) and ``decode`` its rows: each backend's own connection."""
        raise NotImplementedError

    def _record(self, row: Sequence[Any]) -> CellRecord:
        """A record from a ``SELECT id, CELL_COLUMNS`` row: each backend's own column types."""
        raise NotImplementedError

    def _select(self, where: str, params: Sequence[Any], order: str, limit: int | None) -> list[CellRecord]:
        sql = f"SELECT id, {CELL_COLUMNS} FROM cells WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        return self._query(sql, params, lambda rows: [self._record(row) for row in rows])

    def records(self, run_id: str) -> list[CellRecord]:
        """Every record of a run, in execution order."""
        return self._select("run_id = ?", (run_id,), "seq, id", None)

    def history(self, notebook: str | None, limit: int = 20, run_id: str | None = None) -> list[CellRecord]:
        """The latest ``limit`` records of a notebook (or of a run), oldest first."""
        if notebook is not None:
            return self._notebook_history(notebook, limit)
        if run_id is not None:
            rows = self._select("run_id = ?", (run_id,), "id DESC", limit)
        else:
            rows = self._select(_ALL, (), "id DESC", limit)
        return rows[::-1]

    def _notebook_history(self, notebook: str, limit: int) -> list[CellRecord]:
        """The latest records of a notebook by when they started, without reading all its runs'
        cells (a notebook run a hundred times has 50,000): its runs by their last cell, newest
        first (the run summaries), each run's newest records, until ``limit`` are found and no
        run left ended after the oldest of them started."""
        runs = self._query(f"SELECT run_id, last_cell_at FROM runs WHERE {self._notebook_is}"
                           " AND last_cell_at IS NOT NULL ORDER BY last_cell_at DESC", (notebook,), list)
        found: list[CellRecord] = []
        for run_id, last_cell_at in runs:
            if len(found) >= limit and last_cell_at < found[limit - 1].started_at:
                break
            found += self._select("run_id = ?", (run_id,), "id DESC", limit)
            found.sort(key=lambda r: (r.started_at, r.id or 0), reverse=True)
            del found[limit:]
        return found[::-1]

    def previous(self, cell_id: str | None, code_hash: str, notebook: str | None,
                 before_id: int | None = None) -> CellRecord | None:
        """The latest earlier record of the same cell.

        A cell with an id is matched by its id alone (a copied cell has the same
        code but is another cell); a cell without one (terminal IPython, old
        notebooks) by its code, within the same notebook: :mod:`nbprofile.store.lineage`.
        """
        bound = before_id if before_id is not None else 2**62
        key = lineage_key(cell_id, code_hash, notebook)
        found = self._query(PREVIOUS, (key, bound, bound), lambda rows: [self._record(row) for row in rows])
        return found[0] if found else None

    def find_in_run(self, run_id: str, cell_id: str | None, cell_hash: str) -> CellRecord | None:
        """The last record of a cell in a given run (a pinned baseline): by id, else by code."""
        if cell_id is not None:
            found = self._select("run_id = ? AND cell_id = ?", (run_id, cell_id), "id DESC", 1)
        else:
            found = self._select("run_id = ? AND code_hash = ?", (run_id, cell_hash), "id DESC", 1)
        return found[0] if found else None

    # A run is a kernel session: a cell may execute in it several times. ``cells`` counts the
    # distinct cells (by id, else by code: as compare matches them), ``executions`` every record,
    # and ``wall_s`` adds up every execution: what the session really spent. Each run keeps these
    # up to date as its records arrive (nbprofile.store.summary): listing runs reads no cell.
    def _runs(self, where: str, params: Sequence[Any], limit: int,
              user: str | None = None) -> list[dict[str, Any]]:
        if user is not None:
            where, params = f"({where}) AND username = ?", (*params, user)
        sql = f"SELECT {RUN_COLUMNS} FROM runs WHERE {where} ORDER BY started_at DESC LIMIT ?"
        return self._query(sql, (*params, limit), lambda rows: [
            run_from_row(row, json.loads(row[5]) if row[5] else {}) for row in rows])

    def runs(self, notebook: str | None = None, limit: int = 50,
             user: str | None = None) -> list[dict[str, Any]]:
        """Runs, newest first (of one user, or everyone's), with their distinct cells,
        executions, the wall time of all executions and their budget failures."""
        if notebook is None:
            return self._runs(_ALL, (), limit, user)
        return self._runs("notebook = ?", (notebook,), limit, user)

    def runs_of(self, notebook: str, kernel_ids: set[str] | frozenset[str] = frozenset(),
                limit: int = 200, user: str | None = None) -> list[dict[str, Any]]:
        """Runs of a notebook: those that named it, and those of the kernels now serving it
        (a kernel keeps the name its notebook had when it started)."""
        kernels = sorted(kernel_ids)
        marks = ",".join("?" * len(kernels))
        where = f"notebook = ? OR kernel_id IN ({marks})" if kernels else "notebook = ?"
        return self._runs(where, (notebook, *kernels), limit, user)

    def runs_before(self, started_before: float, notebook: str | None = None,
                    user: str | None = None) -> list[dict[str, Any]]:
        """Every run that started before this time (epoch seconds), newest first: what a
        retention deletes."""
        if notebook is None:
            return self._runs("started_at < ?", (started_before,), 2**62, user)
        return self._runs("started_at < ? AND notebook = ?", (started_before, notebook), 2**62, user)

    def run(self, run_id: str) -> dict[str, Any] | None:
        found = self._runs("run_id = ?", (run_id,), 1)
        return found[0] if found else None

    def run_ids(self, notebook: str | None = None) -> list[str]:
        return [run["run_id"] for run in self.runs(notebook, limit=10**9)]
