"""The JupyterLab panel in a real JupyterLab and a real browser (Debian's chromium, Playwright).

Opens a notebook that loads nbprofile and has ``%%budget`` cells (one failing),
runs it, checks the panel's row per cell and the failed budget, runs it again
in a new kernel, compares the two runs, clicks a row and checks that the
notebook scrolled to and selected that cell. Screenshots go to the test's tmp
dir and to ``/tmp/nbprofile-panel*.png``.

Needs the built frontend (``pip install -e .`` builds it) and ``/usr/bin/chromium``
(``apt-get install chromium``); skipped without chromium. ~40 s.
"""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore
from tests.e2e.lab import CHROMIUM_FLAGS, Lab, chromium_path, labextension_dir, start_lab, write_notebook

CHROMIUM = chromium_path()
if CHROMIUM is None:
    pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytest.importorskip("jupyterlab", reason="pip install jupyterlab")

pytestmark = pytest.mark.kernel

NOTEBOOK = "e2e.ipynb"
FILLER = "\n\n".join(f"Filler paragraph {i}: the cells below are out of sight." for i in range(40))
SOURCES = [
    ("code", "%load_ext nbprofile"),
    ("code", "%%budget time<=5s\nfrom time import sleep\ntotal = sum(range(100_000))"),
    ("markdown", "## Slow part\n\n" + FILLER),
    ("code", "%%budget --name slow time<=50ms\nsleep(0.3)  # too slow for its budget"),
    ("code", "%%budget ram<=4GiB vram<=1GiB\nblob = bytearray(20_000_000)"),
    ("markdown", "## Last part\n\n" + FILLER),
    ("code", "def squares(n):\n    return sum(i * i for i in range(n))\n\nsquares(200_000)"),
    # data is text, never markup: none of this may render or run in the panel
    ("code", "print('done', '<b>not bold</b><img src=x onerror=\"window.__nbp_xss=1\">"
             "<script>window.__nbp_xss=2</script>')"),
]
MEASURED_CELLS = 5  # the code cells after %load_ext (that one runs before nbprofile hooks in)
PANEL = "#nbprofile-panel"
TIMEOUT_MS = 60_000


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    if labextension_dir() is None:
        pytest.fail("the nbprofile frontend is not built: pip install -e . (or jlpm --cwd labextension build)")
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / NOTEBOOK, SOURCES)
    server = start_lab(root, db=tmp_path / "records.db")
    yield server
    server.stop()


@pytest.fixture
def artifacts(tmp_path: Path) -> Path:
    out = tmp_path / "artifacts"
    out.mkdir()
    return out


def _shot(page: Any, artifacts: Path, name: str) -> Path:
    """A screenshot in the test's artifacts dir, copied to /tmp/<name> for a person to look at."""
    path = artifacts / name
    page.screenshot(path=str(path))
    shutil.copyfile(path, Path("/tmp") / name)
    return path


def _menu(page: Any, *labels: str) -> None:
    """Click through the main menu: _menu(page, "Run", "Run All Cells")."""
    page.click(f".lm-MenuBar-itemLabel:text-is('{labels[0]}')")
    for label in labels[1:-1]:
        page.hover(f".lm-Menu-itemLabel:text-is('{label}')")
    page.click(f".lm-Menu-itemLabel:text-is('{labels[-1]}')")


def _rows(page: Any) -> Any:
    return page.locator(f"{PANEL} .nbp-cells-table [data-record]")


def _wait_rows(page: Any, count: int, run_other_than: str | None = None) -> str:
    """Wait until the cells view shows ``count`` records (of a run other than the one given); return its run id."""
    page.wait_for_function(
        """([sel, n, other]) => {
            const view = document.querySelector(sel + ' .nbp-cells');
            return view !== null && view.querySelectorAll('[data-record]').length === n
                && (other === null || view.dataset.run !== other);
        }""",
        arg=[PANEL, count, run_other_than],
        timeout=TIMEOUT_MS,
    )
    return str(page.locator(f"{PANEL} .nbp-cells").get_attribute("data-run"))


def _widen_sidebar(page: Any, width: int) -> None:
    """Drag the handle between the left sidebar and the main area."""
    handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
    box = handle.bounding_box()
    assert box is not None
    y = box["y"] + box["height"] / 2
    page.mouse.move(box["x"] + box["width"] / 2, y)
    page.mouse.down()
    page.mouse.move(width, y, steps=5)
    page.mouse.up()


def _active_cell_in_view(page: Any) -> dict[str, Any]:
    return page.evaluate(
        """() => {
            const cell = document.querySelector('.jp-NotebookPanel .jp-Notebook .jp-Cell.jp-mod-active');
            const scroller = document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer');
            if (!cell || !scroller) return {found: false};
            const c = cell.getBoundingClientRect(), s = scroller.getBoundingClientRect();
            return {found: true, text: cell.querySelector('.jp-InputArea-editor')?.textContent ?? '',
                    visible: c.top < s.bottom && c.bottom > s.top, scrollTop: scroller.scrollTop,
                    selected: cell.classList.contains('jp-mod-selected') || cell.classList.contains('jp-mod-active')};
        }"""
    )


