"""Runs made by tools that start their own kernel (nbconvert, papermill, a script driving
nbclient) carry the notebook's name, or at least what started the kernel."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook

from nbprofile.cli.main import main
from nbprofile.store import SQLiteStore
from tests.support.store import stored

pytestmark = pytest.mark.kernel
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}
BIN = Path(sys.executable).parent


def write(path: Path) -> None:
    nb = new_notebook(cells=[new_code_cell("%load_ext nbprofile"), new_code_cell("x = sum(range(1000))")],
                      metadata=KERNELSPEC)
    nbformat.write(nb, path)


def run_in(folder: Path, *command: str, env: dict[str, str] | None = None) -> None:
    """Run ``command`` in ``folder`` as a user would from a shell there (a relative notebook path)."""
    done = subprocess.run(command, check=False, cwd=folder, env={**os.environ, **(env or {})},
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]


def the_run(db: Path) -> dict:
    store = SQLiteStore(db)
    try:
        (run,) = store.runs()
        return run
    finally:
        store.close()


@pytest.mark.parametrize("tool", [
    [str(BIN / "jupyter"), "nbconvert", "--to", "notebook", "--execute",
     "--output", "out.ipynb", "train.ipynb"],
    [str(BIN / "jupyter"), "execute", "train.ipynb"],
    [str(BIN / "papermill"), "train.ipynb", "out.ipynb"],
], ids=["nbconvert", "jupyter-execute", "papermill"])
def test_a_notebook_run_by_a_cli_tool_is_named_by_its_path(tmp_path: Path, _isolated_store: Path,
                                                          tool: list[str]) -> None:
    if not Path(tool[0]).exists():
        pytest.skip(f"{Path(tool[0]).name} is not installed")
    write(tmp_path / "train.ipynb")
    run_in(tmp_path, *tool)
    run = the_run(_isolated_store)
    assert run["notebook"] == str(tmp_path / "train.ipynb")
    assert Path(tool[0]).name in run["info"]["launched_by"]
    # the cell after %load_ext
    assert [r.notebook for r in stored(_isolated_store)] == [str(tmp_path / "train.ipynb")]


SCRIPT = """
import nbformat
from nbclient import NotebookClient
nb = nbformat.read("train.ipynb", as_version=4)
NotebookClient(nb, kernel_name="python3").execute()
"""


def test_a_script_driving_nbclient_names_its_notebook_with_a_variable(tmp_path: Path,
                                                                      _isolated_store: Path) -> None:
    write(tmp_path / "train.ipynb")
    (tmp_path / "drive.py").write_text(SCRIPT)
    run_in(tmp_path, sys.executable, "drive.py", env={"NBPROFILE_NOTEBOOK": "train.ipynb"})
    assert the_run(_isolated_store)["notebook"] == "train.ipynb"


def test_without_a_name_the_run_says_what_started_it(tmp_path: Path, _isolated_store: Path, capsys) -> None:
    write(tmp_path / "train.ipynb")
    (tmp_path / "drive.py").write_text(SCRIPT)
    run_in(tmp_path, sys.executable, "drive.py")
    run = the_run(_isolated_store)
    assert run["notebook"] is None
    assert run["info"]["launched_by"].endswith("drive.py")
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "(no notebook:" in out and "drive.py" in out
