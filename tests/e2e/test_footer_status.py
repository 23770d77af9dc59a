"""Footers that never dirty the notebook, and the status-bar readout, in a real JupyterLab.

Runs a notebook twice (Run All, in a fresh kernel: the cells queued behind `%load_ext`
reach the kernel before the page's hello does, so their footers come as marked outputs
the page moves out; then Run All again, over nbprofile's channel) and saves it each time:
a footer shows under every measured cell, none is in the saved file, and the two saved
files differ only in their execution counts. While a 4 s cell runs, the status bar shows
its elapsed time rising and the kernel's memory. Screenshots: ``/tmp/nbprofile-footer*.png``.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.lab import Lab, chromium_path, in_browser, menu, shot, start_lab, write_notebook

CHROMIUM = chromium_path()
if CHROMIUM is None:
    pytest.skip("no chromium at /usr/bin/chromium (apt-get install chromium)", allow_module_level=True)
pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytest.importorskip("jupyterlab", reason="pip install jupyterlab")

pytestmark = pytest.mark.kernel

NOTEBOOK = "footers.ipynb"
SOURCES = [
    ("code", "%load_ext nbprofile"),
    ("code", "print('hello from the cell')\ntotal = sum(range(100_000))"),
    ("markdown", "## The slow part"),
    ("code", "import time\nheld = b'x' * 200_000_000\ntime.sleep(4)"),
    ("code", "%%budget time<=1ms\nsquares = [i * i for i in range(300_000)]"),
]
MEASURED = 3  # the code cells after %load_ext
TIMEOUT_MS = 90_000
FOOTERS = ".jp-NotebookPanel .jp-Cell .nbp-cell-footer"


@pytest.fixture
def lab(tmp_path: Path) -> Iterator[Lab]:
    root = tmp_path / "root"
    root.mkdir()
    write_notebook(root / NOTEBOOK, SOURCES)
    server = start_lab(root, db=tmp_path / "records.db")
    yield server
    server.stop()


def _run_below_and_save(page: Any, lab: Lab, last_count: int, *, watch_live: bool = False) -> dict[str, Any]:
    """Run the cells after `%load_ext` again, wait for each one's footer, save; the saved notebook.
    With ``watch_live``: the 4 s cell's live numbers show where its footer will be, and change."""
    page.locator(".jp-NotebookPanel .jp-CodeCell").nth(1).locator(".jp-InputPrompt").click()
    menu(page, "Run", "Run Selected Cell and All Below")
    if watch_live:
        live = page.locator(".jp-NotebookPanel .jp-CodeCell").nth(2).locator(".nbp-cell-live")
        live.wait_for()
        first = live.inner_text()
        assert first.startswith("running 2") and "RAM 2" in first, first  # from 2 s on; the 200 MB held
        # the panel shows the running cell too, with the same numbers
        running = page.locator("#nbprofile-panel .nbp-running")
        running.wait_for()
        assert "▶ import time" in running.inner_text() and "running " in running.inner_text()
        page.wait_for_function(
            """([el, before]) => el.textContent !== before""", arg=[live.element_handle(), first])
        shot(page, lab.root.parent, "nbprofile-footer-live.png")
        running.wait_for(state="detached")  # gone once the cell ended
    page.wait_for_function(
        """([sel, n, before]) => {
            const prompts = document.querySelectorAll('.jp-NotebookPanel .jp-CodeCell .jp-InputPrompt');
            const last = prompts[prompts.length - 1]?.textContent.trim() ?? '';
            return document.querySelectorAll(sel).length === n && /^\\[\\d+\\]:$/.test(last)
                && last !== before;
        }""",
        arg=[FOOTERS, MEASURED, f"[{last_count}]:"],
        timeout=TIMEOUT_MS,
    )
    return _save(page, lab)


def _save(page: Any, lab: Lab) -> dict[str, Any]:
    page.wait_for_timeout(300)  # an adopted output is moved on the next microtask: let it settle
    before = (lab.root / NOTEBOOK).stat().st_mtime_ns
    menu(page, "File", "Save Notebook")
    page.wait_for_function(
        "() => !document.querySelector('.jp-NotebookPanel .lm-TabBar-tab.jp-mod-dirty, .lm-TabBar-tab.jp-mod-current.jp-mod-dirty')")
    for _ in range(50):
        if (lab.root / NOTEBOOK).stat().st_mtime_ns != before:
            break
        page.wait_for_timeout(100)
    return dict(json.loads((lab.root / NOTEBOOK).read_text()))


