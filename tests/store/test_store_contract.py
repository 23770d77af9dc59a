"""The store's contract, on both backends (a SQLite file and a real PostgreSQL server): records
round-trip, runs list with their summaries (kept as records arrive, whichever way they come),
users and hosts, journals ingested once with their offsets."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store.ingest import ingest, recover_orphans
from nbprofile.store.journal import JournalWriter, record_entry, run_entry

Opener = Callable[..., Any]


def make(run: str, seq: int, cell_id: str | None, source: str = "x = 1", wall: float | None = 1.0,
         notebook: str | None = "/nb.ipynb", started: float | None = None) -> CellRecord:
    readings = {"rss_peak_bytes": Reading.unavailable("B", "no /proc here")}
    if wall is not None:
        readings["wall_s"] = Reading(wall, "s", "measured", "perf_counter")
    return CellRecord(
        run_id=run, seq=seq, notebook=notebook, cell_id=cell_id, execution_count=seq,
        code_hash=code_hash(source), source=source, started_at=started or time.time(), status="ok",
        error_type=None, overhead_s=1e-5, readings=readings,
    )


def run_info(run: str, notebook: str | None = "/nb.ipynb", user: str = "ada", kernel: str = "k1",
             started: float | None = None, host: str = "box-1") -> RunInfo:
    return RunInfo(run_id=run, notebook=notebook, kernel_id=kernel, started_at=started or time.time(),
                   nbprofile="t", user=user, host=host)


def test_a_record_round_trips_with_every_field(any_store: Opener) -> None:
    store = any_store()
    rec = make("r1", 1, "c1", source="print('é')")
    # every field its own value, so that a field read back into another's place shows
    rec.execution_count, rec.status, rec.error_type, rec.name = 7, "error", "ValueError", "step"
    rec.notes = ["cpu meter failed"]
    rec.verdict = {"items": []}
    rec.verdict_status = "pass"
    rec.budget = {"wall_s": "1s"}
    rec.insights = {"hotspots": {"samples": 3}}
    store.write(rec, run_info("r1"))
    (back,) = any_store().records("r1")  # another connection reads it
    assert back.id == rec.id and back.to_json() == rec.to_json()
    assert (back.seq, back.execution_count, back.overhead_s, back.schema_version) == (1, 7, 1e-05, 1)
    assert back.readings["rss_peak_bytes"] == Reading(None, "B", "unavailable", "", "no /proc here")
    run = store.runs()[0]
    assert (run["run_id"], run["cells"], run["executions"], run["wall_s"]) == ("r1", 1, 1, 1.0)
    assert (run["user"], run["host"], run["info"]["user"]) == ("ada", "box-1", "ada")
    assert run["info"]["kernel_id"] == "k1"


def test_a_run_counts_distinct_cells_every_execution_and_its_failures(any_store: Opener) -> None:
    """Run All twice in one kernel: 2 cells (one without an id, matched by its code), 4
    executions, the wall time of all of them; a verdict replaced later moves the failures."""
    store = any_store()
    for seq, (cell_id, source, wall) in enumerate(
            [("c1", "a()", 1.0), (None, "b()", 2.0), ("c1", "a()", 3.0), (None, "b()", 4.0)], start=1):
        rec = make("r1", seq, cell_id, source=source, wall=wall)
        rec.verdict_status = "fail" if seq == 2 else "pass"
        store.write(rec, run_info("r1"))
    run = store.runs()[0]
    assert (run["cells"], run["executions"], run["wall_s"], run["budget_failures"]) == (2, 4, 10.0, 1)
    assert store.run("r1") == run
    first = store.records("r1")[0]
    store.set_verdict(first.id, {"items": []}, "fail")
    assert store.run("r1")["budget_failures"] == 2
    store.set_verdict(first.id, {"items": []}, "pass")
    assert store.run("r1")["budget_failures"] == 1
    last = store.records("r1")[-1]
    assert last.started_at == store.run("r1")["last_cell_at"]


def test_a_run_with_no_wall_time_says_none_and_a_run_with_no_cells_zero(any_store: Opener) -> None:
    store = any_store()
    store.write_run(run_info("empty"))
    store.write(make("nowall", 1, "c1", wall=None), run_info("nowall"))
    runs = {r["run_id"]: r for r in store.runs()}
    assert (runs["empty"]["cells"], runs["empty"]["executions"], runs["empty"]["wall_s"]) == (0, 0, None)
    assert (runs["nowall"]["executions"], runs["nowall"]["wall_s"]) == (1, None)


def test_records_saved_before_their_run_count_when_the_run_arrives(any_store: Opener) -> None:
    store = any_store()
    store.write(make("late", 1, "c1", wall=2.0))
    store.write(make("late", 2, "c2", wall=3.0))
    assert store.run("late") is None
    store.write_run(run_info("late"))
    run = store.run("late")
    assert (run["cells"], run["executions"], run["wall_s"]) == (2, 2, 5.0)


def test_runs_newest_first_by_user_notebook_and_kernel(any_store: Opener) -> None:
    store = any_store()
    now = time.time()
    store.write(make("a1", 1, "c1"), run_info("a1", user="ada", started=now - 30))
    store.write(make("b1", 1, "c1"), run_info("b1", user="bob", started=now - 20, host="box-2"))
    store.write(make("a2", 1, "c1"), run_info("a2", user="ada", started=now - 10))
    store.write(make("x1", 1, "c1", notebook="/other.ipynb"),
                run_info("x1", notebook="/other.ipynb", kernel="k9", started=now))
    assert [r["run_id"] for r in store.runs()] == ["x1", "a2", "b1", "a1"]
    assert [r["run_id"] for r in store.runs(limit=2)] == ["x1", "a2"]
    assert [r["run_id"] for r in store.runs("/nb.ipynb", user="ada")] == ["a2", "a1"]
    assert [(r["run_id"], r["user"], r["host"]) for r in store.runs_of("/nb.ipynb", user="bob")] == [
        ("b1", "bob", "box-2")]
    assert [r["run_id"] for r in store.runs_of("/nb.ipynb")] == ["a2", "b1", "a1"]
    # a kernel serving the notebook after a rename: its runs count too
    assert [r["run_id"] for r in store.runs_of("/nb.ipynb", {"k9"})] == ["x1", "a2", "b1", "a1"]


def test_history_previous_and_a_pinned_cell(any_store: Opener) -> None:
    store = any_store()
    store.write(make("r1", 1, "c1", source="a()"), run_info("r1"))
    store.write(make("r1", 2, None, source="b()"), run_info("r1"))
    store.write(make("r2", 1, "c1", source="a()"), run_info("r2"))
    store.write(make("r2", 2, None, source="b()"), run_info("r2"))
    latest_three = [(r.run_id, r.seq) for r in store.history("/nb.ipynb", limit=3)]
    assert latest_three == [("r1", 2), ("r2", 1), ("r2", 2)]
    latest = store.records("r2")
    assert store.previous("c1", code_hash("a()"), "/nb.ipynb", before_id=latest[0].id).run_id == "r1"
    assert store.previous(None, code_hash("b()"), "/nb.ipynb", before_id=latest[1].id).run_id == "r1"
    assert store.find_in_run("r1", None, code_hash("b()")).seq == 2
    assert store.count() == 4


def test_a_journal_is_written_once_with_its_offset(any_store: Opener, tmp_path: Any) -> None:
    store = any_store()
    journal = JournalWriter(tmp_path / "journals", "box-1-99-j1.jsonl")
    journal.append(run_entry(run_info("j1")))
    for seq in (1, 2, 3):
        journal.append(record_entry(make("j1", seq, f"c{seq}", wall=0.5), ends_cell=True))
    written, position = ingest(store, journal.path.name, journal.read)
    assert (written, position) == (3, journal.path.stat().st_size)
    # another writer (another store object, another connection) writes nothing twice
    assert ingest(any_store(), journal.path.name, journal.read) == (0, position)
    journal.append(record_entry(make("j1", 4, "c1", wall=0.5), ends_cell=True))
    assert ingest(store, journal.path.name, journal.read)[0] == 1
    run = store.run("j1")
    assert (run["cells"], run["executions"], run["wall_s"]) == (3, 4, 2.0)
    journal.close(remove=False)


def test_a_gone_kernels_journal_is_recovered_with_its_died_cell(any_store: Opener, tmp_path: Any) -> None:
    store = any_store(recover=False)
    folder = tmp_path / "journals"
    journal = JournalWriter(folder, "box-1-98-gone.jsonl")
    journal.append(run_entry(run_info("gone")))
    journal.append(record_entry(make("gone", 1, "c1"), ends_cell=True))
    journal.append({"k": "start", "seq": 2, "at": time.time() - 3, "cell_id": "c2", "count": 2,
                    "src": "boom()"})
    journal.close(remove=False)  # the kernel is gone: nothing holds its journal
    assert recover_orphans(store, folder) == 2
    assert [(r.source, r.status) for r in store.records("gone")] == [("x = 1", "ok"), ("boom()", "died")]
    assert not list(folder.glob("*.jsonl"))
    assert store.run("gone")["executions"] == 2
