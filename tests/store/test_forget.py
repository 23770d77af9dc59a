"""Deleting runs, on both backends: the runs and their records go, the others keep their
summaries, and "the same cell's last run" still reaches past the gap (each record's chain
and each cell's newest record are pointed to the nearest record kept)."""

from __future__ import annotations

import time
from typing import Any

from nbprofile.record import code_hash
from tests.store.test_store_contract import Opener, make, run_info

#: a record whose chain points at no stored record
BROKEN_LINKS = ("SELECT COUNT(*) FROM cells c WHERE c.previous_id IS NOT NULL"
                " AND NOT EXISTS (SELECT 1 FROM cells p WHERE p.id = c.previous_id)")
#: a cell whose newest record, as cell_latest names it, is not stored
BROKEN_LATEST = ("SELECT COUNT(*) FROM cell_latest l"
                 " WHERE NOT EXISTS (SELECT 1 FROM cells c WHERE c.id = l.id)")


def _count(store: Any, sql: str) -> int:
    return int(store._query(sql, (), lambda rows: rows[0][0]))


def _history(store: Any) -> dict[str, int]:
    """Four runs of one notebook, a day apart: c1 in each (twice in r2), c2 only in r1 and r2,
    and a cell without an id (found by its code) in r1 and r3. Their records' ids."""
    ids: dict[str, int] = {}
    day = 86400.0
    start = time.time() - 10 * day
    plan = {"r1": [("c1", "a()"), ("c2", "b()"), (None, "c()")],
            "r2": [("c1", "a()"), ("c2", "b()"), ("c1", "a()")],
            "r3": [("c1", "a()"), (None, "c()")],
            "r4": [("c1", "a()")]}
    for n, (run, cells) in enumerate(plan.items()):
        started = start + n * day
        for seq, (cell_id, source) in enumerate(cells, start=1):
            ids[f"{run}.{seq}"] = store.write(make(run, seq, cell_id, source=source, started=started + seq),
                                              run_info(run, started=started))
    return ids


def _previous(store: Any, cell_id: str | None, source: str, before: int | None = None) -> int | None:
    found = store.previous(cell_id, code_hash(source), "/nb.ipynb", before_id=before)
    return None if found is None else found.id


def test_a_run_deleted_from_the_middle_leaves_the_cells_chains_whole(any_store: Opener) -> None:
    store = any_store()
    ids = _history(store)
    deleted = store.delete_runs(["r2"])
    assert (deleted.runs, deleted.records) == (1, 3)
    assert store.records("r2") == [] and store.run("r2") is None
    assert [r["run_id"] for r in store.runs("/nb.ipynb")] == ["r4", "r3", "r1"]
    assert store.count() == 6
    # r3's c1 came after r2's: its last run is now r1's
    assert _previous(store, "c1", "a()", before=ids["r3.1"]) == ids["r1.1"]
    assert _previous(store, "c1", "a()") == ids["r4.1"]
    # c2's newest record was in r2: it is r1's now
    assert _previous(store, "c2", "b()") == ids["r1.2"]
    assert _previous(store, None, "c()") == ids["r3.2"]
    assert _count(store, BROKEN_LINKS) == 0 and _count(store, BROKEN_LATEST) == 0
    # the others keep their summaries
    assert {r["run_id"]: (r["cells"], r["executions"]) for r in store.runs()} == {
        "r1": (3, 3), "r3": (2, 2), "r4": (1, 1)}


def test_the_newest_run_deleted_makes_the_one_before_the_newest(any_store: Opener) -> None:
    store = any_store()
    ids = _history(store)
    store.delete_runs(["r4"])
    assert _previous(store, "c1", "a()") == ids["r3.1"]
    # a new record of c1 chains to r3's, as if r4 had never been
    new = store.write(make("r5", 1, "c1", source="a()"), run_info("r5"))
    assert _previous(store, "c1", "a()", before=new) == ids["r3.1"]
    assert _count(store, BROKEN_LINKS) == 0 and _count(store, BROKEN_LATEST) == 0


def test_every_record_of_a_cell_deleted_forgets_the_cell(any_store: Opener) -> None:
    store = any_store()
    _history(store)
    store.delete_runs(["r1", "r2"])  # c2's only runs
    assert _previous(store, "c2", "b()") is None
    assert _count(store, "SELECT COUNT(*) FROM cell_latest WHERE cell_key = 'c2'") == 0
    assert _previous(store, "c1", "a()", before=_previous(store, "c1", "a()")) is not None  # r4's, then r3's
    assert _count(store, BROKEN_LINKS) == 0 and _count(store, BROKEN_LATEST) == 0


def test_runs_before_an_age_are_the_retentions(any_store: Opener) -> None:
    store = any_store()
    _history(store)
    cutoff = store.run("r3")["started_at"]
    assert [r["run_id"] for r in store.runs_before(cutoff)] == ["r2", "r1"]
    assert [r["run_id"] for r in store.runs_before(cutoff, "/other.ipynb")] == []
    assert [r["run_id"] for r in store.runs_before(cutoff, user="someone else")] == []
    deleted = store.delete_runs([r["run_id"] for r in store.runs_before(cutoff)])
    assert (deleted.runs, deleted.records) == (2, 6)
    assert [r["run_id"] for r in store.runs()] == ["r4", "r3"]
    assert _count(store, BROKEN_LINKS) == 0 and _count(store, BROKEN_LATEST) == 0


def test_a_run_that_is_not_there_deletes_nothing(any_store: Opener) -> None:
    store = any_store()
    _history(store)
    deleted = store.delete_runs(["no-such-run"])
    assert (deleted.runs, deleted.records) == (0, 0)
    assert store.count() == 9


def test_a_store_opened_again_writes_a_deleted_runs_cells_anew(any_store: Opener) -> None:
    """A second store object (another kernel) that wrote the run before keeps no stale summary."""
    writer, other = any_store(), any_store()
    writer.write(make("r1", 1, "c1"), run_info("r1"))
    other.delete_runs(["r1"])
    writer.write(make("r2", 1, "c1"), run_info("r2"))
    assert [(r["run_id"], r["cells"]) for r in writer.runs()] == [("r2", 1)]
