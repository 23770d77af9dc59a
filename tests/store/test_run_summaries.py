"""Migration 0006: a store written by an older version gets its runs' summaries (and users)
from the cells it already holds, and lists them as it did before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from nbprofile.store import SQLiteStore
from nbprofile.store.migrations import MIGRATIONS


def old_store(path: Path) -> None:
    """A file as version 0005 left it: two runs, one of them with a cell run twice and a failure."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, migrate in MIGRATIONS[:5]:
        migrate(conn)
        conn.execute("INSERT INTO migrations VALUES (?, 'then')", (name,))
    for run_id, started, info in [("old1", 100.0, {"user": "ada"}), ("old2", 200.0, {})]:
        conn.execute("INSERT INTO runs VALUES (?, '/nb.ipynb', 'k', 'box', ?, ?)",
                     (run_id, started, json.dumps(info)))
    cells = [("old1", 1, "c1", "h1", 1.0, None), ("old1", 2, None, "h2", 2.0, "fail"),
             ("old1", 3, "c1", "h1", 4.0, "pass"), ("old2", 1, "c1", "h1", None, None)]
    for run_id, seq, cell_id, code, wall, verdict in cells:
        conn.execute("INSERT INTO cells (run_id, seq, notebook, cell_id, code_hash, source, started_at,"
                     " status, wall_s, readings, verdict_status, schema_version)"
                     " VALUES (?,?,?,?,?,'x',?, 'ok', ?, '{}', ?, 1)",
                     (run_id, seq, "/nb.ipynb", cell_id, code, 100.0 + seq, wall, verdict))
    conn.close()


def test_an_older_store_gets_its_summaries_from_its_cells(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old_store(path)
    store = SQLiteStore(path)
    runs = {r["run_id"]: r for r in store.runs()}
    store.close()
    assert [r for r in runs] == ["old2", "old1"]
    old1, old2 = runs["old1"], runs["old2"]
    assert (old1["cells"], old1["executions"], old1["wall_s"], old1["budget_failures"]) == (2, 3, 7.0, 1)
    assert (old1["last_cell_at"], old1["user"]) == (103.0, "ada")
    assert (old2["cells"], old2["executions"], old2["wall_s"], old2["user"]) == (1, 1, None, None)


def test_listing_runs_reads_no_cell(tmp_path: Path) -> None:
    """The plans of the panel's and the CLI's lists: runs only, through an index, never a cell."""
    store = SQLiteStore(tmp_path / "s.db")
    store.close()
    conn = sqlite3.connect(tmp_path / "s.db")
    queries = {
        "newest": "SELECT * FROM runs WHERE 1 ORDER BY started_at DESC LIMIT 50",
        "notebook": "SELECT * FROM runs WHERE notebook = 'x' ORDER BY started_at DESC LIMIT 2",
        "mine": "SELECT * FROM runs WHERE (1) AND username = 'u' ORDER BY started_at DESC LIMIT 50",
        "kernels": "SELECT * FROM runs WHERE notebook = 'x' OR kernel_id IN ('k')"
                   " ORDER BY started_at DESC LIMIT 9",
    }
    for name, sql in queries.items():
        plan = " ".join(row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql))
        assert "cells" not in plan and "INDEX" in plan, (name, plan)
    conn.close()
