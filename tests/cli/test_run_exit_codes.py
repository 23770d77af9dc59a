"""`nbprofile run`'s exit codes and what it prints, as the README states them: 0 every budget holds,
1 a budget failed, 2 the notebook itself failed or could not run."""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nbprofile.cli.main import main
from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write(path: Path, *sources: str) -> list[str]:
    nb = new_notebook(cells=[new_code_cell(s) for s in sources], metadata=KERNELSPEC)
    nbformat.write(nb, path)
    return [c.id for c in nb.cells]


def stored(db: Path) -> list:
    store = SQLiteStore(db)
    (run,) = store.runs()
    return store.records(run["run_id"])


@pytest.mark.parametrize("budget, body, limit", [
    ("--strict time<=0.05s", "time.sleep(0.2)", "> 50.0 ms"),
    ("--enforce time<=0.2s", "time.sleep(30)", "time<=0.2s"),
])
def test_a_budget_that_stops_the_run_exits_1_naming_the_cell_and_the_limit(
        tmp_path: Path, _isolated_store: Path, capsys, budget: str, body: str, limit: str) -> None:
    path = tmp_path / "budgeted.ipynb"
    ids = write(path, "import time", f"%%budget {budget}\n{body}", "x = 1")
    assert main(["run", str(path), "-q"]) == 1
    err = capsys.readouterr().err
    stop = next(line for line in err.splitlines() if line.startswith("nbprofile run: "))
    assert f"cell #2 (id {ids[1]})" in stop and "budget" in stop and limit in stop
    assert "raised" not in err  # a budget failure, not a crashed notebook
    assert [r.cell_id for r in stored(_isolated_store)] == ids[:2]  # the run still stops at that cell


def test_a_failed_run_total_is_counted_in_the_summary(tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "train.ipynb"
    write(path, "import time", "time.sleep(0.15)", "y = 1")
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[notebooks."train.ipynb"]\ntotal = ["time<=1ms"]\n')
    summary = tmp_path / "summary.json"
    assert main(["run", str(path), "-q", "--budget-file", str(budgets), "--json", str(summary)]) == 1
    err = capsys.readouterr().err
    assert "run totals: fail: time" in err
    assert "1 budget failure (run totals: time);" in err and "0 budget failures" not in err
    assert json.loads(summary.read_text())["budget_failures"] == 1


def test_a_notebook_key_that_names_no_notebook_is_an_error(tmp_path: Path, _isolated_store: Path,
                                                           capsys) -> None:
    path = tmp_path / "train.ipynb"
    write(path, "import time", "time.sleep(0.15)")
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[notebooks."noloadd.ipynb"]\ncells = ["time<=1ms"]\n')
    assert main(["run", str(path), "-q", "--budget-file", str(budgets)]) == 2
    err = capsys.readouterr().err
    assert 'notebooks."noloadd.ipynb"' in err and "train.ipynb" in err and "names no notebook" in err
    assert SQLiteStore(_isolated_store).runs() == []  # stopped before any kernel started


def test_allow_errors_runs_every_cell_and_still_exits_2(tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "broken.ipynb"
    ids = write(path, "1/0", "x = 1", "undefined_name", "y = 2")
    assert main(["run", str(path), "-q", "--allow-errors"]) == 2
    err = capsys.readouterr().err
    assert [r.cell_id for r in stored(_isolated_store)] == ids  # every cell ran and was recorded
    assert f"cell #1 (id {ids[0]}) raised ZeroDivisionError" in err
    assert f"cell #3 (id {ids[2]}) raised NameError" in err


def test_a_cell_without_an_id_is_named_by_its_number_and_first_line(tmp_path: Path, _isolated_store: Path,
                                                                    capsys) -> None:
    nb = new_notebook(cells=[new_code_cell("x = 1"), new_code_cell("# divide\n\n1/0")], metadata=KERNELSPEC)
    nb.nbformat_minor = 4  # before nbformat 4.5: cells have no ids
    for cell in nb.cells:
        del cell["id"]
    path = tmp_path / "old.ipynb"
    path.write_text(json.dumps(nb))
    assert main(["run", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert 'cell #2 ("# divide") raised ZeroDivisionError' in err and "id ?" not in err


def test_keys_for_other_notebooks_that_exist_are_fine_and_a_glob_that_matches_nothing_is_not(
        tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "train.ipynb"
    write(path, "x = 1")
    write(tmp_path / "other.ipynb", "y = 1")
    (tmp_path / "nb" / "deep").mkdir(parents=True)
    write(tmp_path / "nb" / "deep" / "gpu.ipynb", "z = 1")  # a budget file's * crosses folders
    budgets = tmp_path / "budgets.toml"
    budgets.write_text('[notebooks."other.ipynb"]\ncells = ["time<=1ms"]\n'
                       '[notebooks."nb/*.ipynb"]\ncells = ["time<=1ms"]\n')
    assert main(["run", str(path), "-q", "--budget-file", str(budgets)]) == 0  # one file, several notebooks
    budgets.write_text('[notebooks."nb/*.ipnyb"]\ncells = ["time<=1ms"]\n')
    capsys.readouterr()
    assert main(["run", str(path), "-q", "--budget-file", str(budgets)]) == 2
    assert 'notebooks."nb/*.ipnyb" names no notebook (no file matches it' in capsys.readouterr().err
