"""The SQLite store: migrations, round trips, matching earlier runs of a cell, shared use."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nbprofile.errors import StoreError
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore, default_path
from nbprofile.store.migrations import MIGRATIONS


def make(run: str, seq: int, cell_id: str | None, source: str = "x = 1", notebook: str | None = "/nb.ipynb",
         wall: float = 1.0) -> CellRecord:
    return CellRecord(
        run_id=run, seq=seq, notebook=notebook, cell_id=cell_id, execution_count=seq,
        code_hash=code_hash(source), source=source, started_at=time.time(), status="ok",
        error_type=None, overhead_s=1e-5,
        readings={"wall_s": Reading(wall, "s", "measured", "perf_counter"),
                  "rss_peak_bytes": Reading.unavailable("B", "no /proc here")},
    )


def run_info(run: str, notebook: str | None = "/nb.ipynb") -> RunInfo:
    return RunInfo(run_id=run, notebook=notebook, kernel_id="k1", started_at=time.time(), nbprofile="t")


def test_default_path_follows_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NBPROFILE_DB", str(tmp_path / "x.db"))
    assert default_path() == tmp_path / "x.db"
    monkeypatch.delenv("NBPROFILE_DB")
    assert default_path() == tmp_path / "jupyter-data" / "nbprofile" / "records.db"


def test_new_store_is_wal_and_migrated_once(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    SQLiteStore(path).close()
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    names = [row[0] for row in conn.execute("SELECT name FROM migrations")]
    assert names == [name for name, _ in MIGRATIONS]


def test_record_round_trip_keeps_every_field(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    rec = make("r1", 1, "c1")
    rec.notes = ["cpu meter failed"]
    rec.verdict = {"items": []}
    rec.verdict_status = "pass"
    store.write(rec, run_info("r1"))
    (back,) = store.records("r1")
    assert back.id == rec.id and back.to_json() == rec.to_json()
    assert back.readings["rss_peak_bytes"] == Reading(None, "B", "unavailable", "", "no /proc here")
    run = store.runs()[0]
    assert run["run_id"] == "r1" and run["cells"] == 1 and run["wall_s"] == 1.0
    assert run["info"]["kernel_id"] == "k1"


def test_a_run_counts_distinct_cells_and_every_execution(tmp_path: Path) -> None:
    """Run All twice in one kernel: one run, 2 cells (one without an id, matched by its code),
    4 executions, and a wall time over all of them."""
    store = SQLiteStore(tmp_path / "s.db")
    for seq, (cell_id, source, wall) in enumerate(
            [("c1", "a()", 1.0), (None, "b()", 2.0), ("c1", "a()", 3.0), (None, "b()", 4.0)], start=1):
        store.write(make("r1", seq, cell_id, source=source, wall=wall), run_info("r1"))
    run = store.runs()[0]
    assert (run["cells"], run["executions"], run["wall_s"]) == (2, 4, 10.0)
    assert store.run("r1") == run
    store.write(make("r2", 1, "c1"), run_info("r2"))
    store.write(make("r2", 2, "c2"), run_info("r2"))
    assert {r["run_id"]: (r["cells"], r["executions"]) for r in store.runs()} == {"r1": (2, 4), "r2": (2, 2)}
    store.close()


def test_readings_described_by_another_kernel_and_old_full_form_rows_are_read(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    first, second = SQLiteStore(path), SQLiteStore(path)
    first.write(make("r1", 1, "c1"), run_info("r1"))
    rec = make("r2", 1, "c2")
    rec.readings["energy_j"] = Reading(2.5, "J", "estimated", "cpu-time x TDP", "estimated from CPU time")
    second.write(rec, run_info("r2"))  # a description the first store has not seen
    (back,) = first.records("r2")
    assert back.readings == rec.readings
    # a row as nbprofile wrote it before reading descriptions were stored once
    conn = sqlite3.connect(path)
    full = '{"wall_s":[3.0,"s","measured","perf_counter"],"co2_g":[null,"g","unavailable","","no energy"]}'
    conn.execute("UPDATE cells SET readings = ? WHERE run_id = 'r1'", (full,))
    conn.commit()
    (old,) = second.records("r1")
    assert old.readings == {"wall_s": Reading(3.0, "s", "measured", "perf_counter"),
                            "co2_g": Reading(None, "g", "unavailable", "", "no energy")}
    # each description is stored once, however many cells use it
    for seq in range(2, 12):
        first.write(make("r1", seq, f"c{seq}"))
    assert conn.execute("SELECT COUNT(*) FROM reading_meta").fetchone()[0] == 3


def test_previous_matches_by_cell_id_else_by_code_hash(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    store.write(make("r1", 1, "c1", "a = 1", wall=1.0), run_info("r1"))
    store.write(make("r1", 2, None, "b = 2", wall=2.0), run_info("r1"))
    store.write(make("r2", 1, "c1", "a = 1  # edited", wall=3.0), run_info("r2"))
    latest = make("r3", 1, "c1", "a = 1  # edited again")
    store.write(latest, run_info("r3"))
    found = store.previous("c1", latest.code_hash, "/nb.ipynb", before_id=latest.id)
    assert found is not None and found.value("wall_s") == 3.0  # same id, whatever the code
    by_code = store.previous(None, code_hash("b = 2"), "/nb.ipynb")
    assert by_code is not None and by_code.value("wall_s") == 2.0
    assert store.previous(None, code_hash("b = 2"), "/other.ipynb") is None
    assert store.previous("unknown", code_hash("nothing"), "/nb.ipynb") is None
    # a copied cell (new id, same code) is another cell: no history of its own
    assert store.previous("copy-of-b", code_hash("b = 2"), "/nb.ipynb") is None


def test_history_is_per_notebook_oldest_first(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db")
    for i in range(5):
        store.write(make("r1", i, f"c{i}"), run_info("r1"))
    store.write(make("r9", 1, "z", notebook="/other.ipynb"), run_info("r9", "/other.ipynb"))
    assert [r.cell_id for r in store.history("/nb.ipynb", 3)] == ["c2", "c3", "c4"]
    assert [r["run_id"] for r in store.runs("/other.ipynb")] == ["r9"]


def test_unwritable_store_is_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(StoreError, match="cannot open the record store .*set NBPROFILE_DB"):
        SQLiteStore(blocker / "sub" / "s.db")


WRITER = """
import sys, time
from nbprofile.store import SQLiteStore
from nbprofile.record import CellRecord, RunInfo
from nbprofile.readings import Reading
store = SQLiteStore(sys.argv[1]); run = sys.argv[2]
info = RunInfo(run_id=run, notebook=None, kernel_id=None, started_at=time.time())
for i in range(int(sys.argv[3])):
    store.write(CellRecord(run_id=run, seq=i, notebook=None, cell_id=f"{run}-{i}", execution_count=i,
        code_hash="h", source="x", started_at=time.time(), status="ok", error_type=None,
        readings={"wall_s": Reading(0.1, "s", "measured")}, overhead_s=0.0), info)
