"""Every example notebook passes `nbprofile run` on a CPU-only machine (as in CI)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from nbprofile.cli.main import main
from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def copy_examples(tmp_path: Path) -> Path:
    """The notebooks write reports next to themselves: run copies, not the repository's files."""
    work = tmp_path / "examples"
    work.mkdir()
    for path in EXAMPLES.iterdir():
        if path.suffix in (".ipynb", ".toml", ".py", ".md") and path.is_file():
            shutil.copy(path, work / path.name)
    return work


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.ipynb")))
def test_example_notebook_passes_nbprofile_run(name: str, tmp_path: Path, _isolated_store: Path, capsys) -> None:
    work = copy_examples(tmp_path)
    assert main(["run", str(work / name), "--timeout", "300", "-q"]) == 0, capsys.readouterr().err
    (run,) = SQLiteStore(_isolated_store).runs()
    assert run["cells"] > 0 and run["budget_failures"] == 0


def test_quickstart_shows_every_feature(tmp_path: Path, _isolated_store: Path) -> None:
    work = copy_examples(tmp_path)
    assert main(["run", str(work / "quickstart.ipynb"), "-q"]) == 0
    records = SQLiteStore(_isolated_store).history(None, 100)
    assert any(r.verdict for r in records), "a %%budget cell"
    assert (work / "quickstart-report.html").read_text().startswith("<!DOCTYPE html>")
    peaks = [r.value("rss_peak_bytes") - r.value("rss_start_bytes") for r in records]
    assert max(peaks) >= 250 * 1024**2  # the transient copy's peak