def test_panel_runs_budgets_compare_and_reveal(lab: Lab, artifacts: Path) -> None:
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" and "nbprofile" in m.text else None)
        page.set_default_timeout(TIMEOUT_MS)
        try:
            _run(page, lab, artifacts)
        except Exception:
            _shot(page, artifacts, "nbprofile-panel-failure.png")
            print(lab.tail(60))
            raise
        finally:
            browser.close()
        assert not errors, errors


def _run(page: Any, lab: Lab, artifacts: Path) -> None:
    page.goto(lab.page_url(NOTEBOOK))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    lab.wait_kernel_idle(NOTEBOOK)

    # The panel, before anything ran: it says why it is empty and how to fix it.
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")
    page.wait_for_selector(f"{PANEL} .nbp-empty[data-empty='no-records']")
    assert "%load_ext nbprofile" in page.inner_text(PANEL)
    _widen_sidebar(page, 820)

    # Run 1: the panel fills while the cells run, one row per measured cell.
    _menu(page, "Run", "Run All Cells")
    run1 = _wait_rows(page, MEASURED_CELLS)
    rows = _rows(page)
    failed = page.locator(f"{PANEL} .nbp-cells-table [data-verdict='fail']")
    assert failed.count() == 1
    assert "sleep(0.3)" in failed.inner_text()
    chip = failed.locator(".nbp-chip-fail")
    assert chip.count() == 1 and "time" in chip.inner_text() and ">" in chip.inner_text()
    assert "fail" in (chip.get_attribute("title") or "")
    assert page.locator(f"{PANEL} .nbp-cells-table [data-verdict='pass']").count() == 1
    assert page.locator(f"{PANEL} .nbp-summary .nbp-badge-fail").inner_text() == "1 failed"
    # Never a 0 for something not measured: unavailable readings say n/a, with a reason.
    for cell in page.locator(f"{PANEL} .nbp-cells-table .nbp-method-unavailable, "
                             f"{PANEL} .nbp-cells-table .nbp-method-missing").all():
        assert cell.inner_text() == "n/a" and cell.get_attribute("title")
    sources = rows.locator(".nbp-source").all_inner_texts()
    assert any("squares(n)" in s or "def squares" in s for s in sources), sources
    assert any("<b>not bold</b><img src=x onerror" in s for s in sources), sources
    assert page.locator(f"{PANEL} b").count() == 0
    assert page.locator(f"{PANEL} img").count() == 0 and page.locator(f"{PANEL} script").count() == 0
    assert page.evaluate("window.__nbp_xss") is None, "markup from a cell ran in the panel"
    _shot(page, artifacts, "nbprofile-panel-run1.png")

    # Run 2 after a restart (same kernel id, new process, new nbprofile run): a second
    # run shows up and the cells view follows it.
    _menu(page, "Kernel", "Restart Kernel and Run All Cells…")
    page.click(".jp-Dialog .jp-mod-accept")
    run2 = _wait_rows(page, MEASURED_CELLS, run_other_than=run1)
    assert run2 != run1
    page.wait_for_selector(f"{PANEL} .nbp-tab[data-view='runs']:has-text('Runs (2)')")
    _shot(page, artifacts, "nbprofile-panel.png")

    # Runs view: two runs, newest first, the failure badge on each.
    page.click(f"{PANEL} .nbp-tab[data-view='runs']")
    runs = page.locator(f"{PANEL} .nbp-runs [data-run]")
    assert runs.count() == 2
    assert runs.nth(0).get_attribute("data-run") == run2
    assert runs.nth(0).locator(".nbp-badge-fail").inner_text() == "1 failed"

    # Compare the two runs: per-cell rows, totals, deltas.
    page.click(f"{PANEL} .nbp-tab[data-view='compare']")
    compare_rows = page.locator(f"{PANEL} .nbp-compare-table [data-key]")
    compare_rows.nth(MEASURED_CELLS - 1).wait_for()
    assert compare_rows.count() == MEASURED_CELLS
    assert page.locator(f"{PANEL} select[name='a']").input_value() == run1
    assert page.locator(f"{PANEL} select[name='b']").input_value() == run2
    totals = page.locator(f"{PANEL} .nbp-totals [data-metric='wall_s']")
    assert totals.count() == 1 and "n/a" not in totals.inner_text()
    # CO2e is always an estimate (a grid's average intensity): marked ~ in both runs' totals
    co2 = page.locator(f"{PANEL} .nbp-totals [data-metric='co2_g'] .nbp-method-estimated")
    assert co2.count() == 2 and all(t.lstrip("≥ ").startswith("~") for t in co2.all_inner_texts())
    assert "estimated" in (co2.first.get_attribute("title") or "")
    chart = page.locator(f"{PANEL} .nbp-chart-delta")
    assert chart.locator("path.nbp-bar").count() >= 1
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.1, box["y"] + box["height"] / 2)  # over the first cell's bar
    readout = page.locator(f"{PANEL} .nbp-compare .nbp-chart-readout")
    assert "from time import sleep" in readout.inner_text()

    # Click a row: the notebook scrolls to that cell and selects it.
    page.evaluate("document.querySelector('.jp-NotebookPanel .jp-WindowedPanel-outer').scrollTop = 0")
    page.locator(".jp-NotebookPanel .jp-Cell").first.click()  # make the first cell the active one
    before = _active_cell_in_view(page)
    assert "%load_ext" in before["text"]
    target = compare_rows.filter(has_text="print('done'")
    assert target.count() == 1
    target.click()
    page.wait_for_function(
        """() => {
            const cell = document.querySelector('.jp-NotebookPanel .jp-Cell.jp-mod-active');
            return cell !== null && cell.textContent.includes("print('done'");
        }"""
    )
    page.wait_for_timeout(400)  # let the scroll settle
    after = _active_cell_in_view(page)
    assert "print('done'" in after["text"] and after["visible"], after
    assert after["scrollTop"] > before["scrollTop"] + 500, (before, after)
    assert "nbp-row-selected" in (target.get_attribute("class") or "")
    _shot(page, artifacts, "nbprofile-panel-compare.png")

    # The cells view's row does the same for a cell found by its id.
    page.click(f"{PANEL} .nbp-tab[data-view='cells']")
    _wait_rows(page, MEASURED_CELLS)
    _rows(page).filter(has_text="from time import sleep").click()
    page.wait_for_function(
        """() => document.querySelector('.jp-NotebookPanel .jp-Cell.jp-mod-active')
                  ?.textContent.includes('total = sum') ?? false"""
    )
    assert _active_cell_in_view(page)["visible"]

    # Polling stops while the panel is hidden, and starts again when it shows.
    calls: list[str] = []
    page.on("request", lambda r: calls.append(r.url) if "/nbprofile/api/" in r.url else None)
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")  # collapse
    page.wait_for_selector(PANEL, state="hidden")
    calls.clear()
    page.wait_for_timeout(5000)  # 2.5 poll intervals
    assert calls == [], calls
    with page.expect_request(lambda r: "/nbprofile/api/runs" in r.url, timeout=TIMEOUT_MS):
        page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")  # polls again

    # Theme-aware: the dark theme restyles the panel through JupyterLab's variables.
    _menu(page, "Settings", "Theme", "JupyterLab Dark")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(300)
    background = page.evaluate(f"getComputedStyle(document.querySelector('{PANEL}')).backgroundColor")
    assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), background
    _shot(page, artifacts, "nbprofile-panel-dark.png")

    # A kernel that died mid-cell: the journal's record (written here straight to the store, as a
    # newer run) is a row with a red "✝ died" badge, its summary as the tooltip, n/a for CPU time.
    _write_died_run(lab)
    run3 = _wait_rows(page, 1, run_other_than=run2)
    assert run3 == "died-run"
    badge = page.locator(f"{PANEL} .nbp-cells-table [data-status='died'] .nbp-died")
    assert badge.is_visible() and badge.inner_text() == "✝ died"
    assert (badge.get_attribute("title") or "").startswith(DIED_SUMMARY)
    assert DIED_SUMMARY in (page.locator(f"{PANEL} .nbp-summary .nbp-died-count").get_attribute("title") or "")
    died_row = page.locator(f"{PANEL} .nbp-cells-table [data-status='died']")
    assert "~12.3 s" in died_row.inner_text()
    assert "total ~12.3 s" in page.locator(f"{PANEL} .nbp-summary").inner_text()  # a partial time: estimated
    assert "n/a" in died_row.locator(".nbp-method-unavailable").all_inner_texts()
    _shot(page, artifacts, "nbprofile-panel-died.png")


