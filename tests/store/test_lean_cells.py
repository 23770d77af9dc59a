"""Migration 0007: each record points at the same cell's record before it (no index of every
record by cell), and a record's reading keys are stored once per machine's layout. On both
backends: "the same cell's last run" is found whatever came between; a store an older
version wrote gets its chains from the records it holds and reads its old records as before."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from nbprofile.readings import Reading
from nbprofile.record import code_hash
from nbprofile.store import SQLiteStore
from nbprofile.store.migrations import MIGRATIONS
from tests.store.test_store_contract import Opener, make, run_info


def test_the_same_cells_last_run_is_found_along_its_chain(any_store: Opener) -> None:
    store = any_store()
    ids: dict[tuple[str, int], int] = {}
    # c1 runs in r1, twice in r2, and in r3; other cells (with ids, and without, in two notebooks) between
    for run, seq, cell_id, source, notebook in [
            ("r1", 1, "c1", "a()", "/nb.ipynb"), ("r1", 2, None, "b()", "/nb.ipynb"),
            ("r1", 3, None, "b()", "/other.ipynb"), ("r2", 1, "c1", "a()", "/nb.ipynb"),
            ("r2", 2, "c2", "a()", "/nb.ipynb"), ("r2", 3, "c1", "a()", "/nb.ipynb"),
            ("r3", 1, None, "b()", "/other.ipynb"), ("r3", 2, "c1", "a()", "/nb.ipynb")]:
        ids[(run, seq)] = store.write(make(run, seq, cell_id, source=source, notebook=notebook),
                                      run_info(run, notebook="/nb.ipynb"))

    def previous(cell_id: str | None, source: str, notebook: str, before: tuple[str, int] | None) -> Any:
        found = store.previous(cell_id, code_hash(source), notebook,
                               before_id=ids[before] if before else None)
        return None if found is None else (found.run_id, found.seq)

    assert previous("c1", "a()", "/nb.ipynb", None) == ("r3", 2)  # the newest
    assert previous("c1", "a()", "/nb.ipynb", ("r3", 2)) == ("r2", 3)
    assert previous("c1", "a()", "/nb.ipynb", ("r2", 3)) == ("r2", 1)  # the run before, in the same run
    assert previous("c1", "a()", "/nb.ipynb", ("r2", 1)) == ("r1", 1)
    assert previous("c1", "a()", "/nb.ipynb", ("r1", 1)) is None
    assert previous("c1", "a()", "/nb.ipynb", ("r2", 2)) == ("r2", 1)  # below another cell's record
    assert previous("c2", "a()", "/nb.ipynb", None) == ("r2", 2)  # same code, another cell
    # without an id: by code, within its notebook
    assert previous(None, "b()", "/other.ipynb", ("r3", 1)) == ("r1", 3)
    assert previous(None, "b()", "/nb.ipynb", None) == ("r1", 2)
    assert previous(None, "b()", "/nowhere.ipynb", None) is None
    assert previous("c9", "a()", "/nb.ipynb", None) is None


def test_a_batch_from_a_journal_chains_its_own_cells(any_store: Opener) -> None:
    store = any_store()
    run = run_info("j1")
    with store.journal_transaction("k.jsonl") as tx:
        tx.write([run], [make("j1", seq, "c1") for seq in (1, 2, 3)], 10, {})
    first, second, third = store.records("j1")
    assert store.previous("c1", "", None, before_id=third.id).id == second.id
    assert store.previous("c1", "", None, before_id=second.id).id == first.id
    assert [r.readings["wall_s"].value for r in (first, second, third)] == [1.0, 1.0, 1.0]


def test_readings_keep_their_order_units_and_reasons(any_store: Opener) -> None:
    store = any_store()
    record = make("o1", 1, "c1")
    record.readings = {"wall_s": Reading(2.5, "s", "measured", "perf_counter"),
                       "llm_tokens": Reading(1200, "tokens", "measured", "nbprofile.llm"),
                       "vram_peak_bytes": Reading.unavailable("B", "no NVIDIA GPU"),
                       "energy_j": Reading(3.25, "J", "estimated", "tdp-share", "TDP x CPU share")}
    store.write(record, run_info("o1"))
    other = make("o1", 2, "c2")  # another set of keys: another layout
    store.write(other, run_info("o1"))
    got = store.records("o1")
    assert list(got[0].readings.items()) == list(record.readings.items())
    assert got[0].readings["llm_tokens"].value.__class__ is int
    assert got[1].readings == other.readings


def _store_as_0006_left_it(path: Path) -> None:
    """Three records of cell c1 and two of a cell without an id, readings in 0006's form."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
    for name, migrate in MIGRATIONS[:6]:
        migrate(conn)
        conn.execute("INSERT INTO migrations VALUES (?, 'then')", (name,))
    conn.execute("INSERT INTO reading_meta (id, unit, method, source, note) VALUES"
                 " (1, 's', 'measured', 'perf_counter', '')")
    conn.execute("INSERT INTO runs (run_id, notebook, kernel_id, host, started_at, info)"
                 " VALUES ('old', '/nb.ipynb', 'k', 'box', 100, '{}')")
    for seq, cell_id, source, wall in [(1, "c1", "a()", 1.0), (2, None, "b()", 2.0), (3, "c1", "a()", 3.0),
                                       (4, None, "b()", 4.0), (5, "c1", "a()", 5.0)]:
        conn.execute("INSERT INTO cells (run_id, seq, notebook, cell_id, code_hash, source, started_at,"
                     " status, wall_s, readings, schema_version) VALUES ('old', ?, '/nb.ipynb', ?, ?, ?, ?,"
                     " 'ok', ?, ?, 1)", (seq, cell_id, code_hash(source), source, 100.0 + seq, wall,
                                          json.dumps({"wall_s": [wall, 1]})))
    conn.close()


