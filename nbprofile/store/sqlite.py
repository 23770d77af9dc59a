"""The default record store: one SQLite file per user.

Several kernels and the Jupyter server use the file at once, so it runs in WAL
mode (readers never block the writer) with a busy timeout for writers. Commits
use ``synchronous=NORMAL``: a committed batch survives the process being killed
(it is in the WAL, handed to the OS) though not a power cut in the following
moments. No commit is on a cell's path: kernels write their journals
(:mod:`nbprofile.store.journal`) and a thread moves them in here in batches, so
SQLite's checkpoints (and their fsync) happen in that thread too.

The schema changes only through named migrations (:mod:`nbprofile.store.migrations`);
rows are laid out by :mod:`nbprofile.store.codec`; the file's lifecycle (opening,
noticing it deleted, replaced or damaged) is :mod:`nbprofile.store.sqlite_file`.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from nbprofile.errors import StoreError
from nbprofile.record import CellRecord, RunInfo
from nbprofile.store import forget, lineage, summary
from nbprofile.store.base import default_path
from nbprofile.store.codec import (
    INSERT_CELL,
    Decoder,
    Encoder,
    cell_row,
    record_from_row,
    row_from_journal,
    run_row,
)
from nbprofile.store.forget import Deleted
from nbprofile.store.ingest import JournalTransaction, recover_orphans
from nbprofile.store.journal import journal_folder
from nbprofile.store.queries import StoreQueries, T
from nbprofile.store.sqlite_file import StoreFile
from nbprofile.store.vocabulary import Vocabulary

#: a journal's run line comes again when the run learns more (its GPUs, carbon settings)
_UPSERT_RUN = (
    "INSERT INTO runs (run_id, notebook, kernel_id, host, started_at, info, username)"
    " VALUES (?,?,?,?,?,?,?)"
    " ON CONFLICT (run_id) DO UPDATE SET info = excluded.info, username = excluded.username"
)
#: how often a store looks for the journals of kernels that are gone
RECOVER_EVERY_S = 2.0


class _Transaction:
    """A journal batch's view of the store, inside its transaction (the lock held)."""

    def __init__(self, store: SQLiteStore, name: str, row: tuple[int, str | None] | None) -> None:
        self._store = store
        self._name = name
        self.offset = int(row[0]) if row else 0
        self.state: dict[str, Any] = json.loads(row[1]) if row and row[1] else {}
        self.runs: list[str] = []

    def write(self, runs: Sequence[RunInfo], records: Sequence[CellRecord | list[Any]], offset: int,
              state: dict[str, Any]) -> None:
        store = self._store
        for run in runs:
            store._execute(_UPSERT_RUN, run_row(run))
            store._new_run(run.run_id)
            self.runs.append(run.run_id)
        if records:
            codes = store._encoder
            journal_metas: dict[str, list[Any]] = state.get("metas") or {}
            ids: dict[int, int] = {}
            store._insert([cell_row(r, codes) if isinstance(r, CellRecord)
                           else row_from_journal(r, codes, journal_metas, ids) for r in records])
        store._execute("INSERT OR REPLACE INTO journal_offsets (name, position, state) VALUES (?,?,?)",
                       (self._name, offset, json.dumps(state, separators=(",", ":"))))
        self.offset = offset
        self.state = state
_INSERT_RUN = (
    "INSERT OR IGNORE INTO runs (run_id, notebook, kernel_id, host, started_at, info, username)"
    " VALUES (?,?,?,?,?,?,?)"
)


