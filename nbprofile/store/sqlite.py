"""The default record store: one SQLite file per user.

Several kernels and the Jupyter server use the file at once, so it runs in WAL
mode (readers never block the writer) with a busy timeout for writers. Commits
use ``synchronous=NORMAL``: a committed record survives the kernel being killed
(it is in the WAL, handed to the OS) though not a power cut in the following
moments, and a commit costs ~20 µs instead of an fsync.

The fsync comes at the checkpoint, when the WAL is copied back into the file:
a thread does it, off the cells' path (:mod:`nbprofile.store.checkpoint`). The
schema changes only through named migrations (:mod:`nbprofile.store.migrations`);
rows are laid out by :mod:`nbprofile.store.codec`.
"""

from __future__ import annotations

import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from nbprofile.errors import StoreError
from nbprofile.record import CellRecord, RunInfo
from nbprofile.store.base import DB_ENV, default_path
from nbprofile.store.checkpoint import BUSY_TIMEOUT_MS, Checkpointer
from nbprofile.store.codec import CELL_COLUMNS, INSERT_CELL, Meta, cell_row, record_from_row, run_row
from nbprofile.store.ingest import JournalTransaction, recover_orphans
from nbprofile.store.journal import journal_folder
from nbprofile.store.migrations import apply_migrations
from nbprofile.store.sqlite_file import FileWatch, is_damage, set_aside


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so), waiting out other kernels doing the same.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers
    "database is locked" at once rather than calling the busy handler when another
    connection is opening the same new file; so the switch is retried here for as
    long as a write would wait. A file already in WAL mode takes no lock at all.
    """
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(random.uniform(0.002, 0.02))  # jitter: openers don't retry in step


_RUNS_OF_NOTEBOOK = "SELECT run_id FROM runs WHERE notebook IS ?"
#: a journal's run line comes again when the run learns more (its GPUs, carbon settings)
_UPSERT_RUN = (
    "INSERT INTO runs (run_id, notebook, kernel_id, host, started_at, info) VALUES (?,?,?,?,?,?)"
    " ON CONFLICT (run_id) DO UPDATE SET info = excluded.info"
)
#: how often a store looks for the journals of kernels that are gone
RECOVER_EVERY_S = 2.0


def _log_notice(message: str) -> None:
    logging.getLogger("nbprofile").warning("nbprofile: %s", message)


class _Transaction:
    """A journal batch's view of the store, inside its transaction (the lock held)."""

    def __init__(self, store: SQLiteStore, name: str, row: tuple[int, str | None] | None) -> None:
        self._store = store
        self._name = name
        self.offset = int(row[0]) if row else 0
        self.state: dict[str, Any] = json.loads(row[1]) if row and row[1] else {}
        self.runs: list[str] = []

    def write(self, runs: Sequence[RunInfo], records: Sequence[CellRecord], offset: int,
              state: dict[str, Any]) -> None:
        store = self._store
        for run in runs:
            store._execute(_UPSERT_RUN, run_row(run))
            self.runs.append(run.run_id)
        if records:
            rows = [cell_row(record, store._meta_id) for record in records]
            store._executemany(INSERT_CELL, rows)
        store._execute("INSERT OR REPLACE INTO journal_offsets (name, position, state) VALUES (?,?,?)",
                       (self._name, offset, json.dumps(state, separators=(",", ":"))))
        self.offset = offset
        self.state = state
_INSERT_RUN = (
    "INSERT OR IGNORE INTO runs (run_id, notebook, kernel_id, host, started_at, info)"
    " VALUES (?,?,?,?,?,?)"
)


