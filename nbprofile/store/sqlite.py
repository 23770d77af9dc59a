"""Durable storage of cell records: one SQLite file per user.

Several kernels and the Jupyter server use the file at once, so it runs in WAL
mode (readers never block the writer) with a busy timeout for writers. Commits
use ``synchronous=NORMAL``: a committed record survives the kernel being killed
(it is in the WAL, handed to the OS) though not a power cut in the following
moments, and a commit costs ~20 µs instead of an fsync.

The fsync comes at the checkpoint, when the WAL is copied back into the file.
SQLite runs it inside whichever commit finds 1,000 pages in the WAL, so every
few hundred cells one cell would wait for it (~6 ms on a local disk, far longer
on a network home directory). A store that writes copies the WAL from a thread
of its own first (:class:`Checkpointer`), which SQLite lets run beside the
writer and which holds no GIL while it copies; SQLite's checkpoint stays as the
bound on the WAL, and finds nothing left to copy.

The schema changes only through the named migrations at the bottom, each applied
once, in the same transaction as the row that records it.
"""

from __future__ import annotations

import json
import os
import random
import sqlite3
import threading
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Iterator, Protocol, Sequence

from nbprofile.errors import StoreError
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo

DB_ENV = "NBPROFILE_DB"
#: commits (~3 WAL pages each) between the checkpoint thread's runs: well before
#: SQLite's own checkpoint at 1,000 pages, so that it finds the WAL copied already
CHECKPOINT_EVERY = 100
#: and at most this long after a commit
CHECKPOINT_INTERVAL_S = 5.0
#: what a reading is, apart from its value: (unit, method, source, note)
Meta = tuple[str, str, str, "str | None"]
BUSY_TIMEOUT_MS = 2000


def default_path() -> Path:
    """``$NBPROFILE_DB``, else ``nbprofile/records.db`` in Jupyter's data directory."""
    override = os.environ.get(DB_ENV)
    if override:
        return Path(override).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "nbprofile" / "records.db"


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


class RecordStore(Protocol):
    """What the profiler, the server and the exporters need from a store."""

    path: str

    def write(self, record: CellRecord, run: RunInfo | None = None) -> int: ...
    def records(self, run_id: str) -> list[CellRecord]: ...
    def history(self, notebook: str | None, limit: int = 20, run_id: str | None = None) -> list[CellRecord]: ...
    def runs(self, notebook: str | None = None, limit: int = 50) -> list[dict[str, Any]]: ...
    def previous(self, cell_id: str | None, code_hash: str, notebook: str | None,
                 before_id: int | None = None) -> CellRecord | None: ...
    def close(self) -> None: ...


