"""The JupyterLab panel in a real JupyterLab and a real browser (Debian's chromium, Playwright).

Everything happens at the width JupyterLab opens its left sidebar at (250 px): no
view may scroll sideways, the failed budget's mark and chip must be fully visible.
Opens a notebook that loads nbprofile and has ``%%budget`` cells (one failing) and
an interrupted cell, runs it, checks the panel's row per cell, the failed budget's
mark and the cell's detail (its chips, value against limit, every reading with its
method); runs it again in a new kernel, then Run All once more in that kernel (one
run, each cell twice: ×2 rows, every execution on demand, labelled totals that
agree between the views); compares the two runs, and two stored runs with a
regression and an improvement; clicks a row and checks that the notebook scrolled
to and selected that cell; then widens the sidebar, where more columns appear.
Screenshots of each view go to the test's tmp dir and to ``/tmp/nbprofile-panel*.png``.

Needs the built frontend (``pip install -e .`` builds it) and ``/usr/bin/chromium``
(``apt-get install chromium``); skipped without chromium. ~60 s.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore
from tests.e2e.lab import Lab, chromium_path, in_browser, labextension_dir, menu, shot, start_lab, write_notebook

CHROMIUM = chromium_path()
if CHROMIUM is None:
    pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="pip install playwright")
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
    ("code", ("print('done', '<b>not bold</b><img src=x onerror=\"window.__nbp_xss=1\">"
              "<script>window.__nbp_xss=2</script>')")),
    # the user pressing stop, as a recorded status (last: Run All stops here)
    ("code", "raise KeyboardInterrupt  # as if the user pressed stop"),
]
MEASURED_CELLS = 6  # the code cells after %load_ext (that one runs before nbprofile hooks in)
PANEL = "#nbprofile-panel"
TIMEOUT_MS = 60_000
#: JupyterLab opens its left sidebar at 250 px; the panel is designed for that width
DEFAULT_SIDEBAR_MAX_PX = 320


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


def _rows(page: Any) -> Any:
    return page.locator(f"{PANEL} .nbp-cells-table [data-record]")


def _wait_rows(page: Any, count: int, run_other_than: str | None = None) -> str:
    """Wait until the cells view shows ``count`` rows (of a run other than the one given); return its run id."""
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


def _assert_fits(page: Any, view: str) -> None:
    """Nothing in the panel scrolls sideways or sticks out of it: every element that can scroll has
    ``scrollWidth <= clientWidth``, every visible control, mark, chip and tag lies inside the panel,
    and no ×N, budget mark, chip or died badge is cut."""
    found = page.evaluate(
        """(sel) => {
            const panel = document.querySelector(sel);
            const box = panel.getBoundingClientRect();
            const wide = [];
            for (const el of [panel, ...panel.querySelectorAll('*')]) {
                const style = getComputedStyle(el);
                const scrolls = ['auto', 'scroll'].includes(style.overflowX);
                if ((scrolls || el === panel) && el.scrollWidth > el.clientWidth + 1) {
                    wide.push(`${el.className}: scrollWidth ${el.scrollWidth} > clientWidth ${el.clientWidth}`);
                }
            }
            const parts = '.nbp-tab, select, button, summary, .nbp-mark, .nbp-chip, .nbp-tag, .nbp-badge, '
                + '.nbp-num, .nbp-regressed, .nbp-total-label, .nbp-reading-how, input';
            const out = [];
            for (const el of panel.querySelectorAll(parts)) {
                const r = el.getBoundingClientRect();
                if (r.width === 0 || r.height === 0) continue;  // not shown (a closed chooser)
                if (r.left < box.left - 0.5 || r.right > box.right + 0.5) {
                    out.push(`${el.className || el.tagName} "${el.textContent.slice(0, 40)}": `
                             + `${r.left.toFixed(0)}..${r.right.toFixed(0)} outside ${box.left}..${box.right}`);
                }
            }
            // what a row must show whole: its ×N, its budget mark, a chip, a died badge
            for (const el of panel.querySelectorAll('.nbp-times, .nbp-mark, .nbp-chip, .nbp-died')) {
                if (el.clientWidth > 0 && el.scrollWidth > el.clientWidth + 1) {
                    out.push(`${el.className} "${el.textContent}" is cut: ${el.scrollWidth} > ${el.clientWidth}`);
                }
            }
            return {width: box.width, wide, out};
        }""",
        PANEL,
    )
    assert found["width"] <= DEFAULT_SIDEBAR_MAX_PX or view == "wide", found
    assert not found["wide"], (view, found["wide"])
    assert not found["out"], (view, found["out"])


def _inside_panel(page: Any, locator: Any) -> None:
    """The element is drawn whole inside the panel (not cut by its edge or by an ancestor's overflow)."""
    box, panel = locator.bounding_box(), page.locator(PANEL).bounding_box()
    assert box is not None and panel is not None
    assert panel["x"] - 0.5 <= box["x"] and box["x"] + box["width"] <= panel["x"] + panel["width"] + 0.5, (box, panel)
    clipped = locator.evaluate(
        """(el) => {
            const r = el.getBoundingClientRect();
            for (let p = el.parentElement; p; p = p.parentElement) {
                if (getComputedStyle(p).overflow === 'visible') continue;
                const q = p.getBoundingClientRect();
                if (r.left < q.left - 0.5 || r.right > q.right + 0.5) return p.className;
            }
            return null;
        }"""
    )
    assert clipped is None, f"cut by {clipped}"


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
    in_browser(lab, artifacts, lambda page: _run(page, lab, artifacts), failure="nbprofile-panel-failure.png",
               viewport=(1280, 800), timeout_ms=TIMEOUT_MS)


def _run(page: Any, lab: Lab, artifacts: Path) -> None:
    page.goto(lab.page_url(NOTEBOOK))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    lab.wait_kernel_idle(NOTEBOOK)

    # The panel, before anything ran, at the sidebar's default width: it says why it is empty.
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")
    page.wait_for_selector(f"{PANEL} .nbp-empty[data-empty='no-records']")
    assert "%load_ext nbprofile" in page.inner_text(PANEL)
    _assert_fits(page, "empty")

    run1 = _first_run(page, lab, artifacts)
    run2 = _second_run_twice(page, artifacts, run1)
    _compare_and_reveal(page, lab, artifacts, run1, run2)
    _poll_theme_and_died(page, lab, artifacts, run2)
    _wider_sidebar(page, artifacts)


def _first_run(page: Any, lab: Lab, artifacts: Path) -> str:
    """Run 1: the panel fills while the cells run, one row per measured cell, each fitting the sidebar."""
    menu(page, "Run", "Run All Cells")
    run1 = _wait_rows(page, MEASURED_CELLS)
    rows = _rows(page)
    failed = page.locator(f"{PANEL} .nbp-cells-table [data-verdict='fail']")
    assert failed.count() == 1
    assert "sleep(0.3)" in failed.inner_text()
    # the verdict is a mark at this width: ✗, whole, inside the panel, its tooltip the limit broken
    mark = failed.locator(".nbp-mark-fail")
    assert mark.inner_text() == "✗" and mark.is_visible()
    _inside_panel(page, mark)
    assert "time" in (mark.get_attribute("title") or "") and ">" in (mark.get_attribute("title") or "")
    assert page.locator(f"{PANEL} .nbp-cells-table [data-verdict='pass'] .nbp-mark-pass").count() == 1
    assert page.locator(f"{PANEL} .nbp-summary .nbp-badge-fail").inner_text() == "1 failed"
    # each row shows the chosen metric (time) with a bar, and nothing sticks out
    assert page.locator(f"{PANEL} .nbp-cells").get_attribute("data-columns") == "1"
    assert rows.first.locator(".nbp-barred").count() == 1
    _assert_fits(page, "cells")
    # the interrupted cell's tag sits before its code, never over it
    interrupted = page.locator(f"{PANEL} .nbp-cells-table [data-status='interrupted']")
    tag, text = interrupted.locator(".nbp-tag-error"), interrupted.locator(".nbp-source-text")
    assert tag.inner_text() == "interrupted"
    tag_box, text_box = tag.bounding_box(), text.bounding_box()
    assert tag_box is not None and text_box is not None
    assert tag_box["x"] + tag_box["width"] <= text_box["x"] + 0.5, (tag_box, text_box)
    assert "raise KeyboardInterrupt" in text.inner_text()
    # data is text, never markup
    sources = rows.locator(".nbp-source").all_inner_texts()
    assert any("squares(n)" in s or "def squares" in s for s in sources), sources
    assert any("<b>not bold</b><img src=x onerror" in s for s in sources), sources
    assert page.locator(f"{PANEL} b").count() == 0
    assert page.locator(f"{PANEL} img").count() == 0 and page.locator(f"{PANEL} script").count() == 0
    assert page.evaluate("window.__nbp_xss") is None, "markup from a cell ran in the panel"
    shot(page, artifacts, "nbprofile-panel-run1.png")

    # Click the failed row: its detail opens under the view with the chip, value against limit,
    # and every reading with its label, value and method (n/a with its reason).
    failed.click()
    detail = page.locator(f"{PANEL} .nbp-detail")
    detail.wait_for()
    chip = detail.locator(".nbp-chip-fail")
    assert chip.count() == 1
    chip_text = chip.inner_text()
    value, _, limit = chip_text.removeprefix("✗ time ").partition(" > ")  # `✗ time 304 ms > 50.0 ms`
    assert chip_text.startswith("✗ time ") and value.endswith("ms") and limit.startswith("50"), chip_text
    assert "fail" in (chip.get_attribute("title") or "")
    _inside_panel(page, chip)
    wall = detail.locator(".nbp-reading[data-reading='wall_s']")
    assert wall.locator(".nbp-reading-label").inner_text() == "time"
    assert wall.locator(".nbp-reading-how").inner_text().startswith("measured")
    for reading in detail.locator(".nbp-reading").all():
        how = reading.locator(".nbp-reading-how").inner_text()
        value = reading.locator(".nbp-num").inner_text()
        assert how.split(" ")[0].rstrip(":") in ("measured", "sampled", "estimated", "unavailable"), how
        assert (value == "n/a") == how.startswith("unavailable"), (value, how)
        if value == "n/a":
            assert len(how) > len("unavailable: "), how  # with its reason
    # the click also revealed the cell in the notebook
    page.wait_for_function(
        """() => document.querySelector('.jp-NotebookPanel .jp-Cell.jp-mod-active')
                  ?.textContent.includes('sleep(0.3)') ?? false"""
    )
    _assert_fits(page, "cells+detail")
    shot(page, artifacts, "nbprofile-panel-detail.png")
    detail.locator(".nbp-detail-close").click()
    assert page.locator(f"{PANEL} .nbp-detail").count() == 0

    # The metric chooser: the catalog's labels, never raw keys; a choice is written to the settings.
    page.click(f"{PANEL} .nbp-chooser > summary")
    items = page.locator(f"{PANEL} .nbp-chooser-item")
    labels = items.all_inner_texts()
    assert "time" in labels and "CPU" in labels and "peak RAM" in labels, labels
    assert not any("_" in label for label in labels), labels
    _assert_fits(page, "chooser")
    shot(page, artifacts, "nbprofile-panel-chooser.png")
    page.locator(f"{PANEL} .nbp-chooser-item input[data-metric='cpu_s']").uncheck()
    deadline = time.monotonic() + 10
    while "cpu_s" in (columns := lab.api("lab/api/settings/nbprofile:plugin")["settings"].get("columns", ["cpu_s"])):
        assert time.monotonic() < deadline, columns
        time.sleep(0.2)
    assert "wall_s" in columns
    assert "CPU" not in page.locator(f"{PANEL} select[name='metric']").inner_text()
    page.click(f"{PANEL} .nbp-chooser-reset")
    page.click(f"{PANEL} .nbp-chooser > summary")  # close it
    return run1


def _second_run_twice(page: Any, artifacts: Path, run1: str) -> str:
    """Run 2 after a restart, then Run All again in the same kernel: one run, each cell twice."""
    menu(page, "Kernel", "Restart Kernel and Run All Cells…")
    page.click(".jp-Dialog .jp-mod-accept")
    run2 = _wait_rows(page, MEASURED_CELLS, run_other_than=run1)
    assert run2 != run1
    page.wait_for_selector(f"{PANEL} .nbp-tab[data-view='runs']:has-text('Runs (2)')")
    shot(page, artifacts, "nbprofile-panel.png")

    menu(page, "Run", "Run All Cells")
    twice = page.locator(f"{PANEL} .nbp-cells-table [data-executions='2']")
    page.wait_for_function(
        "(sel) => document.querySelectorAll(sel).length === 6",
        arg=f"{PANEL} .nbp-cells-table [data-executions='2']",
    )
    page.wait_for_selector(f"{PANEL} .nbp-tab[data-view='runs']:has-text('Runs (2)')")  # still one run
    assert page.locator(f"{PANEL} .nbp-cells").get_attribute("data-run") == run2
    # one row per cell (the second %load_ext is recorded now, nbprofile being loaded), ×2 on each re-run cell
    shown_rows = _rows(page).count()
    assert shown_rows in (MEASURED_CELLS, MEASURED_CELLS + 1), shown_rows
    assert twice.first.locator(".nbp-times").inner_text() == "×2"
    _inside_panel(page, twice.first.locator(".nbp-times"))
    labels = _rows(page).locator(".nbp-index").all_inner_texts()  # each cell's latest execution, in order
    assert labels == sorted(labels, key=lambda t: int(t.strip("[]#"))), labels
    executions = 2 * MEASURED_CELLS + (shown_rows - MEASURED_CELLS)
    summary = page.locator(f"{PANEL} .nbp-cells .nbp-summary")
    assert f"{shown_rows} cells" in summary.inner_text() and f"{executions} executions" in summary.inner_text()
    totals = page.locator(f"{PANEL} .nbp-run-totals")
    assert "latest execution of each cell" in totals.inner_text()
    assert f"all {executions} executions" in totals.inner_text()
    latest_total = totals.locator("[data-total='latest']").inner_text()
    all_total = totals.locator("[data-total='all']").inner_text()
    assert latest_total != all_total  # every cell counted twice in one, once in the other
    _assert_fits(page, "cells x2")
    shot(page, artifacts, "nbprofile-panel-twice.png")

    # Every execution, in order, on demand.
    page.check(f"{PANEL} input[name='all-executions']")
    _wait_rows(page, executions)
    assert page.locator(f"{PANEL} .nbp-cells-table .nbp-times").count() == 0
    labels = _rows(page).locator(".nbp-index").all_inner_texts()
    assert labels == sorted(labels, key=lambda t: int(t.strip("[]#"))), labels  # in execution order
    _assert_fits(page, "every execution")
    shot(page, artifacts, "nbprofile-panel-executions.png")
    page.uncheck(f"{PANEL} input[name='all-executions']")
    _wait_rows(page, shown_rows)

    # Runs view: two runs, newest first; the cells and executions of each, and a total labelled
    # "all executions" that is the cells view's number of that name.
    page.click(f"{PANEL} .nbp-tab[data-view='runs']")
    runs = page.locator(f"{PANEL} .nbp-runs [data-run]")
    assert runs.count() == 2
    newest = runs.nth(0)
    assert newest.get_attribute("data-run") == run2
    assert newest.locator(".nbp-badge-fail").inner_text() == "2 failed"  # the slow cell, both times
    assert f"{shown_rows} cells · {executions} executions" in newest.inner_text()
    assert runs.nth(1).locator(".nbp-badge-fail").inner_text() == "1 failed"
    head = page.locator(f"{PANEL} .nbp-runs .nbp-row-head .nbp-run-total")
    assert "all executions" in head.inner_text() and "every execution" in (head.get_attribute("title") or "")
    assert newest.locator("[data-total='all']").inner_text() == all_total
    _assert_fits(page, "runs")
    shot(page, artifacts, "nbprofile-panel-runs.png")
    return run2


def _compare_and_reveal(page: Any, lab: Lab, artifacts: Path, run1: str, run2: str) -> None:
    # Compare the two runs: per-cell rows (each cell's latest execution), totals, deltas.
    page.click(f"{PANEL} .nbp-tab[data-view='compare']")
    compare_rows = page.locator(f"{PANEL} .nbp-compare-table [data-key]")
    compare_rows.nth(MEASURED_CELLS - 1).wait_for()
    assert compare_rows.count() == MEASURED_CELLS
    assert page.locator(f"{PANEL} select[name='a']").input_value() == run1
    assert page.locator(f"{PANEL} select[name='b']").input_value() == run2
    caption = page.locator(f"{PANEL} .nbp-totals-caption")
    assert "latest execution of each cell" in caption.inner_text()
    totals = page.locator(f"{PANEL} .nbp-totals [data-metric='wall_s'] .nbp-num")
    compare_a, compare_b = totals.nth(0).inner_text(), totals.nth(1).inner_text()
    assert "n/a" not in compare_a + compare_b
    # CO2e, where a meter estimates it, is marked ~ in both runs' totals
    co2 = page.locator(f"{PANEL} .nbp-totals [data-metric='co2_g'] .nbp-method-estimated")
    if co2.count() > 0:
        assert co2.count() == 2 and all(t.lstrip("≥ ").startswith("~") for t in co2.all_inner_texts())
        assert "estimated" in (co2.first.get_attribute("title") or "")
    chart = page.locator(f"{PANEL} .nbp-chart-delta")
    assert chart.locator("path.nbp-bar").count() >= 1
    chart.scroll_into_view_if_needed()
    box = chart.bounding_box()
    assert box is not None
    page.mouse.move(box["x"] + box["width"] * 0.05, box["y"] + box["height"] / 2)  # over the first cell's bar
    readout = page.locator(f"{PANEL} .nbp-compare .nbp-chart-readout")
    assert "from time import sleep" in readout.evaluate("el => el.textContent")
    _assert_fits(page, "compare")

    # Click a row: the notebook scrolls to that cell and selects it; its detail shows every metric.
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
    detail = page.locator(f"{PANEL} .nbp-detail")
    assert detail.locator(".nbp-compare-metric[data-metric='wall_s']").count() == 1
    _assert_fits(page, "compare+detail")
    shot(page, artifacts, "nbprofile-panel-compare.png")
    detail.locator(".nbp-detail-close").click()

    # The cells view's row does the same for a cell found by its id; the labelled totals agree:
    # compare's B "latest execution of each cell" is the cells view's number of that name.
    page.click(f"{PANEL} .nbp-tab[data-view='cells']")
    page.wait_for_selector(f"{PANEL} .nbp-cells[data-run='{run2}']")
    assert page.locator(f"{PANEL} .nbp-run-totals [data-total='latest']").inner_text() == compare_b
    _rows(page).filter(has_text="from time import sleep").click()
    page.wait_for_function(
        """() => document.querySelector('.jp-NotebookPanel .jp-Cell.jp-mod-active')
                  ?.textContent.includes('total = sum') ?? false"""
    )
    assert _active_cell_in_view(page)["visible"]
    page.locator(f"{PANEL} select[name='run']").select_option(run1)
    page.wait_for_selector(f"{PANEL} .nbp-cells[data-run='{run1}']")
    assert page.locator(f"{PANEL} .nbp-run-totals [data-total='latest']").inner_text() == compare_a
    page.locator(f"{PANEL} select[name='run']").select_option(run2)
    page.wait_for_selector(f"{PANEL} .nbp-cells[data-run='{run2}']")

    # Two stored runs, one cell slower, one faster, one faster in time but slower in CPU: compare
    # names the metric that regressed and by how much, and marks no row that improved.
    _write_regression_runs(lab)
    page.click(f"{PANEL} .nbp-tab[data-view='compare']")
    page.wait_for_selector(f"{PANEL} select[name='a'] option[value='reg-a']", state="attached")
    page.locator(f"{PANEL} select[name='a']").select_option("reg-a")
    page.locator(f"{PANEL} select[name='b']").select_option("reg-b")
    page.wait_for_selector(f"{PANEL} .nbp-compare[data-a='reg-a'][data-b='reg-b']")
    slower = page.locator(f"{PANEL} .nbp-compare-table [data-key='slower']")
    faster = page.locator(f"{PANEL} .nbp-compare-table [data-key='faster']")
    cpu = page.locator(f"{PANEL} .nbp-compare-table [data-key='cpu-worse']")
    assert slower.get_attribute("data-regression") == "true"
    assert slower.locator(".nbp-regressed").inner_text() == "▲ regressed: time +100%"
    _inside_panel(page, slower.locator(".nbp-regressed"))
    assert faster.get_attribute("data-regression") == "false"
    assert faster.locator(".nbp-regressed").count() == 0
    assert "nbp-row-regression" not in (faster.get_attribute("class") or "")
    assert "nbp-better" in (faster.locator(".nbp-num").last.get_attribute("class") or "")
    assert cpu.locator(".nbp-regressed").inner_text() == "▲ regressed: CPU +50.0%"
    assert page.locator(f"{PANEL} .nbp-compare .nbp-summary .nbp-badge-fail").inner_text() == "2 regressed"
    _assert_fits(page, "compare regressions")
    cpu.click()
    regression = page.locator(f"{PANEL} .nbp-detail .nbp-detail-regression")
    assert regression.count() == 1 and regression.inner_text().startswith("CPU +50")
    shot(page, artifacts, "nbprofile-panel-regressions.png")
    page.locator(f"{PANEL} .nbp-detail .nbp-detail-close").click()


def _poll_theme_and_died(page: Any, lab: Lab, artifacts: Path, run2: str) -> None:
    # Polling stops while the panel is hidden, and starts again when it shows. (The panel's routes:
    # the status bar's readout of the kernel's memory polls on its own.)
    page.click(f"{PANEL} .nbp-tab[data-view='cells']")
    calls: list[str] = []
    panel_route = re.compile(r"/nbprofile/api/(runs|compare|metrics|formats|status)\b")
    page.on("request", lambda r: calls.append(r.url) if panel_route.search(r.url) else None)
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")  # collapse
    page.wait_for_selector(PANEL, state="hidden")
    calls.clear()
    page.wait_for_timeout(5000)  # 2.5 poll intervals
    assert calls == [], calls
    with page.expect_request(lambda r: "/nbprofile/api/runs" in r.url, timeout=TIMEOUT_MS):
        page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")  # polls again

    # Theme-aware: the dark theme restyles the panel through JupyterLab's variables.
    menu(page, "Settings", "Theme", "JupyterLab Dark")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
    page.wait_for_timeout(300)
    background = page.evaluate(f"getComputedStyle(document.querySelector('{PANEL}')).backgroundColor")
    assert background not in ("rgb(255, 255, 255)", "rgba(0, 0, 0, 0)"), background
    shot(page, artifacts, "nbprofile-panel-dark.png")

    # A kernel that died mid-cell: the journal's record (written here straight to the store, as a
    # newer run) is a row with a red "✝ died" badge, its summary as the tooltip; its detail says n/a
    # for what the journal could not know, and why.
    _write_died_run(lab)
    run3 = _wait_rows(page, 1, run_other_than=run2)
    assert run3 == "died-run"
    badge = page.locator(f"{PANEL} .nbp-cells-table [data-status='died'] .nbp-died")
    assert badge.is_visible() and badge.inner_text() == "✝ died"
    assert (badge.get_attribute("title") or "").startswith(DIED_SUMMARY)
    assert DIED_SUMMARY in (page.locator(f"{PANEL} .nbp-summary .nbp-died-count").get_attribute("title") or "")
    died_row = page.locator(f"{PANEL} .nbp-cells-table [data-status='died']")
    assert "~12.3 s" in died_row.inner_text()
    facts = page.locator(f"{PANEL} .nbp-cells .nbp-summary").inner_text()
    assert re.search(r"\b1 cell\b", facts) and re.search(r"\b1 execution\b", facts), facts
    # a partial time: estimated, in both totals
    assert page.locator(f"{PANEL} .nbp-run-totals [data-total='all']").inner_text() == "~12.3 s"
    assert page.locator(f"{PANEL} .nbp-run-totals [data-total='latest']").inner_text() == "~12.3 s"
    died_row.click()
    cpu = page.locator(f"{PANEL} .nbp-detail .nbp-reading[data-reading='cpu_s']")
    assert cpu.locator(".nbp-num").inner_text() == "n/a"
    assert "kernel died" in cpu.locator(".nbp-reading-how").inner_text()
    _assert_fits(page, "died")
    shot(page, artifacts, "nbprofile-panel-died.png")


def _wider_sidebar(page: Any, artifacts: Path) -> None:
    """Widened by the user, the cells view shows a column per metric, as many as fit."""
    menu(page, "Settings", "Theme", "JupyterLab Light")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'true'")
    page.locator(f"{PANEL} .nbp-detail .nbp-detail-close").click()
    _widen_sidebar(page, 760)
    page.wait_for_function(
        "(sel) => Number(document.querySelector(sel)?.dataset.columns) >= 4", arg=f"{PANEL} .nbp-cells"
    )
    headers = page.locator(f"{PANEL} .nbp-cells-table .nbp-row-head [role=columnheader]").all_inner_texts()
    assert "time" in headers and "CPU" in headers, headers
    _assert_fits(page, "wide")
    shot(page, artifacts, "nbprofile-panel-wide.png")


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


def _write_regression_runs(lab: Lab) -> None:
    """Two older runs of the notebook: ``slower`` takes twice the time, ``faster`` half, and
    ``cpu-worse`` less time but half again the CPU."""
    store = SQLiteStore(lab.db)
    notebook = str(lab.root / NOTEBOOK)
    cells = {"slower": ("slower()", (1.0, 2.0), (0.5, 0.5)), "faster": ("faster()", (2.0, 1.0), (0.5, 0.5)),
             "cpu-worse": ("cpu_worse()", (1.0, 0.8), (0.4, 0.6))}
    for i, run_id in enumerate(("reg-a", "reg-b")):
        started = time.time() - 7200 + 60 * i  # older than the notebook's own runs: they stay the newest
        run = RunInfo(run_id=run_id, notebook=notebook, kernel_id=None, started_at=started, nbprofile="e2e")
        for seq, (cell_id, (source, walls, cpus)) in enumerate(cells.items(), start=1):
            store.write(CellRecord(
                run_id=run_id, seq=seq, notebook=notebook, cell_id=cell_id, execution_count=seq,
                code_hash=code_hash(source), source=source, started_at=started + seq, status="ok",
                error_type=None, overhead_s=0.0,
                readings={"wall_s": Reading(walls[i], "s", "measured", "perf_counter"),
                          "cpu_s": Reading(cpus[i], "s", "measured", "process_time")},
            ), run)
    store.close()
