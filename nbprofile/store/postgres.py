"""A team's record store on a PostgreSQL server (``NBPROFILE_DB=postgresql://user@host/db``).

The same :class:`~nbprofile.store.base.RecordStore` as the SQLite file, with the same
named migrations (:mod:`nbprofile.store.postgres_schema`), rows (:mod:`nbprofile.store.codec`)
and run summaries (:mod:`nbprofile.store.summary`). Kernels still write their journals on
their own machine, and the writer thread moves them in here, one batch and the
journal's offset in one transaction (an advisory lock per journal keeps two writers
of one journal in turn); the journals of kernels gone from this machine are
recovered into it.

A server that is down, refuses, or refuses the password is what a locked SQLite file
is: a :class:`~nbprofile.errors.StoreError` (one line, the password masked), the
journal keeps everything, and the next call connects again. Every connect has a
``connect_timeout``. psycopg (3) is imported only when such a store is opened.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from itertools import chain, islice
from typing import Any

from nbprofile.errors import StoreError
from nbprofile.record import CellRecord, RunInfo
from nbprofile.store import forget, lineage, summary
from nbprofile.store.codec import (
    STORED_COLUMNS,
    Decoder,
    Encoder,
    NewVocabulary,
    cell_row,
    record_from_row,
    row_from_journal,
    row_head,
    run_row,
)
from nbprofile.store.forget import Deleted
from nbprofile.store.ingest import JournalTransaction, recover_orphans
from nbprofile.store.journal import journal_folder
from nbprofile.store.location import masked, scrub
from nbprofile.store.postgres_schema import ID_BLOCK, apply_migrations
from nbprofile.store.queries import StoreQueries, T
from nbprofile.store.vocabulary import Vocabulary

#: seconds to wait for the server before saying it cannot be reached
CONNECT_TIMEOUT_S = 5
#: the longest a statement (or a write that the server does not acknowledge) may take
STATEMENT_TIMEOUT_S = 60
#: how often a store looks for the journals of kernels that are gone (as SQLite's)
RECOVER_EVERY_S = 2.0

_RUN_VALUES = ("INSERT INTO runs (run_id, notebook, kernel_id, host, started_at, info, username)"
               " VALUES (?,?,?,?,?,?,?)")
#: a journal's run line comes again when the run learns more (its GPUs, carbon settings)
_UPSERT_RUN = _RUN_VALUES + (" ON CONFLICT (run_id) DO UPDATE SET info = excluded.info,"
                              " username = excluded.username")
_INSERT_RUN = _RUN_VALUES + " ON CONFLICT DO NOTHING"
#: ids for a batch of cells: the cells' id sequence steps by ID_BLOCK (migration 0007), so that
#: each value it gives starts a block of ids for one writer (a nextval per row cost a fifth of
#: a batch's time)
_NEXT_BLOCKS = "SELECT nextval(pg_get_serial_sequence('cells', 'id')) FROM generate_series(1, %s)"
# A batch's keys and ids go as one JSON text each: psycopg makes an array parameter in Python,
# element by element (half the time of the statements below, for 500 keys).
#: lineage.UPSERT_LATEST for a whole batch in one statement
_UPSERT_LATEST = ("INSERT INTO cell_latest (cell_key, id) SELECT key, id::bigint FROM"
                  " ROWS FROM (json_array_elements_text(%s::json), json_array_elements_text(%s::json))"
                  " AS batch (key, id)"
                  " ON CONFLICT (cell_key) DO UPDATE SET id = excluded.id WHERE excluded.id > cell_latest.id")
#: the newest stored record of each key (through the index: ANY of an array, not IN a set)
_LATEST_OF = ("SELECT cell_key, id FROM cell_latest"
              " WHERE cell_key = ANY(ARRAY(SELECT json_array_elements_text(%s::json)))")
#: summary.EXECUTIONS, the runs' rows locked until the batch's transaction ends, in one order
_EXECUTIONS = "SELECT run_id, executions FROM runs WHERE run_id = ANY(%s) ORDER BY run_id FOR UPDATE"
_COPY_CELLS = f"COPY cells ({STORED_COLUMNS}) FROM STDIN"
_SAVE_OFFSET = ("INSERT INTO journal_offsets (name, position, state) VALUES (?,?,?) ON CONFLICT (name)"
                " DO UPDATE SET position = excluded.position, state = excluded.state")


@lru_cache(maxsize=64)
def _pg(sql: str) -> str:
    """The shared SQL (``?`` placeholders; none of it holds a ``%`` or a literal ``?``) in psycopg's form."""
    return sql.replace("?", "%s")