class SQLiteStore(StoreQueries, Vocabulary, StoreFile):
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
        self._tracer = tracer
        self._written_runs: set[str] = set()
        self._summed_runs: set[str] = set()  # runs whose summary this store has counted from its cells
        self._run_cells = summary.RunCells()
        self._init_vocabulary()
        self._encoder = Encoder(self._meta_id, self._layout_id, self._meta_ids, self._layout_ids)
        self._decoder = Decoder(self._meta, self._layout, self._meta_by_id, self._layout_by_id,
                                self._columns_by_ids)
        path = str(path if path is not None else default_path())
        super().__init__(path, notice=notice, repair=repair)
        self._auto_recover = recover and self._writable  # at open, then every RECOVER_EVERY_S
        self._recovered_at = -RECOVER_EVERY_S
        self.journal_folder = journal_folder(self.path)
        if recover:
            self.recover_journals()

    def _rollback(self) -> None:
        self._summed_runs.clear()  # a summary counted in the rolled-back transaction is counted again
        self._run_cells.forget()
        self._forget_vocabulary()  # and ids given in it are gone
        super()._rollback()

    def _forget_cached(self) -> None:
        self._written_runs.clear()
        self._summed_runs.clear()
        self._run_cells.forget()
        self._forget_vocabulary()

    # -- the file ------------------------------------------------------------
    def _tend(self) -> None:
        """Check the file is still ours (reopen or start again if not), then, every
        :data:`RECOVER_EVERY_S`, recover the journals of kernels that are gone."""
        self._keep_file()
        if self._auto_recover and time.monotonic() - self._recovered_at >= RECOVER_EVERY_S:
            self.recover_journals()

    def recover_journals(self, causes: Callable[[str], str | None] | None = None) -> int:
        """Write into this store what the journals of gone kernels hold; return how many records.
        ``causes``: how a journal's kernel ended, by journal name, where the caller saw it."""
        self._recovered_at = time.monotonic()
        if not self._writable:
            return 0
        return recover_orphans(self, self.journal_folder, causes=causes)

    # -- journals ------------------------------------------------------------
    @contextmanager
    def journal_transaction(self, name: str) -> Iterator[JournalTransaction]:
        """One batch of a journal, in one transaction with the journal's new offset."""
        self._keep_file()
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
                with self._transaction():
                    if run is not None and run.run_id not in self._written_runs:
                        self._execute(_INSERT_RUN, run_row(run))
                        self._new_run(run.run_id)
                    (record_id,) = self._insert([cell_row(record, self._encoder)])
                if run is not None:
                    self._written_runs.add(run.run_id)
            except sqlite3.Error as exc:
                self._forget_vocabulary()  # ids given in the rolled-back transaction are gone
                raise StoreError(f"cannot write to the record store {self.path}: {exc}") from exc
        record.id = record_id
        return record_id

    def _insert(self, rows: list[tuple[Any, ...]]) -> list[int]:
        """Cell rows, with their runs' summaries and each cell's chain (:mod:`.lineage`); in the
        caller's transaction, which holds the write lock: the ids are the next after the last."""
        batch = summary.batch_cells(summary.row_heads(rows))  # the runs' new cells: counted before
        found = self._execute(summary.EXECUTIONS.format(",".join("?" * len(batch))), list(batch))
        added = self._run_cells.new_cells(batch, dict(found.fetchall()), self._keys_of)
        (last,) = self._execute("SELECT COALESCE(MAX(id), 0) FROM cells").fetchone()
        ids = list(range(last + 1, last + 1 + len(rows)))
        stored, latest = lineage.link(rows, ids, self._latest_of)
        self._executemany(INSERT_CELL, stored)
        self._executemany(lineage.UPSERT_LATEST, list(latest.items()))
        self._executemany(summary.ADD, summary.add_rows(summary.deltas(rows), added))
        return ids

    def _keys_of(self, run_id: str) -> set[str]:
        return {key for (key,) in self._execute(summary.KEYS_OF, (run_id,))}

    def _latest_of(self, keys: list[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for start in range(0, len(keys), 500):  # within any SQLite's limit of parameters
            chunk = keys[start:start + 500]
            found.update(self._execute(f"SELECT cell_key, id FROM cell_latest WHERE cell_key IN"
                                       f" ({','.join('?' * len(chunk))})", chunk).fetchall())
        return found

    def write_run(self, run: RunInfo) -> None:
        with self._lock, self._transaction():
            self._execute(_INSERT_RUN, run_row(run))
            self._new_run(run.run_id)
        self._written_runs.add(run.run_id)

    def _new_run(self, run_id: str) -> None:
        """A run row written (in the caller's transaction): the cells stored before it (a
        record saved with no run) count in its summary. Once per run and store object."""
        if run_id not in self._summed_runs:
            summary.recount(self._execute, run_id)
            self._summed_runs.add(run_id)

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._rollback()
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

    # -- reading (the queries: nbprofile.store.queries) -----------------------
    _notebook_is = "notebook IS ?"  # SQLite's spelling, any version

    def _query(self, sql: str, params: Sequence[Any], decode: Callable[[list[Any]], T]) -> T:
        self._tend()
        with self._lock:
            return decode(self._execute(sql, params).fetchall())

    def _record(self, row: Sequence[Any]) -> CellRecord:
        return record_from_row(row, self._decoder)

    def set_verdict(self, record_id: int, verdict: dict[str, Any] | None, status: str | None,
                    budget: dict[str, Any] | None = None) -> None:
        """Replace a record's verdict (a CI gate adds the budget file's limits to it)."""
        with self._lock, self._transaction():
            found = self._execute(summary.VERDICT_OF, (record_id,)).fetchone()
            self._execute(
                "UPDATE cells SET verdict = ?, verdict_status = ?, budget = COALESCE(?, budget) WHERE id = ?",
                (None if verdict is None else json.dumps(verdict, separators=(",", ":")), status,
                 None if budget is None else json.dumps(budget, separators=(",", ":")), record_id),
            )
            if found is not None and summary.failures_change(found[1], status):
                self._execute(summary.ADD_FAILURES, (summary.failures_change(found[1], status), found[0]))

    def delete_runs(self, run_ids: Sequence[str]) -> Deleted:
        """Delete these runs and their records (:mod:`nbprofile.store.forget`)."""
        with self._lock:
            try:
                with self._transaction():
                    deleted = forget.delete_runs(self._execute, self._executemany, run_ids)
            except sqlite3.Error as exc:
                raise StoreError(f"cannot write to the record store {self.path}: {exc}") from exc
            self._forget_cached()
        return deleted

    def count(self) -> int:
        self._tend()
        with self._lock:
            return int(self._execute("SELECT COUNT(*) FROM cells").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            self._conn.close()