def _without_counts(nb: dict[str, Any]) -> dict[str, Any]:
    copy = json.loads(json.dumps(nb))
    for cell in copy["cells"]:
        if cell["cell_type"] == "code":
            cell["execution_count"] = None
            for output in cell["outputs"]:
                output.pop("execution_count", None)
    return copy


def test_footers_are_drawn_but_never_saved_and_the_status_bar_counts(lab: Lab, tmp_path: Path) -> None:
    in_browser(lab, tmp_path, lambda page: _check(page, lab, tmp_path), failure="nbprofile-footer-failure.png",
               viewport=(1280, 900), timeout_ms=TIMEOUT_MS)


def _check(page: Any, lab: Lab, tmp_path: Path) -> None:
    page.goto(lab.page_url(NOTEBOOK))
    page.wait_for_selector(".jp-NotebookPanel .jp-Cell")
    lab.wait_kernel_idle(NOTEBOOK)

    # Run 1, in a fresh kernel. While the 4 s cell runs, the status bar counts up.
    menu(page, "Run", "Run All Cells")
    status = page.locator(".jp-StatusBar-Widget .nbp-status")
    # the memory the cell holds shows while it runs (the server reads it every 2 s)
    page.wait_for_function(
        """() => /^nbprofile cell [1-4][.\\d]* s · RAM [23]\\d\\d MiB$/
                 .test(document.querySelector('.nbp-status')?.textContent ?? '')""", timeout=TIMEOUT_MS)
    first = status.inner_text()
    page.wait_for_timeout(1100)
    second = status.inner_text()
    assert second != first, (first, second)  # the elapsed time counts up
    assert "RSS" in (status.get_attribute("title") or "")
    shot(page, tmp_path, "nbprofile-footer-status.png")
    page.wait_for_function(f"() => document.querySelectorAll('{FOOTERS}').length === {MEASURED}",
                           timeout=TIMEOUT_MS)
    saved1 = _save(page, lab)
    # after the cell, the readout keeps the memory and drops the timer
    page.wait_for_function("() => /^nbprofile RAM \\d/.test(document.querySelector('.nbp-status')?.textContent ?? '')")

    # A footer under each measured cell, drawn by the page; the failed budget shows in it.
    footers = page.locator(FOOTERS)
    assert footers.count() == MEASURED
    assert all(footers.nth(i).locator(".nbprofile-footer").count() == 1 for i in range(MEASURED))
    assert "✗" in footers.nth(MEASURED - 1).inner_text()
    code_cells = page.locator(".jp-NotebookPanel .jp-CodeCell")
    assert code_cells.nth(1).locator(".jp-OutputArea-output").first.inner_text().strip() == "hello from the cell"
    shot(page, tmp_path, "nbprofile-footer.png")

    # Nothing of nbprofile's is in the saved file: the outputs are the user's own.
    outputs = [cell.get("outputs", []) for cell in saved1["cells"] if cell["cell_type"] == "code"]
    text = json.dumps(saved1)
    assert "nbprofile-footer" not in text, outputs
    assert '"nbprofile"' not in text.replace('"%load_ext nbprofile"', "")
    (printed,) = outputs[1]
    assert printed["output_type"] == "stream" and "".join(printed["text"]) == "hello from the cell\n"
    assert outputs[2] == [] and outputs[3] == []

    # Run 2 in the same kernel (over the channel now), the panel open: the same file but for the counts.
    page.click(".jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id='nbprofile-panel']")
    counts1 = [c["execution_count"] for c in saved1["cells"] if c["cell_type"] == "code"]
    saved2 = _run_below_and_save(page, lab, counts1[-1], watch_live=True)
    counts2 = [c["execution_count"] for c in saved2["cells"] if c["cell_type"] == "code"]
    assert counts2 != counts1
    assert _without_counts(saved2) == _without_counts(saved1)
    assert page.locator(FOOTERS).count() == MEASURED

    # The panel's detail of the 4 s cell says where its time went (sampled after its first second).
    page.locator("#nbprofile-panel .nbp-cells-table [data-record]").filter(has_text="import time").first.click()
    hotspots = page.locator("#nbprofile-panel .nbp-detail [data-section='hotspots'] li")
    hotspots.first.wait_for()
    assert hotspots.first.inner_text().startswith("100 %"), hotspots.all_inner_texts()  # all of it in sleep
    shot(page, tmp_path, "nbprofile-footer-hotspots.png")

    # Clearing the outputs clears the footers too, as it would have when they were outputs.
    menu(page, "Edit", "Clear Outputs of All Cells")
    page.wait_for_function(f"() => document.querySelectorAll('{FOOTERS}').length === 0")