#: the columns of a cell row that hold text as given (the others are numbers, or JSON, which
#: writes a NUL as an escape)
_TEXT = (0, 2, 3, 6, 9, 13)
_RUN_TEXT = (0, 1, 2, 3, 5, 6)  # of a run row (codec.run_row)
_HEAD_TEXT = (0, 1, 2)  # of a row's head (codec.row_head)

#: a record, or a journal's line, to its cell row (codec.cell_row, codec.row_from_journal)
RowMaker = Callable[[Any, Encoder], tuple[Any, ...]]


def _clean(row: tuple[Any, ...], text: Sequence[int] = _TEXT) -> tuple[Any, ...]:
    """PostgreSQL's text refuses NUL, which SQLite keeps: a NUL in a cell's source is kept as ``\\x00``."""
    for i in text:  # a plain loop: asked of every row, twice
        value = row[i]
        if value.__class__ is str and "\x00" in value:
            break
    else:
        return row
    return tuple(v.replace("\x00", "\\x00") if isinstance(v, str) and "\x00" in v else v for v in row)


class _Transaction:
    """A journal batch's view of the store, inside its transaction (the journal's lock held)."""

    def __init__(self, store: PostgresStore, name: str, row: tuple[int, str | None] | None) -> None:
        self._store = store
        self._name = name
        self.offset = int(row[0]) if row else 0
        self.state: dict[str, Any] = json.loads(row[1]) if row and row[1] else {}
        self.runs: list[str] = []

    def write(self, runs: Sequence[RunInfo], records: Sequence[CellRecord | list[Any]], offset: int,
              state: dict[str, Any]) -> None:
        store = self._store
        for run in runs:
            store._execute(_UPSERT_RUN, _clean(run_row(run), _RUN_TEXT))
            store._new_run(run.run_id)
            self.runs.append(run.run_id)
        if records:
            journal_metas: dict[str, list[Any]] = state.get("metas") or {}
            ids: dict[int, int] = {}
            store._insert(records, lambda r, codes: cell_row(r, codes) if isinstance(r, CellRecord)
                          else row_from_journal(r, codes, journal_metas, ids))
        store._execute(_SAVE_OFFSET, (self._name, offset, json.dumps(state, separators=(",", ":"))))
        self.offset = offset
        self.state = state


