"""Compare's regressions are per metric: a row says which metric got worse and by how much, a metric
that improved is never called a regression, and nbprofile's own magic cells are not compared."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nbprofile.cli.main import main
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo
from nbprofile.report import registry
from nbprofile.report.compare import compare_runs, is_own_magic
from nbprofile.store import SQLiteStore

NOTEBOOK = "/work/nb.ipynb"


def record(run_id: str, cell_id: str, source: str, wall: float, cpu: float, seq: int = 1) -> CellRecord:
    return CellRecord(run_id=run_id, seq=seq, notebook=NOTEBOOK, cell_id=cell_id, execution_count=seq,
                      code_hash=cell_id, source=source, started_at=time.time(), status="ok", error_type=None,
                      readings={"wall_s": Reading(wall, "s", "measured", "perf_counter_ns"),
                                "cpu_s": Reading(cpu, "s", "measured", "getrusage")},
                      overhead_s=1e-5)


def test_faster_wall_but_slower_cpu_is_a_cpu_regression_named_with_its_change() -> None:
    # the row: `import numpy` 1.27 s → 1.07 s on the wall, but its CPU time went up
    cell = compare_runs([record("a", "c1", "import numpy", 1.27, 0.41)],
                        [record("b", "c1", "import numpy", 1.07, 0.54)]).cells[0]
    assert [r.metric for r in cell.regressions] == ["cpu_s"]
    assert cell.regression_text() == "CPU +31.7% (410 ms → 540 ms)"
    assert [r["metric"] for r in cell.to_json()["regressions"]] == ["cpu_s"]


def test_a_cell_faster_on_everything_has_no_regression() -> None:
    comparison = compare_runs([record("a", "c1", "train()", 2.0, 1.9)], [record("b", "c1", "train()", 1.0, 0.9)])
    assert comparison.regressions == [] and comparison.cells[0].regression_text() == ""
    assert comparison.cells[0].to_json()["regression"] is False


def test_reports_name_the_metric_that_regressed() -> None:
    before, after = [record("a", "c1", "import numpy", 1.27, 0.41)], [record("b", "c1", "import numpy", 1.07, 0.54)]
    run = {"run_id": "b", "notebook": NOTEBOOK, "started_at": time.time()}
    for name in ("html", "md"):
        text = registry.FORMATS[name].render(after, run, other=before, other_run={"run_id": "a"})
        assert "CPU +31.7% (410 ms → 540 ms)" in text, name


@pytest.mark.parametrize("source, own", [
    ("%nbprofile doctor", True), ("  %nbprofile report -o r.html\n", True), ("%load_ext nbprofile", True),
    ("%reload_ext nbprofile", True), ("%unload_ext nbprofile", True), ("%nbprofile", True),
    ("%nbprofiler", False), ("%load_ext nbprofile_extra", False), ("x = 1\n%nbprofile history", False),
    ("%load_ext autoreload", False),
])
def test_which_cells_are_nbprofiles_own(source: str, own: bool) -> None:
    assert is_own_magic(source) is own


def _two_runs(db: Path) -> None:
    """Run a, then run b where only nbprofile's own cells got slower; the user's cell got faster."""
    store = SQLiteStore(db)
    for run_id, slow in (("a", 1.0), ("b", 3.0)):
        store.write_run(RunInfo(run_id=run_id, notebook=NOTEBOOK, kernel_id=None, started_at=time.time()))
        cells = [record(run_id, "m1", "%load_ext nbprofile", 0.05 * slow, 0.05 * slow, 1),
                 record(run_id, "u1", "import numpy", 2.0 / slow, 1.0 / slow, 2),
                 record(run_id, "m2", "%nbprofile doctor", slow, slow, 3),
                 record(run_id, "m3", "%nbprofile report -o r.html", slow, slow, 4)]
        for cell in cells:
            store.write(cell)
        time.sleep(0.01)  # `previous` / `latest` go by start time
    store.close()


def test_nbprofiles_own_cells_are_left_out_of_compare_and_its_gate(
        _isolated_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _two_runs(_isolated_store)
    assert main(["compare", "a", "b", "--fail-on-regression", "--metrics", "wall_s,cpu_s"]) == 0
    out = capsys.readouterr().out
    rows = [line for line in out.splitlines() if line.startswith("│")]
    assert len(rows) == 1 and "import numpy" in rows[0]
    assert "0 cells regressed" in out and "3 of nbprofile's own cells" in out

    store = SQLiteStore(_isolated_store)
    comparison = compare_runs(store.records("a"), store.records("b"))
    store.close()
    assert [c.source for c in comparison.cells] == ["import numpy"] and comparison.totals_b["wall_s"] == 2.0 / 3


def test_the_cli_says_which_metric_regressed(_isolated_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SQLiteStore(_isolated_store)
    for run_id, wall, cpu in (("a", 1.27, 0.41), ("b", 1.07, 0.54)):
        store.write_run(RunInfo(run_id=run_id, notebook=NOTEBOOK, kernel_id=None, started_at=time.time()))
        store.write(record(run_id, "c1", "import numpy", wall, cpu))
    store.close()
    # the default columns (time, peak RAM) do not show CPU: the row must still say it is CPU that regressed
    assert main(["compare", "a", "b", "--fail-on-regression", "--width", "200"]) == 1
    out = capsys.readouterr().out
    assert "CPU +31.7% (410 ms → 540 ms)" in out and "1 cell regressed" in out
