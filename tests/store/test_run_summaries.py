"""Runs' summaries. Migration 0006: a store written by an older version gets its runs'
summaries (and users) from the cells it already holds, and lists them as it did before.
A run's distinct cells are counted right whoever writes them (0008)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from nbprofile.store import SQLiteStore
from nbprofile.store.migrations import MIGRATIONS
from tests.store.test_store_contract import Opener, make, run_info


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


def test_a_runs_cells_are_counted_once_whoever_writes_them(any_store: Opener) -> None:
    """A kernel's writer and another process recovering its journal write one run in turns:
    each counts the cells the other added (a writer's own count is checked against the run's
    executions), and a batch rolled back adds nothing."""
    kernel, server = any_store(), any_store()

    def batch(store: Any, *cells: str | None, fail: bool = False) -> None:
        seq = batch.seq  # type: ignore[attr-defined]
        batch.seq += len(cells)  # type: ignore[attr-defined]
        try:
            with store.journal_transaction("k.jsonl") as tx:
                tx.write([run_info("r")], [make("r", seq + i, cell, source=f"s{cell}")
                                           for i, cell in enumerate(cells)], seq, {})
                if fail:
                    raise KeyboardInterrupt
        except KeyboardInterrupt:
            batch.seq -= len(cells)  # type: ignore[attr-defined]
    batch.seq = 1  # type: ignore[attr-defined]

    for writer, cells, fail, counted in [
            (kernel, ("c1", "c2", "c1"), False, 2), (server, ("c2", "c3"), False, 3),
            (kernel, ("c3", "c4"), False, 4),  # c3 came from the server: not counted again
            (kernel, ("c5",), True, 4),  # rolled back
            (server, ("c4", None), False, 5),  # a cell without an id counts by its code
            (kernel, ("c5", None), False, 6)]:
        batch(writer, *cells, fail=fail)
        assert writer.run("r")["cells"] == counted, cells
    run = server.run("r")
    assert (run["cells"], run["executions"]) == (6, 11)
    assert len({(r.cell_id, r.code_hash if r.cell_id is None else "") for r in server.records("r")}) == 6


def test_the_table_of_every_runs_cells_is_emptied(tmp_path: Path) -> None:
    """0008: counts kept, the table an older version filled emptied (it is left for such a
    version's kernels, which still write to it)."""
    path = tmp_path / "old.db"
    old_store(path)
    store = SQLiteStore(path)
    store.write(make("old2", 2, "c2"), run_info("old2"))
    store.close()
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT COUNT(*) FROM run_cells").fetchone() == (0,)
    assert conn.execute("SELECT run_id, cell_count FROM runs ORDER BY run_id").fetchall() == [
        ("old1", 2), ("old2", 2)]
    conn.close()
