"""`nbprofile run` as a CI gate: budget files, baselines, JUnit XML, JSON summary, compare."""

from __future__ import annotations

import json
from pathlib import Path
from xml.etree import ElementTree as ET

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nbprofile.cli.main import main
from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


@pytest.fixture
def notebook(tmp_path: Path) -> tuple[Path, list[str]]:
    cells = [new_code_cell("import time"), new_code_cell("time.sleep(0.15)"),
             new_code_cell("%%budget time<=5s\nx = sum(range(1000))"), new_code_cell("y = 1")]
    nb = new_notebook(cells=cells, metadata=KERNELSPEC)
    path = tmp_path / "train.ipynb"
    nbformat.write(nb, path)
    return path, [c.id for c in nb.cells]


def budgets(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "budgets.toml"
    path.write_text(text)
    return path


def test_budget_file_failure_exits_1_with_junit_and_json(notebook, tmp_path, _isolated_store, capsys) -> None:
    path, ids = notebook
    file = budgets(tmp_path, f'[notebooks."train.ipynb".cell."{ids[1]}"]\nlimits = ["time<=50ms"]\n'
                             '[notebooks."train.ipynb"]\ntotal = ["time<=30s"]\n')
    junit, summary = tmp_path / "junit.xml", tmp_path / "summary.json"
    code = main(["run", str(path), "-q", "--budget-file", str(file), "--junit", str(junit), "--json", str(summary)])
    assert code == 1
    err = capsys.readouterr().err
    assert f"budget failed in cell {ids[1]}: time 1" in err and "> 50.0 ms" in err

    suite = ET.parse(junit).getroot()
    cases = suite.findall("testcase")
    # one case per budgeted cell (the file's cell and the %%budget cell) and one for the totals
    assert [c.get("name").split(":")[0] for c in cases] == [f"cell {ids[1]}", f"cell {ids[2]}", "run totals"]
    assert suite.get("tests") == "3" and suite.get("failures") == "1"
    assert "time 1" in cases[0].find("failure").get("message")
    assert cases[1].find("failure") is None and cases[2].find("failure") is None

    data = json.loads(summary.read_text())
    store = SQLiteStore(_isolated_store)
    stored = store.records(data["run_id"])
    assert data["exit_code"] == 1 and data["budget_failures"] == 1
    assert [c["cell_id"] for c in data["cells"]] == [r.cell_id for r in stored] == ids
    for cell, record in zip(data["cells"], stored):
        assert cell["values"] == {k: v.value for k, v in record.readings.items()}
        assert cell["verdict_status"] == record.verdict_status
    assert stored[1].verdict_status == "fail"  # the file's verdict is stored with the record, for the panel


def test_all_budgets_hold_exits_0(notebook, tmp_path, _isolated_store) -> None:
    path, ids = notebook
    file = budgets(tmp_path, '[defaults]\nlimits = ["time<=10s", "ram<=4GiB"]\n')
    assert main(["run", str(path), "-q", "--budget-file", str(file)]) == 0


def test_bad_budget_file_exits_2_before_any_kernel(notebook, tmp_path, _isolated_store, capsys) -> None:
    path, _ = notebook
    file = budgets(tmp_path, '[defaults]\nlimits = ["time<=3 parsecs"]\n')
    assert main(["run", str(path), "-q", "--budget-file", str(file)]) == 2
    assert "unknown unit 'parsecs'" in capsys.readouterr().err
    assert SQLiteStore(_isolated_store).runs() == []


def test_relative_budgets_use_the_pinned_baseline(notebook, tmp_path, _isolated_store, capsys) -> None:
    path, ids = notebook
    assert main(["run", str(path), "-q"]) == 0
    baseline = SQLiteStore(_isolated_store).runs()[0]["run_id"]
    slower = nbformat.read(path, as_version=4)
    slower.cells[1].source = "time.sleep(0.5)"  # same cell id, now much slower
    nbformat.write(slower, path)
    assert main(["run", str(path), "-q"]) == 0  # a second run, which becomes the cell's previous one
    file = budgets(tmp_path, f'[notebooks."train.ipynb".cell."{ids[1]}"]\nlimits = ["time<=+20%"]\n')
    capsys.readouterr()
    assert main(["run", str(path), "-q", "--budget-file", str(file), "--baseline", baseline]) == 1
    err = capsys.readouterr().err
    assert f"(baseline {baseline})" in err and f"run {baseline}" in err
    # against the previous run (equally slow) the same budget holds
    assert main(["run", str(path), "-q", "--budget-file", str(file)]) == 0


def test_notebook_error_exits_2_and_junit_has_the_error(tmp_path, _isolated_store) -> None:
    nb = new_notebook(cells=[new_code_cell("%%budget time<=5s\nx = 1"), new_code_cell("1/0")], metadata=KERNELSPEC)
    path = tmp_path / "broken.ipynb"
    nbformat.write(nb, path)
    junit = tmp_path / "j.xml"
    assert main(["run", str(path), "-q", "--junit", str(junit)]) == 2
    suite = ET.parse(junit).getroot()
    assert suite.get("errors") == "1"
    error = suite.find("testcase/error")
    assert error is not None and "ZeroDivisionError" in error.get("message")


def test_compare_command(notebook, _isolated_store, capsys) -> None:
    path, _ = notebook
    assert main(["run", str(path), "-q"]) == 0
    slower = nbformat.read(path, as_version=4)
    slower.cells[1].source = "time.sleep(0.4)"
    nbformat.write(slower, path)
    assert main(["run", str(path), "-q"]) == 0
    capsys.readouterr()
    assert main(["compare", "--notebook", str(path), "--fail-on-regression"]) == 1
    out = capsys.readouterr().out
    assert "! time.sleep(0.4)" in out and "1 cell regressed" in out
    assert main(["compare", "--notebook", str(path)]) == 0
    assert main(["compare"]) == 0  # no notebook named: the last two runs of the latest one
    assert "train.ipynb: run " in capsys.readouterr().out

    other = path.with_name("other.ipynb")
    nbformat.write(new_notebook(cells=[new_code_cell("z = 3")], metadata=KERNELSPEC), other)
    assert main(["run", str(other), "-q"]) == 0
    capsys.readouterr()
    assert main(["compare"]) == 2  # never one notebook's run against another's
    assert "the latest run's notebook has no earlier run" in capsys.readouterr().err
    assert main(["run", str(path.with_name("missing.ipynb")), "-q"]) == 2
    err = capsys.readouterr().err
    assert "cannot read" in err and "cells measured" not in err
