"""A record's insights (hot spots, projections) through the journal and the store; journals
written before insights existed (18 fields a record) still recover."""

from __future__ import annotations

import time
from pathlib import Path

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore
from nbprofile.store.ingest import recover_orphans
from nbprofile.store.journal import JournalWriter, record_entry, run_entry

INSIGHTS = {"hotspots": {"n": 150, "dt": 0.01, "s": 1.5, "top": [["f.py:g", "f.py:3", 0.8, 0.9, 2]]},
            "projections": [[2.0, 0.4, 4.9, 5.0, 5.2]]}


def cell(seq: int, insights: dict | None) -> CellRecord:
    return CellRecord(run_id="r1", seq=seq, notebook="/nb/a.ipynb", cell_id=f"c{seq}", execution_count=seq,
                      code_hash=code_hash("x"), source="x", started_at=time.time(), status="ok",
                      error_type=None, overhead_s=1e-5, insights=insights,
                      readings={"wall_s": Reading(2.5, "s", "measured", "perf_counter")})


def test_insights_survive_the_journal_and_the_store(tmp_path: Path) -> None:
    db = tmp_path / "records.db"
    SQLiteStore(db).close()
    run = RunInfo(run_id="r1", notebook="/nb/a.ipynb", kernel_id=None, started_at=time.time())
    journal = JournalWriter(Path(str(db) + ".journals"), "gone-1-r1-0.jsonl")
    journal.append(run_entry(run))
    journal.append(record_entry(cell(1, INSIGHTS), ends_cell=True))
    journal.append(record_entry(cell(2, None), ends_cell=True))
    old = record_entry(cell(3, None), ends_cell=True)
    old["r"] = old["r"][:18]  # a line an older nbprofile wrote: no insights field
    journal.append(old)
    journal.close(remove=False)
    store = SQLiteStore(db)  # a store that opens recovers the journals of gone kernels
    try:
        recover_orphans(store, Path(str(db) + ".journals"))
        records = store.records("r1")
    finally:
        store.close()
    assert [r.insights for r in records] == [INSIGHTS, None, None]


def test_a_record_written_directly_keeps_its_insights(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "records.db")
    try:
        store.write(cell(1, INSIGHTS), RunInfo(run_id="r1", notebook=None, kernel_id=None, started_at=1.7e9))
        (record,) = store.records("r1")
    finally:
        store.close()
    assert record.insights == INSIGHTS and record.to_json()["insights"] == INSIGHTS