class SQLiteStore:
    """The default :class:`RecordStore`.

    One connection per store object, used from one thread at a time (a lock
    guards it, since a ``measure()`` block may run on a worker thread).

    Before it works, the store checks that its file is still the one it opened
    (:mod:`nbprofile.store.sqlite_file`): a deleted or replaced file is reopened,
    a damaged one set aside and a new one started, each said once through
    ``notice``. And every few seconds it recovers the journals of kernels that are
    gone (:mod:`nbprofile.store.ingest`), so that whoever reads next (a kernel,
    the server, the CLI) finds their records, and a record for a cell a kernel
    died in.
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 tracer: Callable[[str, Sequence[Any]], None] | None = None,
                 notice: Callable[[str], None] | None = None, recover: bool = True,
                 repair: bool = True) -> None:
        self.path = str(path if path is not None else default_path())
        self._tracer = tracer
        self._notice = notice if notice is not None else _log_notice
        self._lock = threading.Lock()
        self._written_runs: set[str] = set()
        # What a reading is (unit, method, source, note) repeats from cell to cell: it is
        # stored once in reading_meta, and a record's readings keep [value, id].
        self._meta_ids: dict[Meta, int] = {}
        self._meta_by_id: dict[int, Meta] = {}
        self._checkpointer: Checkpointer | None = None
        self._commits = 0
        self._uri = self.path.startswith("file:")  # e.g. file:records.db?mode=ro
        self._on_disk = self.path != ":memory:" and not self._uri
        self._writable = not self.path.endswith("mode=ro")
        self._watch: FileWatch | None = None
        self._recover = recover and self._writable
        self._recovered_at = -RECOVER_EVERY_S
        self.journal_folder = journal_folder(self.path)
        try:
            self._connect()
        except (sqlite3.Error, OSError) as exc:
            if not (repair and self._on_disk and isinstance(exc, sqlite3.DatabaseError) and is_damage(exc)):
                raise StoreError(
                    f"cannot open the record store {self.path}: {exc}; "
                    f"set {DB_ENV} to a writable file"
                ) from exc
            self._start_again("damaged")
        self.recover_journals()

    def _connect(self) -> None:
        if self._on_disk:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=BUSY_TIMEOUT_MS / 1000, uri=self._uri)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self._writable:
                _use_wal(self._conn)
                self._conn.execute("PRAGMA synchronous = NORMAL")
                apply_migrations(self._conn)
                if self._on_disk:
                    self._checkpointer = Checkpointer(self.path)
        except BaseException:
            self._conn.close()
            raise
        self._watch = FileWatch(self.path) if self._on_disk else None
        self._written_runs.clear()
        self._meta_ids.clear()
        self._meta_by_id.clear()

    # -- the file ------------------------------------------------------------
    def _tend(self) -> None:
        """Check the file is still ours (reopen or start again if not), then, every
        :data:`RECOVER_EVERY_S`, recover the journals of kernels that are gone."""
        if self._watch is not None:
            with self._lock:
                state = self._watch.check()
                if state.changed:
                    self._start_again(state.kind)
        if self._recover and time.monotonic() - self._recovered_at >= RECOVER_EVERY_S:
            self.recover_journals()

    def _start_again(self, kind: str) -> None:
        """The file was deleted, replaced or damaged: work on what is (or will be) there now."""
        if getattr(self, "_conn", None) is not None:
            if self._checkpointer is not None:
                self._checkpointer.stop()
                self._checkpointer = None
            self._conn.close()
        where = self.path
        if kind == "damaged":
            where = set_aside(self.path)
            message = (f"the record store {self.path} is damaged (not a SQLite database); it was "
                       f"moved to {where} and a new store started; records still in kernels' "
                       "journals are written to the new one")
        elif kind == "deleted":
            message = (f"the record store {self.path} was deleted while in use; a new one was "
                       "started, and records still in kernels' journals are written to it")
        else:
            message = f"the record store {self.path} was replaced by another file; using that file now"
        try:
            self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the record store {self.path} again: {exc}; "
                             f"set {DB_ENV} to a writable file") from exc
        self._notice(message)

    def _damaged_now(self, exc: sqlite3.Error) -> bool:
        """A statement found the file damaged: set it aside and start again (True) or not."""
        if not (self._on_disk and is_damage(exc)):
            return False
        self._start_again("damaged")
        return True

    def recover_journals(self) -> int:
        """Write into this store what the journals of gone kernels hold; return how many records."""
        self._recovered_at = time.monotonic()
        if not self._recover:
            return 0
        return recover_orphans(self, self.journal_folder)

    # -- journals ------------------------------------------------------------
    @contextmanager
    def journal_transaction(self, name: str) -> Iterator[JournalTransaction]:
        """One batch of a journal, in one transaction with the journal's new offset."""
        if self._watch is not None:
            self._tend_file_only()
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
            except sqlite3.Error as exc:
                if not self._damaged_now(exc):
                    raise StoreError(f"cannot write to the record store {self.path}: {exc}") from exc
                self._conn.execute("BEGIN IMMEDIATE")
            try:
                row = self._execute("SELECT position, state FROM journal_offsets WHERE name = ?",
                                    (name,)).fetchone()
                tx = _Transaction(self, name, row)
                yield tx
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._rollback()
                raise StoreError(f"cannot write to the record store {self.path}: {exc}") from exc
            except BaseException:
                self._rollback()
                raise
        self._written_runs.update(tx.runs)
        self._committed()

    def _tend_file_only(self) -> None:
        assert self._watch is not None
        with self._lock:
            state = self._watch.check()
            if state.changed:
                self._start_again(state.kind)

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:  # no transaction left to roll back (the error ended it)
            pass

    def forget_journal(self, name: str) -> None:
        """A recovered journal is gone: its offset is no longer needed."""
        with self._lock:
            try:
                self._execute("DELETE FROM journal_offsets WHERE name = ?", (name,))
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to the record store {self.path}: {exc}") from exc

    # -- writing -------------------------------------------------------------
    def write(self, record: CellRecord, run: RunInfo | None = None) -> int:
        """Commit one record (and its run, the first time); return its id."""
        self._tend()
        with self._lock:
            try:
                row = cell_row(record, self._meta_id)
                if run is not None and run.run_id not in self._written_runs:
                    with self._transaction():
                        self._execute(_INSERT_RUN, run_row(run))
                        cursor = self._execute(INSERT_CELL, row)
                    self._written_runs.add(run.run_id)
                else:
                    cursor = self._execute(INSERT_CELL, row)
                self._committed()
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to the record store {self.path}: {exc}") from exc
        record.id = cursor.lastrowid
        return record.id  # type: ignore[return-value]

    def _committed(self) -> None:
        if self._checkpointer is not None:
            self._commits += 1
            self._checkpointer.committed(self._commits)

    def _meta_id(self, meta: Meta) -> int:
        """The id of a reading's (unit, method, source, note), added to the table the first
        time this store sees it. Called with the lock held."""
        found = self._meta_ids.get(meta)
        if found is not None:
            return found
        unit, method, source, note = meta
        params = (unit, method, source or "", note or "")
        self._execute("INSERT OR IGNORE INTO reading_meta (unit, method, source, note) VALUES (?,?,?,?)", params)
        (found,) = self._execute("SELECT id FROM reading_meta WHERE unit = ? AND method = ? AND source = ?"
                                 " AND note = ?", params).fetchone()
        self._meta_ids[meta] = found
        self._meta_by_id[found] = meta
        return int(found)

    def _meta(self, meta_id: int) -> Meta:
        """A reading's (unit, method, source, note) by id; another kernel may have added it.
        Called with the lock held."""
        found = self._meta_by_id.get(meta_id)
        if found is None:
            for row_id, unit, method, source, note in self._execute(
                    "SELECT id, unit, method, source, note FROM reading_meta"):
                self._meta_by_id[row_id] = (unit, method, source, note or None)
            found = self._meta_by_id.get(meta_id)
            if found is None:
                raise StoreError(f"the record store {self.path} has a reading with no description "
                                 f"(id {meta_id}); it may be damaged: run `nbprofile doctor`")
        return found

    def write_run(self, run: RunInfo) -> None:
        with self._lock:
            self._execute(_INSERT_RUN, run_row(run))
            self._written_runs.add(run.run_id)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        if self._tracer is not None:
            self._tracer(sql, params)
        return self._conn.execute(sql, params)

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if self._tracer is not None:
            for row in rows:
                self._tracer(sql, row)
        self._conn.executemany(sql, rows)

    # -- reading -------------------------------------------------------------
    def _select(self, where: str, params: Sequence[Any], order: str, limit: int | None) -> list[CellRecord]:
        self._tend()
        sql = f"SELECT id, {CELL_COLUMNS} FROM cells WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        with self._lock:
            rows = self._execute(sql, params).fetchall()
            return [record_from_row(row, self._meta) for row in rows]

    def records(self, run_id: str) -> list[CellRecord]:
        """Every record of a run, in execution order."""
        return self._select("run_id = ?", (run_id,), "seq", None)

    def history(self, notebook: str | None, limit: int = 20, run_id: str | None = None) -> list[CellRecord]:
        """The latest ``limit`` records of a notebook (or of a run), oldest first."""
        if notebook is not None:
            rows = self._select(f"run_id IN ({_RUNS_OF_NOTEBOOK})", (notebook,), "id DESC", limit)
        elif run_id is not None:
            rows = self._select("run_id = ?", (run_id,), "id DESC", limit)
        else:
            rows = self._select("1", (), "id DESC", limit)
        return rows[::-1]

    def previous(self, cell_id: str | None, code_hash: str, notebook: str | None,
                 before_id: int | None = None) -> CellRecord | None:
        """The latest earlier record of the same cell.

        A cell with an id is matched by its id alone (a copied cell has the same
        code but is another cell); a cell without one (terminal IPython, old
        notebooks) by its code, within the same notebook.
        """
        bound = before_id if before_id is not None else 2**62
        if cell_id is not None:
            found = self._select("cell_id = ? AND id < ?", (cell_id, bound), "id DESC", 1)
            return found[0] if found else None
        found = self._select(f"run_id IN ({_RUNS_OF_NOTEBOOK}) AND code_hash = ? AND id < ?",
                             (notebook, code_hash, bound), "id DESC", 1)
        return found[0] if found else None

    _RUNS_SQL = (
        "SELECT r.run_id, r.notebook, r.kernel_id, r.host, r.started_at, r.info,"
        " COUNT(c.id), SUM(c.wall_s), SUM(c.verdict_status = 'fail'), MAX(c.started_at)"
        " FROM runs r LEFT JOIN cells c ON c.run_id = r.run_id"
    )

    def _runs(self, where: str, params: Sequence[Any], limit: int) -> list[dict[str, Any]]:
        self._tend()
        sql = f"{self._RUNS_SQL} WHERE {where} GROUP BY r.run_id ORDER BY r.started_at DESC LIMIT ?"
        with self._lock:
            rows = self._execute(sql, (*params, limit)).fetchall()
        return [
            {
                "run_id": row[0], "notebook": row[1], "kernel_id": row[2], "host": row[3],
                "started_at": row[4], "info": json.loads(row[5]) if row[5] else {},
                "cells": row[6], "wall_s": row[7], "budget_failures": row[8] or 0,
                "last_cell_at": row[9],
            }
            for row in rows
        ]

    def runs(self, notebook: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
        """Runs, newest first, with their cell counts, total wall time and budget failures."""
        if notebook is None:
            return self._runs("1", (), limit)
        return self._runs("r.notebook = ?", (notebook,), limit)

    def runs_of(self, notebook: str, kernel_ids: set[str] | frozenset[str] = frozenset(),
                limit: int = 200) -> list[dict[str, Any]]:
        """Runs of a notebook: those that named it, and those of the kernels now serving it
        (a kernel keeps the name its notebook had when it started)."""
        kernels = sorted(kernel_ids)
        marks = ",".join("?" * len(kernels))
        where = f"r.notebook = ? OR r.kernel_id IN ({marks})" if kernels else "r.notebook = ?"
        return self._runs(where, (notebook, *kernels), limit)

    def find_in_run(self, run_id: str, cell_id: str | None, cell_hash: str) -> CellRecord | None:
        """The last record of a cell in a given run (a pinned baseline): by id, else by code."""
        if cell_id is not None:
            found = self._select("run_id = ? AND cell_id = ?", (run_id, cell_id), "id DESC", 1)
        else:
            found = self._select("run_id = ? AND code_hash = ?", (run_id, cell_hash), "id DESC", 1)
        return found[0] if found else None

    def set_verdict(self, record_id: int, verdict: dict[str, Any] | None, status: str | None,
                    budget: dict[str, Any] | None = None) -> None:
        """Replace a record's verdict (a CI gate adds the budget file's limits to it)."""
        with self._lock:
            self._execute(
                "UPDATE cells SET verdict = ?, verdict_status = ?, budget = COALESCE(?, budget) WHERE id = ?",
                (None if verdict is None else json.dumps(verdict, separators=(",", ":")), status,
                 None if budget is None else json.dumps(budget, separators=(",", ":")), record_id),
            )

    def run(self, run_id: str) -> dict[str, Any] | None:
        found = self._runs("r.run_id = ?", (run_id,), 1)
        return found[0] if found else None

    def run_ids(self, notebook: str | None = None) -> list[str]:
        return [run["run_id"] for run in self.runs(notebook, limit=10**9)]

    def count(self) -> int:
        self._tend()
        with self._lock:
            return int(self._execute("SELECT COUNT(*) FROM cells").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.stop()
            self._conn.close()


