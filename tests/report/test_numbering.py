"""Cells are numbered the same way everywhere: by their execution count, as the notebook shows them."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nbprofile.cli.main import main
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.report.registry import export
from nbprofile.store import SQLiteStore


def test_reports_and_show_number_cells_by_their_execution_count(
        _isolated_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SQLiteStore(_isolated_store)
    run = RunInfo(run_id="r1", notebook="/nb/a.ipynb", kernel_id=None, started_at=time.time())
    # run out of order, as notebooks are: the third cell first (In [7]), then the first (In [9])
    for seq, count, source in ((1, 7, "third_cell()"), (2, 9, "first_cell()")):
        store.write(CellRecord(run_id="r1", seq=seq, notebook="/nb/a.ipynb", cell_id=f"c{seq}",
                               execution_count=count, code_hash=code_hash(source), source=source,
                               started_at=time.time(), status="ok", error_type=None, overhead_s=1e-5,
                               readings={"wall_s": Reading(0.5, "s", "measured", "perf_counter")}), run)
    records = store.records("r1")
    run_row = store.run("r1")
    store.close()
    markdown = export("md", records, run_row)
    assert "| 7 | `third_cell()`" in markdown and "| 9 | `first_cell()`" in markdown, markdown
    html = export("html", records, run_row)
    assert "<td>7</td>" in html and "<td>9</td>" in html
    assert main(["show", "r1"]) == 0
    shown = capsys.readouterr().out
    assert shown.index("third_cell()") < shown.index("first_cell()")
    assert any(line.strip().startswith(("│ 7", "7 ")) for line in shown.splitlines()), shown
