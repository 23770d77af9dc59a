"""A team's runs in the panel, in a real JupyterLab and a real browser, on a real PostgreSQL store.

Another user's run of the same notebook is in the database already; this user's kernel runs the
notebook and its records reach the same database. At the sidebar's opening width the runs view
lists both users' runs, each naming its user, and "Runs of: me" lists only this user's own; the
colleague's run cannot be deleted from this user's panel, which shows the server's reason.
Needs chromium, PostgreSQL's binaries and psycopg (scripts/test.sh installs them); ~40 s.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash, current_user
from tests.e2e.lab import Lab, chromium_path, in_browser, labextension_dir, menu, shot, start_lab, write_notebook
from tests.support.postgres import PostgresServer, binaries, start_server

if chromium_path() is None:
    pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
if binaries() is None:
    pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql)",
                allow_module_level=True)
pytest.importorskip("psycopg", reason="pip install -e '.[test]'")
pytest.importorskip("playwright.sync_api", reason="pip install playwright")

pytestmark = pytest.mark.kernel

NOTEBOOK = "team.ipynb"
PANEL = "#nbprofile-panel"
OTHER = "grace"


@pytest.fixture(scope="module")
def postgres() -> Iterator[PostgresServer]:
    server = start_server()
    yield server
    server.destroy()


def seed_other_users_run(url: str, notebook: str) -> None:
    """A colleague ran the same notebook on another machine an hour ago."""
    from nbprofile.store import open_store

    store = open_store(url)
    started = time.time() - 3600
    run = RunInfo(run_id="grace-run-1", notebook=notebook, kernel_id=None, started_at=started, nbprofile="t",
                  user=OTHER, host="gpu-box")
    for i, wall in enumerate([2.0, 5.0]):
        source = f"train_step({i})"
        store.write(CellRecord(
            run_id=run.run_id, seq=i + 1, notebook=notebook, cell_id=f"c{i}", execution_count=i + 1,
            code_hash=code_hash(source), source=source, started_at=started + i, status="ok", error_type=None,
            overhead_s=2e-5, readings={"wall_s": Reading(wall, "s", "measured", "perf_counter")}), run)
    store.close()


@pytest.fixture
def lab(tmp_path: Path, postgres: PostgresServer) -> Iterator[Lab]:
    if labextension_dir() is None:
        pytest.fail("the nbprofile frontend is not built: pip install -e . (or jlpm --cwd labextension build)")
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / NOTEBOOK, [("code", "%load_ext nbprofile"), ("code", "total = sum(range(10**6))")])
    url = postgres.new_database()
    seed_other_users_run(url, str(root / NOTEBOOK))
    server = start_lab(root, db=url)
    yield server
    server.stop()


def test_the_panel_lists_a_teams_runs_and_each_names_its_user(lab: Lab, tmp_path: Path) -> None:
    in_browser(lab, tmp_path, lambda page: _check(page, lab, tmp_path), failure="nbprofile-team-failure.png")


def _check(page: Any, lab: Lab, folder: Path) -> None:
    me = current_user()
    page.goto(lab.page_url(NOTEBOOK))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    lab.wait_kernel_idle(NOTEBOOK)
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")
    menu(page, "Run", "Run All Cells")  # this user's run, written by the kernel into PostgreSQL
    page.click(f"{PANEL} .nbp-tab[data-view='runs']")
    runs = page.locator(f"{PANEL} .nbp-runs [data-run]")
    runs.nth(1).wait_for()
    assert runs.count() == 2
    users = [runs.nth(i).get_attribute("data-user") for i in range(2)]
    assert users == [me, OTHER], users  # newest first: this kernel's run, then the colleague's
    assert runs.nth(1).locator(".nbp-user").inner_text() == OTHER
    assert runs.nth(0).locator(".nbp-user").inner_text() == me
    assert "gpu-box" in (runs.nth(1).get_attribute("title") or "")
    panel = page.locator(PANEL)
    assert panel.evaluate("el => el.scrollWidth <= el.clientWidth + 1"), "the panel scrolls sideways"
    shot(page, folder, "nbprofile-panel-team.png")

    page.select_option(f"{PANEL} .nbp-scope select", "mine")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .nbp-runs [data-run]').length === 1")
    assert runs.nth(0).get_attribute("data-user") == me
    assert page.locator(f"{PANEL} .nbp-scope select").input_value() == "mine", "the choice stays offered"
    page.select_option(f"{PANEL} .nbp-scope select", "team")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .nbp-runs [data-run]').length === 2")

    # the colleague's run is theirs to delete: the server says so, and the panel shows what it said
    runs.nth(1).click()
    page.wait_for_selector(f"{PANEL} .nbp-cells[data-run='grace-run-1']")
    page.click(f"{PANEL} .nbp-delete-run")
    page.locator(".jp-Dialog button.jp-mod-accept").click()
    error = page.locator(".jp-Dialog:has-text('The run was not deleted')")
    error.wait_for()
    assert "run grace-run-1 is grace's: only its user deletes it here" in " ".join(error.inner_text().split())
    shot(page, folder, "nbprofile-panel-team-delete-refused.png")
    error.locator("button:has-text('Close')").click()
    page.click(f"{PANEL} .nbp-tab[data-view='runs']")
    page.wait_for_function(f"document.querySelectorAll('{PANEL} .nbp-runs [data-run]').length === 2")
    assert [runs.nth(i).get_attribute("data-run") for i in range(2)][1] == "grace-run-1"
