"""Deleting a run from the panel, in a real JupyterLab and a real browser, at the sidebar's opening width.

Two earlier runs of the notebook are in the store. The cells view of the older one offers
"Delete…" beside its export menu, inside the panel; the question says what goes. Cancel keeps
the run, and so does Enter; Delete removes it from the store and the panel goes back to the
runs, where only the newer run is left. Needs chromium (scripts/test.sh installs it); ~20 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash, current_user
from nbprofile.store import SQLiteStore
from tests.e2e.lab import Lab, chromium_path, in_browser, labextension_dir, shot, start_lab, write_notebook

if chromium_path() is None:
    pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytest.importorskip("jupyterlab", reason="pip install jupyterlab")

pytestmark = pytest.mark.kernel

NOTEBOOK = "delete.ipynb"
PANEL = "#nbprofile-panel"


def seed(db: Path, run_id: str, notebook: str, hours_ago: float, cells: int) -> None:
    store = SQLiteStore(db)
    started = time.time() - hours_ago * 3600
    run = RunInfo(run_id=run_id, notebook=notebook, kernel_id=None, started_at=started, nbprofile="t",
                  user=current_user())
    for i in range(cells):
        source = f"step({i})"
        store.write(CellRecord(
            run_id=run_id, seq=i + 1, notebook=notebook, cell_id=f"c{i}", execution_count=i + 1,
            code_hash=code_hash(source), source=source, started_at=started + i, status="ok", error_type=None,
            overhead_s=2e-5, readings={"wall_s": Reading(1.0 + i, "s", "measured", "perf_counter")}), run)
    store.close()


def stored_runs(db: Path) -> list[str]:
    store = SQLiteStore(db)
    try:
        return [run["run_id"] for run in store.runs()]
    finally:
        store.close()


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if labextension_dir() is None:
        pytest.fail("the nbprofile frontend is not built: pip install -e . "
                    "(or jlpm --cwd labextension build)")
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / NOTEBOOK, [("code", "step(0)")])
    db = tmp_path / "records.db"
    seed(db, "older-run", str(root / NOTEBOOK), 3, cells=3)
    seed(db, "newer-run", str(root / NOTEBOOK), 1, cells=2)
    server = start_lab(root, db=db)
    yield server
    server.stop()


def test_a_run_is_deleted_from_the_panel_after_a_question(lab: Lab, tmp_path: Path) -> None:
    in_browser(lab, tmp_path, lambda page: _check(page, lab, tmp_path),
               failure="nbprofile-delete-failure.png")


def _check(page: Any, lab: Lab, folder: Path) -> None:
    db = Path(lab.db)
    page.goto(lab.page_url(NOTEBOOK))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")
    page.click(f"{PANEL} .nbp-tab[data-view='runs']")
    runs = page.locator(f"{PANEL} .nbp-runs [data-run]")
    runs.nth(1).wait_for()
    assert [runs.nth(i).get_attribute("data-run") for i in range(runs.count())] == ["newer-run", "older-run"]
    runs.nth(1).click()
    page.wait_for_selector(f"{PANEL} .nbp-cells[data-run='older-run']")
    button = page.locator(f"{PANEL} .nbp-delete-run")
    panel_box, button_box = page.locator(PANEL).bounding_box(), button.bounding_box()
    assert panel_box is not None and button_box is not None
    assert panel_box["width"] <= 320, "the sidebar opens at 250 px"
    assert panel_box["x"] <= button_box["x"] and button_box["x"] + button_box["width"] <= panel_box["x"] + \
        panel_box["width"] + 1, "Delete… lies inside the panel"
    fits = page.locator(PANEL).evaluate("el => el.scrollWidth <= el.clientWidth + 1")
    assert fits, "the panel scrolls sideways"
    shot(page, folder, "nbprofile-panel-delete.png")

    button.click()
    dialog = page.locator(".jp-Dialog")
    dialog.wait_for()
    text = " ".join(dialog.inner_text().split())
    assert "Delete this run?" in text, text
    assert "(3 cells, 3 executions; run older-run) and its records" in text, text
    shot(page, folder, "nbprofile-panel-delete-question.png")
    dialog.locator("button.jp-mod-reject").click()
    dialog.wait_for(state="detached")
    assert stored_runs(db) == ["newer-run", "older-run"], "Cancel deletes nothing"
    button.click()
    dialog.wait_for()
    page.keyboard.press("Enter")
    dialog.wait_for(state="detached")
    assert stored_runs(db) == ["newer-run", "older-run"], "Enter keeps the run"

    button.click()
    dialog.wait_for()
    dialog.locator("button.jp-mod-accept").click()
    page.wait_for_function(
        f"""() => {{
            const rows = document.querySelectorAll('{PANEL} .nbp-runs [data-run]');
            return rows.length === 1 && rows[0].dataset.run === 'newer-run';
        }}""")
    assert stored_runs(db) == ["newer-run"]