class PostgresStore(StoreQueries, Vocabulary):
    """A :class:`RecordStore` on a PostgreSQL server: one connection per store object, used
    from one thread at a time (a lock guards it), opened again after the server went away."""

    def __init__(self, url: str, *, notice: Callable[[str], None] | None = None, recover: bool = True,
                 connect_timeout: float = CONNECT_TIMEOUT_S) -> None:
        self._url = url  # with its password, if any: never stored elsewhere, never shown
        self.path = masked(url)
        self._notice = notice
        self._timeout = connect_timeout
        self._lock = threading.RLock()
        self._conn: Any = None
        self._written_runs: set[str] = set()
        self._summed_runs: set[str] = set()
        self._run_cells = summary.RunCells()
        self._init_vocabulary()
        self._encoder = Encoder(self._meta_id, self._layout_id, self._meta_ids, self._layout_ids)
        self._decoder = Decoder(self._meta, self._layout, self._meta_by_id, self._layout_by_id,
                                self._columns_by_ids)
        self.journal_folder = journal_folder(self.path)
        with self._lock:
            self._connect()
        self._auto_recover = recover
        self._recovered_at = -RECOVER_EVERY_S
        if recover:
            self.recover_journals()

    # -- the connection ------------------------------------------------------
    def _error(self, doing: str, exc: BaseException) -> StoreError:
        """One line, the password taken out, as a locked SQLite file's error reads."""
        text = " ".join(str(exc).split()) or type(exc).__name__
        return StoreError(scrub(f"cannot {doing} the record store {self.path}: {text}", self._url))

    def _connect(self) -> None:
        try:
            import psycopg
        except ImportError:
            raise StoreError(f"the record store {self.path} needs psycopg: "
                             "pip install 'nbprofile[team]' (or psycopg[binary])") from None
        self._forget_cached()
        try:
            conn = psycopg.connect(self._url, autocommit=True, **self._limits())
        except psycopg.Error as exc:
            raise self._error("connect to", exc) from None
        try:
            apply_migrations(conn)
        except psycopg.Error as exc:
            conn.close()
            raise self._error("prepare", exc) from None
        self._conn = conn

    def _limits(self) -> dict[str, Any]:
        """No call without a time limit: the connect, a server that stops answering (TCP
        keepalives, ``tcp_user_timeout``), and any statement, a lock's wait included. What
        the URL sets itself is kept."""
        from psycopg.conninfo import conninfo_to_dict

        given = conninfo_to_dict(self._url)
        limits: dict[str, Any] = {
            "connect_timeout": max(1, round(self._timeout)), "application_name": "nbprofile",
            "keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3,
            "tcp_user_timeout": STATEMENT_TIMEOUT_S * 1000,
            "options": f"-c statement_timeout={STATEMENT_TIMEOUT_S * 1000}",
        }
        return {key: value for key, value in limits.items() if key not in given}

    def _forget_cached(self) -> None:
        """A failed transaction may have cached ids it then rolled back: forget them all."""
        self._written_runs.clear()
        self._summed_runs.clear()
        self._run_cells.forget()
        self._forget_vocabulary()

    @contextmanager
    def _session(self, doing: str) -> Iterator[Any]:
        """The connection (opened again if the server went away), the lock held; a psycopg
        error becomes a :class:`StoreError`, and a lost connection is dropped for the next call."""
        import psycopg

        with self._lock:
            if self._conn is None or self._conn.closed:
                self._connect()
            try:
                yield self._conn
            except psycopg.Error as exc:
                self._forget_cached()
                if self._conn.broken or self._conn.closed or isinstance(exc, psycopg.OperationalError):
                    self._drop()
                raise self._error(doing, exc) from None
            except BaseException:  # a transaction rolled back for any reason: ids given in it are gone
                self._forget_cached()
                raise

    def _drop(self) -> None:
        conn, self._conn = self._conn, None
        try:
            conn.close()
        except Exception as exc:  # closing a dead connection: nothing more to lose, said in the log
            logging.getLogger("nbprofile").debug("nbprofile: closing %s: %s", self.path, exc)

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """A statement of the shared SQL; a NUL in a parameter is asked for as stored (``\\x00``)."""
        return self._conn.execute(_pg(sql), _clean(tuple(params), range(len(params))))

    def _executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._conn.cursor() as cursor:
            cursor.executemany(_pg(sql), rows)

    def _insert(self, sources: Sequence[CellRecord | list[Any]], make_row: RowMaker) -> list[int]:
        """Records (or journal lines) as cell rows by COPY (several times the rows a second of an
        INSERT per row), with their runs' summaries and each cell's chain (:mod:`.lineage`); in the
        caller's transaction. Each row is made as the COPY sends them, so that the server stores
        one while the next is made (on a core of its own: most of a batch's time otherwise went
        to one, then the other)."""
        heads = [_clean(row_head(source), _HEAD_TEXT) for source in sources]
        batch = summary.batch_cells((run, cell, code) for run, _, cell, code in heads)
        # the runs' rows locked first, then cell_latest's in one order: two writers never deadlock
        added = self._run_cells.new_cells(batch, self._executions(sorted(batch)), self._keys_of)
        blocks = self._conn.execute(_NEXT_BLOCKS, (-(-len(sources) // ID_BLOCK),)).fetchall()
        block_ids = chain.from_iterable(range(start, start + ID_BLOCK) for (start,) in blocks)
        ids = list(islice(block_ids, len(sources)))
        previous, latest = lineage.previous_ids(
            [lineage.lineage_key(cell, code, notebook) for _, notebook, cell, code in heads], ids,
            self._latest_of)
        rows: list[tuple[Any, ...]] = []
        busy = self._encoder.known_only()
        while len(rows) < len(sources):
            with self._conn.cursor() as cursor, cursor.copy(_COPY_CELLS) as copy:
                for i in range(len(rows), len(sources)):
                    try:
                        row = _clean(make_row(sources[i], busy))
                    except NewVocabulary:
                        break
                    rows.append(row)
                    copy.write_row((ids[i], *row, previous[i]))
            if len(rows) < len(sources):  # a reading description new to this store: stored, then on
                make_row(sources[len(rows)], self._encoder)
        keys = sorted(latest)
        self._conn.execute(_UPSERT_LATEST, (json.dumps(keys), json.dumps([latest[key] for key in keys])))
        self._executemany(summary.ADD, summary.add_rows(summary.deltas(rows), added))
        return ids

    def _executions(self, run_ids: list[str]) -> dict[str, int]:
        return dict(self._conn.execute(_EXECUTIONS, (run_ids,)).fetchall())

    def _keys_of(self, run_id: str) -> set[str]:
        return {key for (key,) in self._execute(summary.KEYS_OF, (run_id,))}

    def _latest_of(self, keys: list[str]) -> dict[str, int]:
        return dict(self._conn.execute(_LATEST_OF, (json.dumps(keys),)).fetchall())

    # -- journals ------------------------------------------------------------
    def _tend(self) -> None:
        if self._auto_recover and time.monotonic() - self._recovered_at >= RECOVER_EVERY_S:
            self.recover_journals()

    def recover_journals(self, causes: Callable[[str], str | None] | None = None) -> int:
        """Write into this store what the journals of gone kernels (of this machine) hold."""
        self._recovered_at = time.monotonic()
        return recover_orphans(self, self.journal_folder, causes=causes)

    @contextmanager
    def journal_transaction(self, name: str) -> Iterator[JournalTransaction]:
        """One batch of a journal, in one transaction with the journal's new offset."""
        with self._session("write to") as conn, conn.transaction():
            self._execute("SELECT pg_advisory_xact_lock(hashtext(?))", (name,))
            row = self._execute("SELECT position, state FROM journal_offsets WHERE name = ?",
                                (name,)).fetchone()
            tx = _Transaction(self, name, row)
            yield tx
        self._written_runs.update(tx.runs)

    def forget_journal(self, name: str) -> None:
        with self._session("write to"):
            self._execute("DELETE FROM journal_offsets WHERE name = ?", (name,))

    # -- writing -------------------------------------------------------------
    def write(self, record: CellRecord, run: RunInfo | None = None) -> int:
        """Commit one record (and its run, the first time); return its id."""
        self._tend()
        with self._session("write to") as conn, conn.transaction():
            if run is not None and run.run_id not in self._written_runs:
                self._execute(_INSERT_RUN, _clean(run_row(run), _RUN_TEXT))
                self._new_run(run.run_id)
            (found,) = self._insert([record], cell_row)
        if run is not None:
            self._written_runs.add(run.run_id)
        record.id = int(found)
        return record.id

    def write_run(self, run: RunInfo) -> None:
        with self._session("write to") as conn, conn.transaction():
            self._execute(_INSERT_RUN, _clean(run_row(run), _RUN_TEXT))
            self._new_run(run.run_id)
        self._written_runs.add(run.run_id)

    def _new_run(self, run_id: str) -> None:
        """A run row written (in the caller's transaction): cells stored before it count."""
        if run_id not in self._summed_runs:
            summary.recount(self._execute, run_id)
            self._summed_runs.add(run_id)

    def set_verdict(self, record_id: int, verdict: dict[str, Any] | None, status: str | None,
                    budget: dict[str, Any] | None = None) -> None:
        """Replace a record's verdict (a CI gate adds the budget file's limits to it)."""
        with self._session("write to") as conn, conn.transaction():
            found = self._execute(summary.VERDICT_OF + " FOR UPDATE", (record_id,)).fetchone()
            self._execute(
                "UPDATE cells SET verdict = ?, verdict_status = ?, budget = COALESCE(?, budget) WHERE id = ?",
                (None if verdict is None else json.dumps(verdict, separators=(",", ":")), status,
                 None if budget is None else json.dumps(budget, separators=(",", ":")), record_id))
            change = summary.failures_change(found[1], status) if found is not None else 0
            if found is not None and change:
                self._execute(summary.ADD_FAILURES, (change, found[0]))

    # -- reading (the queries: nbprofile.store.queries) -----------------------
    def _query(self, sql: str, params: Sequence[Any], decode: Callable[[list[Any]], T]) -> T:
        self._tend()
        with self._session("read") as conn, conn.transaction():
            return decode(self._execute(sql, params).fetchall())

    def _record(self, row: Sequence[Any]) -> CellRecord:
        return record_from_row(row, self._decoder)

    def delete_runs(self, run_ids: Sequence[str]) -> Deleted:
        """Delete these runs and their records (:mod:`nbprofile.store.forget`)."""
        with self._session("write to") as conn, conn.transaction():
            # the runs' rows locked first, as a writer locks them: a batch of theirs waits
            self._execute("SELECT run_id FROM runs WHERE run_id = ANY(?) ORDER BY run_id FOR UPDATE",
                          (sorted(run_ids),))
            deleted = forget.delete_runs(self._execute, self._executemany, run_ids)
        self._forget_cached()
        return deleted

    def count(self) -> int:
        self._tend()
        with self._session("read"):
            return int(self._execute("SELECT COUNT(*) FROM cells").fetchone()[0])

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._drop()
