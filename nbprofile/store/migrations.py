"""The schema of the SQLite store, changed only through named migrations.

Each migration is applied once, in order, in the same transaction as the row that
records it (sqlite-utils' pattern). Never edit or reorder a released migration; add one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime, timezone

from nbprofile.store import lineage


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


def _m0004_journals(conn: sqlite3.Connection) -> None:
    """Kernels append their records to journals (:mod:`nbprofile.store.journal`); how far
    each journal has been written into this store is kept here, in the same transaction
    as the records, so that a line is written once whoever writes it. ``state`` is what
    the lines so far left open: the cell that started and has no record yet."""
    conn.execute(
        "CREATE TABLE journal_offsets (name TEXT PRIMARY KEY, position INTEGER NOT NULL, state TEXT)"
    )


def _m0005_insights(conn: sqlite3.Connection) -> None:
    """What a record says about the inside of its cell (hot spots, projections): JSON, or NULL
    for the cells too short to say anything (most of them)."""
    conn.execute("ALTER TABLE cells ADD COLUMN insights TEXT")


def _m0006_run_summaries(conn: sqlite3.Connection) -> None:
    """Listing runs joined and grouped every cell of every run (~800 ms at a million records):
    each run now keeps its summary (:mod:`nbprofile.store.summary`), summed here from the cells
    already stored, and who ran it. Indexes for the lists the panel and the CLI ask for: the
    newest runs (of a user), and the runs of the kernels serving a notebook."""
    for column in ("username TEXT", "cell_count INTEGER NOT NULL DEFAULT 0",
                   "executions INTEGER NOT NULL DEFAULT 0", "wall_s REAL",
                   "budget_failures INTEGER NOT NULL DEFAULT 0", "last_cell_at REAL"):
        conn.execute(f"ALTER TABLE runs ADD COLUMN {column}")
    conn.execute("CREATE TABLE run_cells (run_id TEXT NOT NULL, cell_key TEXT NOT NULL,"
                 " PRIMARY KEY (run_id, cell_key)) WITHOUT ROWID")
    conn.execute("UPDATE runs SET username = json_extract(info, '$.user') WHERE json_valid(info)")
    conn.execute("INSERT INTO run_cells (run_id, cell_key)"
                 " SELECT run_id, COALESCE(cell_id, 'code:' || code_hash)"
                 " FROM cells WHERE true ON CONFLICT DO NOTHING")
    conn.execute(
        "UPDATE runs SET executions = s.n, wall_s = s.w, budget_failures = s.f, last_cell_at = s.l FROM"
        " (SELECT run_id, COUNT(*) AS n, SUM(wall_s) AS w,"
        " COALESCE(SUM(verdict_status = 'fail'), 0) AS f,"
        " MAX(started_at) AS l FROM cells GROUP BY run_id) AS s WHERE s.run_id = runs.run_id")
    conn.execute("UPDATE runs SET cell_count ="
                 " (SELECT COUNT(*) FROM run_cells k WHERE k.run_id = runs.run_id)")
    conn.execute("CREATE INDEX runs_by_started ON runs (started_at)")
    conn.execute("CREATE INDEX runs_by_user ON runs (username, started_at)")
    conn.execute("CREATE INDEX runs_by_kernel ON runs (kernel_id)")


def _m0007_lean_cells(conn: sqlite3.Connection) -> None:
    """Writes that do not slow down with history, and records half the size.

    The index of every record by cell id (for "the same cell's last run") touched a page per
    cell of every batch: each record now points at the same cell's record before it, and
    ``cell_latest`` holds each cell's newest (:mod:`nbprofile.store.lineage`), both filled here
    from the records already stored. And the keys a machine records repeat from cell to cell:
    ``reading_layouts`` holds each list of keys once (:mod:`nbprofile.store.vocabulary`);
    records already stored keep their form."""
    conn.execute("ALTER TABLE cells ADD COLUMN previous_id INTEGER")
    conn.execute("CREATE TABLE cell_latest (cell_key TEXT PRIMARY KEY, id INTEGER NOT NULL) WITHOUT ROWID")
    conn.execute("CREATE TABLE reading_layouts (id INTEGER PRIMARY KEY, keys TEXT NOT NULL UNIQUE)")
    for statement in lineage.BACKFILL:
        conn.execute(statement)
    conn.execute("DROP INDEX IF EXISTS cells_by_cell_id")


def _m0008_run_cell_counts(conn: sqlite3.Connection) -> None:
    """A run's distinct cells are counted by the store object that writes the run
    (:class:`nbprofile.store.summary.RunCells`), no longer kept as a row per cell of every run
    (a third of PostgreSQL's write time). The table is emptied, not dropped: a kernel of an
    older version writing to this store still fills it for its own runs and counts them from it."""
    conn.execute("DELETE FROM run_cells")


#: Applied in order, each once. Never edit or reorder a released migration; add one.
MIGRATIONS: list[tuple[str, Callable[[sqlite3.Connection], None]]] = [
    ("0001_initial", _m0001_initial),
    ("0002_lean_indexes", _m0002_lean_indexes),
    ("0003_reading_meta", _m0003_reading_meta),
    ("0004_journals", _m0004_journals),
    ("0005_insights", _m0005_insights),
    ("0006_run_summaries", _m0006_run_summaries),
    ("0007_lean_cells", _m0007_lean_cells),
    ("0008_run_cell_counts", _m0008_run_cell_counts),
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