_CELL_COLUMNS = (
    "run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at, status,"
    " error_type, wall_s, readings, overhead_s, name, budget, verdict, verdict_status, notes,"
    " schema_version"
)
_INSERT_CELL = (
    f"INSERT INTO cells ({_CELL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)
_RUNS_OF_NOTEBOOK = "SELECT run_id FROM runs WHERE notebook IS ?"
_INSERT_RUN = (
    "INSERT OR IGNORE INTO runs (run_id, notebook, kernel_id, host, started_at, info)"
    " VALUES (?,?,?,?,?,?)"
)


class SQLiteStore:
    """The default :class:`RecordStore`.

    One connection per store object, used from one thread at a time (a lock
    guards it, since a ``measure()`` block may run on a worker thread).
    """

    def __init__(self, path: str | os.PathLike[str] | None = None, *,
                 tracer: Callable[[str, Sequence[Any]], None] | None = None) -> None:
        self.path = str(path if path is not None else default_path())
        self._tracer = tracer
        self._lock = threading.Lock()
        self._written_runs: set[str] = set()
        # What a reading is (unit, method, source, note) repeats from cell to cell: it is
        # stored once in reading_meta, and a record's readings keep [value, id].
        self._meta_ids: dict[Meta, int] = {}
        self._meta_by_id: dict[int, Meta] = {}
        self._checkpointer: Checkpointer | None = None
        self._commits = 0
        try:
            uri = self.path.startswith("file:")  # e.g. file:records.db?mode=ro
            if self.path != ":memory:" and not uri:
                Path(self.path).parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                         timeout=BUSY_TIMEOUT_MS / 1000, uri=uri)
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if not self.path.endswith("mode=ro"):
                _use_wal(self._conn)
                self._conn.execute("PRAGMA synchronous = NORMAL")
                apply_migrations(self._conn)
                if self.path != ":memory:" and not uri:
                    self._checkpointer = Checkpointer(self.path)
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(
                f"cannot open the record store {self.path}: {exc}; "
                f"set {DB_ENV} to a writable file"
            ) from exc

    # -- writing -------------------------------------------------------------
    def write(self, record: CellRecord, run: RunInfo | None = None) -> int:
        """Commit one record (and its run, the first time); return its id."""
        with self._lock:
            try:
                row = _cell_row(record, self._meta_id)
                if run is not None and run.run_id not in self._written_runs:
                    with self._transaction():
                        self._execute(_INSERT_RUN, _run_row(run))
                        cursor = self._execute(_INSERT_CELL, row)
                    self._written_runs.add(run.run_id)
                else:
                    cursor = self._execute(_INSERT_CELL, row)
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
            self._execute(_INSERT_RUN, _run_row(run))
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

    # -- reading -------------------------------------------------------------
    def _select(self, where: str, params: Sequence[Any], order: str, limit: int | None) -> list[CellRecord]:
        sql = f"SELECT id, {_CELL_COLUMNS} FROM cells WHERE {where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ?"
            params = (*params, limit)
        with self._lock:
            rows = self._execute(sql, params).fetchall()
            return [_record_from_row(row, self._meta) for row in rows]

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
        with self._lock:
            return int(self._execute("SELECT COUNT(*) FROM cells").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._checkpointer is not None:
                self._checkpointer.stop()
            self._conn.close()


class Checkpointer:
    """Copies a store's WAL back into its file from a daemon thread.

    ``PRAGMA wal_checkpoint(PASSIVE)`` takes no lock a writer needs, so records
    go on being committed while it runs. It runs every :data:`CHECKPOINT_EVERY`
    commits of this store and, while commits keep coming, at least every
    :data:`CHECKPOINT_INTERVAL_S`. The thread, with its own connection, starts at
    the first request; if it cannot run, SQLite's own checkpoint in the commit
    still keeps the WAL bounded.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.error: str | None = None  # why the thread stopped
        self.checkpoints = 0  # completed, for tests and `nbprofile doctor`
        self._wake = threading.Event()
        self._dirty = False  # commits since the thread's last checkpoint
        self._stopping = False
        self._thread: threading.Thread | None = None

    def committed(self, commits: int) -> None:
        """Called after each commit of the store (its lock held)."""
        self._dirty = True
        if self._thread is None:
            if self.error is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="nbprofile-checkpoint", daemon=True)
            try:
                self._thread.start()
            except RuntimeError as exc:  # no more threads, or the interpreter is exiting
                self.error = f"cannot start the checkpoint thread: {exc}"
        elif commits % CHECKPOINT_EVERY == 0:
            self._wake.set()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            self.error = f"cannot open {self.path} to checkpoint it: {exc}"
            return
        try:
            while not self._stopping:
                self._wake.wait(CHECKPOINT_INTERVAL_S)
                self._wake.clear()
                if self._stopping or not self._dirty:
                    continue
                self._dirty = False
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # SQLite's checkpoint in the commit takes over
                    self.error = f"checkpoint failed: {exc}"
                    return
                self.checkpoints += 1
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)


# Built once: json.dumps with options makes a new encoder on every call (~3 µs a cell).
# Readings are flat, so no circular check.
_encode_readings = json.JSONEncoder(separators=(",", ":"), check_circular=False).encode


def _cell_row(r: CellRecord, meta_id: Callable[[Meta], int]) -> tuple[Any, ...]:
    wall = r.readings.get("wall_s")
    # [value, id of (unit, method, source, note)]: a quarter of the full form to encode and write
    readings = {key: (reading[0], meta_id(reading[1:])) for key, reading in r.readings.items()}
    return (
        r.run_id, r.seq, r.notebook, r.cell_id, r.execution_count, r.code_hash, r.source,
        r.started_at, r.status, r.error_type, None if wall is None else wall.value,
        _encode_readings(readings),
        r.overhead_s, r.name,
        None if r.budget is None else json.dumps(r.budget, separators=(",", ":")),
        None if r.verdict is None else json.dumps(r.verdict, separators=(",", ":")),
        r.verdict_status,
        json.dumps(r.notes) if r.notes else None,
        r.schema_version,
    )


def _reading_from_stored(data: list[Any], meta: Callable[[int], Meta]) -> Reading:
    if len(data) == 2:  # [value, meta id]
        return Reading(data[0], *meta(data[1]))
    return Reading.from_json(data)  # the full form, as written before 0003_reading_meta


def _record_from_row(row: Sequence[Any], meta: Callable[[int], Meta]) -> CellRecord:
    (rid, run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at,
     status, error_type, _wall, readings, overhead_s, name, budget, verdict, verdict_status,
     notes, schema_version) = row
    return CellRecord(
        run_id=run_id, seq=seq, notebook=notebook, cell_id=cell_id,
        execution_count=execution_count, code_hash=code_hash, source=source,
        started_at=started_at, status=status, error_type=error_type,
        readings={k: _reading_from_stored(v, meta) for k, v in json.loads(readings).items()},
        overhead_s=overhead_s, name=name,
        budget=json.loads(budget) if budget else None,
        verdict=json.loads(verdict) if verdict else None,
        verdict_status=verdict_status, notes=json.loads(notes) if notes else [],
        id=rid, schema_version=schema_version,
    )


def _run_row(run: RunInfo) -> tuple[Any, ...]:
    return (run.run_id, run.notebook, run.kernel_id, run.host, run.started_at,
            json.dumps(run.to_json(), separators=(",", ":")))


# -- migrations ---------------------------------------------------------------

def _m0001_initial(conn: sqlite3.Connection) -> None:
    conn.execute(
        "CREATE TABLE runs (run_id TEXT PRIMARY KEY, notebook TEXT, kernel_id TEXT,"
        " host TEXT, started_at REAL NOT NULL, info TEXT)"
    )
    conn.execute(
        "CREATE TABLE cells (id INTEGER PRIMARY KEY, run_id TEXT NOT NULL REFERENCES runs(run_id),"
        " seq INTEGER NOT NULL, notebook TEXT, cell_id TEXT, execution_count INTEGER,"
        " code_hash TEXT NOT NULL, source TEXT NOT NULL, started_at REAL NOT NULL,"
        " status TEXT NOT NULL, error_type TEXT, wall_s REAL, readings TEXT NOT NULL,"
        " overhead_s REAL, name TEXT, budget TEXT, verdict TEXT, verdict_status TEXT,"
        " notes TEXT, schema_version INTEGER NOT NULL)"
    )
    conn.execute("CREATE INDEX cells_by_run ON cells (run_id, seq)")
    conn.execute("CREATE INDEX cells_by_notebook ON cells (notebook, id)")
    conn.execute("CREATE INDEX cells_by_cell_id ON cells (cell_id, id)")
    conn.execute("CREATE INDEX cells_by_code ON cells (code_hash, id)")
    conn.execute("CREATE INDEX runs_by_notebook ON runs (notebook, started_at)")


def _m0002_lean_indexes(conn: sqlite3.Connection) -> None:
    """Every index is paid on every cell's insert (~12 µs each). A notebook's cells are
    reached through its runs (runs_by_notebook, cells_by_run), and so is the code-hash
    fallback; the cell-id index stays, so that a renamed notebook keeps its history."""
    conn.execute("DROP INDEX IF EXISTS cells_by_notebook")
    conn.execute("DROP INDEX IF EXISTS cells_by_code")


def _m0003_reading_meta(conn: sqlite3.Connection) -> None:
    """A reading's unit, method, source and note, stored once: records then keep
    ``[value, meta id]`` per reading (~600 bytes a cell instead of ~2.3 KB on a
    CPU-only machine). Records written before keep their full form; readers take both."""
    conn.execute(
        "CREATE TABLE reading_meta (id INTEGER PRIMARY KEY, unit TEXT NOT NULL, method TEXT NOT NULL,"
        " source TEXT NOT NULL, note TEXT NOT NULL, UNIQUE (unit, method, source, note))"
    )


#: Applied in order, each once. Never edit or reorder a released migration; add one.
MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_lean_indexes", _m0002_lean_indexes),
    ("0003_reading_meta", _m0003_reading_meta),
]


def apply_migrations(conn: sqlite3.Connection) -> list[str]:
    """Apply the migrations this file lacks; return their names.

    ``BEGIN IMMEDIATE`` takes the write lock before looking, so two kernels
    opening a new store at once cannot both apply the same migration.
    """
    conn.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
    if all(name in done for name, _ in MIGRATIONS):
        return []
    applied: list[str] = []
    conn.execute("BEGIN IMMEDIATE")
    try:
        done = {row[0] for row in conn.execute("SELECT name FROM migrations")}
        for name, migrate in MIGRATIONS:
            if name in done:
                continue
            migrate(conn)
            conn.execute("INSERT INTO migrations (name, applied_at) VALUES (?, ?)",
                         (name, datetime.now(timezone.utc).isoformat()))
            applied.append(name)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")
    return applied
