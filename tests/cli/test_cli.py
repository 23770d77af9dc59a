"""The `nbprofile` command with real notebooks executed by nbclient."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nbprofile.cli.main import main
from nbprofile.format import format_duration
from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
ROOT = Path(__file__).resolve().parents[2]
KERNELSPEC = {"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}}


def package_version() -> str:
    """The version the package declares (nbprofile/_version.py, read as text)."""
    found = re.search(r"""__version__\s*=\s*["']([^"']+)["']""", (ROOT / "nbprofile" / "_version.py").read_text())
    assert found
    return found.group(1)


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
    assert "budget failure" in err and "[1/" in err  # progress lines, then the summary
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
    # the report its last cell wrote: this run, the cells recorded before that cell, their code and times
    report = (tmp_path / "quickstart-report.html").read_text()
    before_report = records[:-1]
    assert f"run {run['run_id']} · {len(before_report)} cells" in report
    for record in before_report:
        row = report.index(f"<code>{html.escape(record.source.splitlines()[0])}")
        wall = record.value("wall_s")
        assert wall is not None
        assert f">{format_duration(wall)}</td>" in report[row:report.index("</tr>", row)], record.source
    assert records[-1].source.startswith("%nbprofile report") and f"<code>{records[-1].source}" not in report
    assert main(["run", str(notebook), "-q"]) == 0
    second = SQLiteStore(_isolated_store).runs()[0]["run_id"]
    assert [r.verdict_status for r in SQLiteStore(_isolated_store).records(second) if r.verdict_status] == ["pass"]


def test_failed_budget_exits_1(tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "slow.ipynb"
    nb = write(path, "import time", "%%budget time<=0.05s\ntime.sleep(0.2)", "x = 1")
    assert main(["run", str(path), "-q"]) == 1
    err = capsys.readouterr().err
    # the line states the cell's own measured time, whatever a busy machine made of the 0.2 s sleep
    slow = next(r for r in SQLiteStore(_isolated_store).history(None, 10) if r.cell_id == nb.cells[2].id)
    assert slow.value("wall_s") >= 0.2
    assert f"budget failed in cell {nb.cells[2].id}: time {format_duration(slow.value('wall_s'))} > 50.0 ms" in err
    assert "3 cells measured" in err and "1 budget failure;" in err


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
    (run,) = SQLiteStore(_isolated_store).runs()
    assert out.startswith(f"runs in {_isolated_store}") and "tiny.ipynb" in out
    (row,) = [line for line in out.splitlines() if run["run_id"] in line]
    assert row.split()[3:4] == ["1"]  # its one cell (run, date, …/tiny.ipynb, cells)
    assert main(["show"]) == 0
    assert "y = [i for i in (2, 10)][0]" in capsys.readouterr().out  # code, not rich markup
    assert main(["show", "nosuchrun"]) == 2
    assert "no run 'nosuchrun'" in capsys.readouterr().err


def test_console_script_is_installed(tmp_path: Path) -> None:
    """`nbprofile --version` (the command pip installed next to python) and `python -m nbprofile.cli`
    both answer with the package's version."""
    expected = f"nbprofile {package_version()}\n"
    module = subprocess.run([sys.executable, "-m", "nbprofile.cli", "--version"],
                            capture_output=True, text=True, check=True)
    assert (module.stdout, module.stderr) == (expected, "")
    script = Path(sys.executable).parent / "nbprofile"
    command = subprocess.run([str(script), "--version"], capture_output=True, text=True, check=True, cwd=tmp_path)
    assert (command.stdout, command.stderr) == (expected, "")
    assert script.read_text().startswith(f"#!{sys.executable}"), "the command runs this environment's python"


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
    # the JSON summary CI keeps: this run, the outcome, and the stored values of each cell
    summary = json.loads((tmp_path / "s.json").read_text())
    nb = nbformat.read(path, as_version=4)
    assert summary["run_id"] == records[0].run_id and summary["notebook"] == str(path)
    assert summary["exit_code"] == 2
    assert summary["error"] == f"cell #2 (id {nb.cells[2].id}) timed out after 1.0 s"
    assert [(c["cell_id"], c["status"]) for c in summary["cells"]] == [
        (nb.cells[1].id, "ok"), (nb.cells[2].id, "interrupted")]
    for cell, record in zip(summary["cells"], records):
        assert cell["values"]["wall_s"] == record.value("wall_s") and cell["methods"]["wall_s"] == "measured"
        assert cell["source"] == record.source
    assert summary["totals"]["wall_s"] == pytest.approx(sum(r.value("wall_s") for r in records))


def test_report_refuses_a_suffix_no_format_writes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """An unknown suffix is an error, not HTML written under a .pdf name."""
    target = tmp_path / "report.pdf"
    assert main(["report", "-o", str(target)]) == 2
    assert "no report format writes .pdf files" in capsys.readouterr().err and not target.exists()


def test_a_kernel_that_dies_in_a_cell_exits_2_naming_the_cell_its_memory_and_the_signal(
        tmp_path: Path, _isolated_store: Path, capsys) -> None:
    path = tmp_path / "dies.ipynb"
    nb = write(path, "x = 1",
               "import os, time\nblob = bytearray(200 * 2**20)\nblob[::4096] = b'x' * len(blob[::4096])\n"
               "time.sleep(2.5)\nos.kill(os.getpid(), 9)",
               "never = True")
    assert main(["run", str(path), "-q"]) == 2
    err = capsys.readouterr().err
    short = nb.cells[2].id[:4]
    assert re.search(rf"kernel died in cell #2 \(id {short}…?\) at \d+(\.\d+)? MiB: signal SIGKILL", err), err
    records = SQLiteStore(_isolated_store).history(None, 10)
    assert [r.status for r in records] == ["ok", "died"]
    assert records[1].readings["rss_peak_bytes"].value >= 200 * 2**20
