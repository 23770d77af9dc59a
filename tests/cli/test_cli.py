"""The `nbprofile` command with real notebooks executed by nbclient."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbprofile.cli.main import main
from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def write(path: Path, *sources: str) -> nbformat.NotebookNode:
    cells = [new_markdown_cell("# test")] + [new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells, metadata=KERNELSPEC)
    nbformat.write(nb, path)
    return nb


def test_quickstart_runs_and_records_every_cell_with_its_id(_isolated_store: Path, tmp_path: Path,
                                                          capsys) -> None:
    notebook = tmp_path / "quickstart.ipynb"  # it writes its report beside itself
    shutil.copy(ROOT / "examples" / "quickstart.ipynb", notebook)
    assert main(["run", str(notebook)]) == 0
    out, err = capsys.readouterr()
    assert "budget failures" in err and "[1/" in err  # progress lines, then the summary
    assert "quickstart.ipynb: run" in out
    store = SQLiteStore(_isolated_store)
    (run,) = store.runs()
    records = store.records(run["run_id"])
    nb = nbformat.read(notebook, as_version=4)
    code_ids = [c.id for c in nb.cells if c.cell_type == "code"]
    assert [r.cell_id for r in records] == code_ids
    assert all(r.notebook == str(notebook) for r in records)
    # ram<=last+64MiB has no earlier run to compare with the first time: said so, never a pass
    assert [r.verdict_status for r in records if r.verdict_status] == ["unmeasurable"]
    assert main(["run", str(notebook), "-q"]) == 0
    second = SQLiteStore(_isolated_store).runs()[0]["run_id"]
    assert [r.verdict_status for r in SQLiteStore(_isolated_store).records(second) if r.verdict_status] == ["pass"]


def test_failed_budget_exits_1(tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "slow.ipynb"
    nb = write(path, "import time", "%%budget time<=0.05s\ntime.sleep(0.2)", "x = 1")
    assert main(["run", str(path), "-q"]) == 1
    err = capsys.readouterr().err
    assert f"budget failed in cell {nb.cells[2].id}: time 2" in err and "> 50.0 ms" in err
    assert "3 cells measured" in err and "1 budget failures" in err


def test_a_failing_notebook_exits_2_and_names_the_cell(tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "broken.ipynb"
    nb = write(path, "x = 1", "raise ValueError('boom')", "never = True")
    assert main(["run", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    assert f"cell #2 (id {nb.cells[2].id}) raised ValueError: boom" in err
    records = SQLiteStore(_isolated_store).history(None, 10)
    assert [r.status for r in records] == ["ok", "error"]  # the run stopped at the failing cell


def test_missing_notebook_exits_2(tmp_path: Path, capsys) -> None:
    assert main(["run", str(tmp_path / "nope.ipynb")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_runs_and_show_list_what_was_stored(tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "tiny.ipynb"
    write(path, "y = [i for i in (2, 10)][0]")
    assert main(["run", str(path), "-q"]) == 0
    capsys.readouterr()
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "tiny.ipynb" in out and "runs in" in out
    assert main(["show"]) == 0
    assert "y = [i for i in (2, 10)][0]" in capsys.readouterr().out  # code, not rich markup
    assert main(["show", "nosuchrun"]) == 2
    assert "no run 'nosuchrun'" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path: Path) -> None:
    result = subprocess.run([sys.executable, "-m", "nbprofile.cli", "--version"],
                            capture_output=True, text=True, check=True)
    assert result.stdout.startswith("nbprofile ")
    script = Path(sys.executable).parent / "nbprofile"
    assert script.exists(), "pip install should put the `nbprofile` command next to python"


def test_a_cell_past_the_timeout_is_stopped_recorded_and_named(tmp_path: Path, _isolated_store: Path,
                                                              capfd) -> None:
    path = tmp_path / "hang.ipynb"
    write(path, "x = 1", "import time\ntime.sleep(60)", "print('never')")
    assert main(["run", str(path), "-q", "--timeout", "1", "--json", str(tmp_path / "s.json")]) == 2
    err = capfd.readouterr().err
    assert "cell #2" in err and "timed out after 1" in err
    assert "Traceback" not in err and "ZMQError" not in err, err  # the kernel stopped cleanly
    records = SQLiteStore(_isolated_store).history(str(path), 10)
    assert [r.status for r in records] == ["ok", "interrupted"]
    assert 1.0 <= records[1].value("wall_s") < 30


def test_report_refuses_a_suffix_no_format_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown suffix is an error, not HTML written under a .pdf name."""
    target = tmp_path / "report.pdf"
    assert main(["report", "-o", str(target)]) == 2
    assert "no report format writes .pdf files" in capsys.readouterr().err and not target.exists()