"""


def test_concurrent_writers_and_a_reader_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    SQLiteStore(path).close()
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(path), f"w{i}", "500"]) for i in range(4)]
    reader = SQLiteStore(path)
    while any(p.poll() is None for p in procs):
        reader.runs()  # a server polling while kernels write
    assert [p.returncode for p in procs] == [0, 0, 0, 0]
    for i in range(4):
        assert sorted(r.seq for r in reader.records(f"w{i}")) == list(range(500))


OPENER = """
import sys, time
from nbprofile.store import SQLiteStore
path, start = sys.argv[1], float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))  # all openers start together
SQLiteStore(path).close()
"""


def test_kernels_opening_a_new_store_at_once_all_open_it(tmp_path: Path) -> None:
    # Switching a new file to WAL answers "locked" without waiting; every opener must still get in.
    for round_ in range(8):
        path = tmp_path / f"new{round_}.db"
        start = time.time() + 1.0
        procs = [subprocess.Popen([sys.executable, "-c", OPENER, str(path), str(start)],
                                  stderr=subprocess.PIPE, text=True) for _ in range(4)]
        errors = [p.communicate()[1] for p in procs if p.wait() != 0]
        assert errors == [], errors[0].splitlines()[-1]
        conn = sqlite3.connect(path)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert [n for (n,) in conn.execute("SELECT name FROM migrations ORDER BY name")] == \
            [name for name, _ in MIGRATIONS]
        conn.close()