DIED_SUMMARY = "kernel died in cell #9 (id 3f2a…) at 22.8 GiB: out of memory"


def _write_died_run(lab: Lab) -> None:
    """A run of the notebook whose kernel died in its only cell, as the kernel's journal records it."""
    store = SQLiteStore(lab.db)
    notebook = str(lab.root / NOTEBOOK)
    run = RunInfo(run_id="died-run", notebook=notebook, kernel_id=None, started_at=time.time(), nbprofile="e2e")
    source = "big = bytearray(50 * 2**30)"
    store.write(CellRecord(
        run_id="died-run", seq=1, notebook=notebook, cell_id="3f2a5c1e-9b7d-4e21-a0c3-5d6e7f809a1b",
        execution_count=9, code_hash=code_hash(source), source=source, started_at=time.time(), status="died",
        error_type="out of memory", overhead_s=0.0,
        readings={"wall_s": Reading(12.3, "s", "estimated", "journal", "until the kernel was last seen"),
                  "rss_peak_bytes": Reading(22.8 * 2**30, "B", "sampled", "journal heartbeat",
                                            "the last RSS high-water mark the kernel wrote")},
        notes=[("the kernel died while this cell ran: out of memory; last seen 12.3 s after the cell started, "
                "at 22.8 GiB")],
    ), run)
    store.close()
