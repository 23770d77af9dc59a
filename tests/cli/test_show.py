"""`nbprofile show` names runs as `compare` does: a run id, `latest`, `previous`, of a notebook or not."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nbprofile.cli.main import main
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore


def store_run(db: Path, run_id: str, notebook: str, source: str, started: float) -> None:
    store = SQLiteStore(db)
    record = CellRecord(run_id=run_id, seq=1, notebook=notebook, cell_id="c1", execution_count=1,
                        code_hash=code_hash(source), source=source, started_at=started, status="ok",
                        error_type=None, overhead_s=1e-5,
                        readings={"wall_s": Reading(0.5, "s", "measured", "perf_counter")})
    store.write(record, RunInfo(run_id=run_id, notebook=notebook, kernel_id=None, started_at=started))
    store.close()


def test_show_takes_previous_as_compare_does(_isolated_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    now = time.time()
    store_run(_isolated_store, "older", "/nb/a.ipynb", "first_version()", now - 100)
    store_run(_isolated_store, "newer", "/nb/a.ipynb", "second_version()", now - 50)
    store_run(_isolated_store, "other", "/nb/b.ipynb", "another_notebook()", now - 80)
    assert main(["show", "previous"]) == 0
    assert "first_version()" in capsys.readouterr().out
    assert main(["show", "latest"]) == 0
    assert "second_version()" in capsys.readouterr().out
    assert main(["show", "previous", "--notebook", "/nb/b.ipynb"]) == 2  # b has one run only
    assert "no previous run of /nb/b.ipynb" in capsys.readouterr().err
    assert main(["show", "other"]) == 0
    assert "another_notebook()" in capsys.readouterr().out


def test_runs_counts_cells_and_executions(_isolated_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Run All twice in one kernel: one run, two cells, four executions, the time of all four."""
    now = time.time()
    store = SQLiteStore(_isolated_store)
    run = RunInfo(run_id="twice", notebook="/nb/a.ipynb", kernel_id=None, started_at=now)
    for seq, cell in enumerate(["c1", "c2", "c1", "c2"], start=1):
        store.write(CellRecord(run_id="twice", seq=seq, notebook="/nb/a.ipynb", cell_id=cell,
                               execution_count=seq, code_hash=code_hash(cell), source=f"{cell}()",
                               started_at=now + seq, status="ok", error_type=None, overhead_s=1e-5,
                               readings={"wall_s": Reading(0.5, "s", "measured", "perf_counter")}), run)
    store.close()
    assert main(["runs", "--width", "80"]) == 0
    out = capsys.readouterr().out
    (row,) = [line for line in out.splitlines() if "twice" in line]
    assert row.split()[2:6] == ["/nb/a.ipynb", "2", "(4)", "2.00"], row  # 2 cells (4 executions), 2 s
    words = " ".join(out.split())
    assert "cells: distinct cells (and executions, where a cell ran more than once)" in words
    assert "time: all executions" in words


def test_runs_and_report_name_a_notebook_either_way(_isolated_store: Path, capsys: pytest.CaptureFixture[str],
                                                    tmp_path: Path) -> None:
    """`runs nb` and `runs --notebook nb` (as compare and show name it) list the same runs; two
    different notebooks named at once are refused with a line that says so."""
    now = time.time()
    store_run(_isolated_store, "run-of-a", "/nb/a.ipynb", "a()", now - 100)
    store_run(_isolated_store, "run-of-b", "/nb/b.ipynb", "b()", now - 50)
    assert main(["runs", "/nb/a.ipynb"]) == 0
    positional = capsys.readouterr().out
    assert main(["runs", "--notebook", "/nb/a.ipynb"]) == 0
    assert capsys.readouterr().out == positional
    assert "run-of-a" in positional and "run-of-b" not in positional
    with pytest.raises(SystemExit) as exited:
        main(["runs", "/nb/a.ipynb", "--notebook", "/nb/b.ipynb"])
    assert exited.value.code == 2
    assert "two notebooks named (/nb/a.ipynb and --notebook /nb/b.ipynb): name one" in capsys.readouterr().err
    out = tmp_path / "b.json"
    assert main(["report", "--notebook", "/nb/b.ipynb", "-o", str(out)]) == 0
    assert '"run-of-b"' in out.read_text() and '"run-of-a"' not in out.read_text()