def test_an_older_store_gets_its_chains_and_reads_its_records_as_before(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    _store_as_0006_left_it(path)
    store = SQLiteStore(path)
    old = store.records("old")
    assert [r.readings["wall_s"] for r in old] == [Reading(float(w), "s", "measured", "perf_counter")
                                                   for w in (1, 2, 3, 4, 5)]
    assert store.previous("c1", "", "/nb.ipynb", before_id=old[4].id).seq == 3
    assert store.previous("c1", "", "/nb.ipynb", before_id=old[2].id).seq == 1
    assert store.previous(None, code_hash("b()"), "/nb.ipynb", before_id=old[3].id).seq == 2
    # a new record of c1 follows on from the old ones, in the new form
    new_id = store.write(make("new", 1, "c1", source="a()", wall=6.0), run_info("new"))
    assert store.previous("c1", "", "/nb.ipynb", before_id=new_id).seq == 5
    store.close()
    conn = sqlite3.connect(path)
    indexes = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    new_form = conn.execute("SELECT readings FROM cells WHERE id = ?", (new_id,)).fetchone()[0]
    conn.close()
    assert "cells_by_cell_id" not in indexes
    assert new_form.startswith("[") and "wall_s" not in new_form  # the keys are in the layout


def test_an_older_team_database_gets_its_chains(pg_url: str) -> None:
    import psycopg

    from nbprofile.store import open_store
    from nbprofile.store.postgres_schema import BODIES

    with psycopg.connect(pg_url, autocommit=True, connect_timeout=10) as conn:
        conn.execute("CREATE TABLE migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        for name, _ in MIGRATIONS[:6]:
            for statement in BODIES[name]:
                conn.execute(statement)
            conn.execute("INSERT INTO migrations VALUES (%s, 'then')", (name,))
        conn.execute("INSERT INTO reading_meta (unit, method, source, note) VALUES"
                     " ('s', 'measured', 'perf_counter', '')")
        for seq, cell_id in [(1, "c1"), (2, None), (3, "c1"), (4, None)]:
            conn.execute("INSERT INTO cells (run_id, seq, notebook, cell_id, code_hash, source, started_at,"
                         " status, wall_s, readings, schema_version) VALUES ('old', %s, '/nb.ipynb', %s, %s,"
                         " 'x', %s, 'ok', 1.0, '{\"wall_s\": [1.0, 1]}', 1)",
                         (seq, cell_id, code_hash("b()"), 100.0 + seq))
    store = open_store(pg_url, recover=False)
    old = store.records("old")
    assert [r.readings["wall_s"].value for r in old] == [1.0] * 4
    assert store.previous("c1", "", "/nb.ipynb").seq == 3
    assert store.previous("c1", "", "/nb.ipynb", before_id=old[2].id).seq == 1
    assert store.previous(None, code_hash("b()"), "/nb.ipynb", before_id=old[3].id).seq == 2
    store.close()


def test_a_batch_larger_than_a_block_of_ids_and_two_writers(any_store: Opener) -> None:
    first, second = any_store(), any_store()  # two writers on one store (two kernels)
    with first.journal_transaction("a.jsonl") as tx:
        tx.write([run_info("big")], [make("big", seq, f"c{seq % 7}") for seq in range(1, 2501)], 1, {})
    second.write(make("other", 1, "c3"), run_info("other"))
    with first.journal_transaction("a.jsonl") as tx:
        tx.write([], [make("big", 2501, "c3")], 2, {})
    big = first.records("big")
    ids = [r.id for r in big]
    assert len(big) == 2501 and len(set(ids)) == 2501 and ids == sorted(ids)
    assert first.run("big")["cells"] == 7
    other = second.records("other")[0]
    assert other.id not in ids
    # c3's chain: the last of the big batch, then the other writer's, then the big batch's before
    assert first.previous("c3", "", None).run_id == "big"
    assert first.previous("c3", "", None, before_id=big[-1].id).id == other.id
    assert first.previous("c3", "", None, before_id=other.id).seq == 2495  # 2495 % 7 == 3


def test_a_notebooks_history_is_its_latest_records_across_runs(any_store: Opener) -> None:
    store = any_store()
    cells = [("r1", seq, 100.0 + seq) for seq in range(1, 6)]  # started at 101..105
    cells += [("r2", seq, 110.0 + seq) for seq in range(1, 4)]  # 111..113
    cells += [("r4", 1, 106.0), ("r4", 2, 112.5)]  # a second kernel, its cells between r2's
    for run, seq, started in cells:
        store.write(make(run, seq, f"c{seq}", started=started), run_info(run, started=started - seq))
    store.write(make("r3", 1, "c1", notebook="/other.ipynb", started=120.0),
                run_info("r3", notebook="/other.ipynb", started=119.0))
    latest = [(r.run_id, r.started_at) for r in store.history("/nb.ipynb", limit=5)]
    assert latest == [("r4", 106.0), ("r2", 111.0), ("r2", 112.0), ("r4", 112.5), ("r2", 113.0)]
    assert [r.run_id for r in store.history("/other.ipynb")] == ["r3"]
    assert len(store.history("/nb.ipynb", limit=100)) == 10
    assert store.history("/nowhere.ipynb") == []


def test_a_batch_whose_records_bring_new_reading_descriptions(any_store: Opener) -> None:
    """Descriptions and layouts first met in the middle of a batch (PostgreSQL stores them
    between two parts of its COPY) are stored, and every record reads back as written."""
    store = any_store()
    records = [make("v", seq, f"c{seq}") for seq in range(1, 7)]
    records[2].readings["gpu0_energy_j"] = Reading(12.5, "J", "measured", "nvml", "counter")
    records[4].readings["cost_usd"] = Reading.unavailable("USD", "no price for this model")
    records[5].readings["gpu0_energy_j"] = Reading(3.0, "J", "measured", "nvml", "counter")
    with store.journal_transaction("v.jsonl") as tx:
        tx.write([run_info("v")], records, 1, {})
    again = store.records("v")
    assert [r.readings for r in again] == [r.readings for r in records]
    assert store.run("v")["cells"] == 6


def test_a_nul_in_a_cells_strings_is_stored_and_chained(any_store: Opener) -> None:
    """SQLite keeps a NUL; PostgreSQL's text refuses it, so there it is kept as the text
    ``\\x00``. Either way the record is stored, and its cell's chain holds."""
    store = any_store()
    kept = "\x00" if any_store.backend == "sqlite" else "\\x00"  # type: ignore[attr-defined]
    with store.journal_transaction("n.jsonl") as tx:
        tx.write([run_info("n\x00")], [make("n\x00", seq, "c\x00", source="a\x00b", notebook="/n\x00.ipynb")
                                       for seq in (1, 2)], 1, {})
    store.write(make("n\x00", 3, "c\x00", source="a\x00b", notebook="/n\x00.ipynb"), run_info("n\x00"))
    records = store.records(f"n{kept}")
    assert [(r.cell_id, r.source, r.notebook) for r in records] == [
        (f"c{kept}", f"a{kept}b", f"/n{kept}.ipynb")] * 3
    assert store.previous(f"c{kept}", "", None, before_id=records[2].id).id == records[1].id
    assert store.run(f"n{kept}")["cells"] == 1
