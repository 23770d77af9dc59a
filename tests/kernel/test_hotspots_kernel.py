"""Where a long cell's time went, in a real kernel: stored with its record, shown by
`%nbprofile last` and the full footer; nothing for a short cell or a cell that opts out."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.store import stored

pytestmark = pytest.mark.kernel

DEFINE = '''
import time

def busy(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(200))

def other(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        sum(range(200))
'''
# 80 % of the cell in busy(), throughout (sampling starts a second in: shares are of what it saw)
HOT_CELL = "for _ in range(30):\n    busy(0.08)\n    other(0.02)"


def test_the_function_that_took_the_time_is_named_with_the_cell_line(start_kernel,
                                                                    _isolated_store: Path) -> None:
    k = start_kernel()
    k.run("%load_ext nbprofile\n%nbprofile footer full", cell_id="load")
    k.run(DEFINE, cell_id="define")
    reply = k.run(HOT_CELL, cell_id="hot")
    record = stored(_isolated_store)[-1]
    hot = record.insights["hotspots"]
    function, _where, self_share, _total, cell_line = hot["top"][0]
    assert function.endswith("busy") and cell_line == 2, hot
    assert 0.70 <= self_share <= 0.90, hot
    assert hot["n"] >= 100  # ~100 a second over the 1.5 s past the threshold
    # the sampler's (and the live view's) CPU is nbprofile's, counted apart from the cell's
    ours, cells = record.value("profiler_cpu_s"), record.value("cpu_s")
    assert ours is not None and cells is not None and 0 < ours < 0.1 * cells, (ours, cells)
    footer = reply.updates[-1]["data"]["text/plain"]  # a 3 s cell: its live output, replaced by the footer
    assert "hot: " in footer and "busy ← cell line 2" in footer
    last = k.run("%nbprofile last")
    shown = last.result["text/plain"]
    assert "hot spot: " in shown and "busy ← cell line 2" in shown


def test_short_cells_and_cells_that_opt_out_keep_nothing(start_kernel, _isolated_store: Path) -> None:
    k = start_kernel()
    k.run("%load_ext nbprofile", cell_id="load")
    k.run(DEFINE, cell_id="define")
    k.run("busy(0.3)", cell_id="short")
    k.run("# nbprofile: no-hotspots\nbusy(1.5)", cell_id="opted-out")
    k.run("%nbprofile hotspots off", cell_id="off")
    k.run("busy(1.5)", cell_id="switched-off")
    k.run("%nbprofile hotspots on", cell_id="on")
    k.run("busy(1.5)", cell_id="back-on")
    insights = {r.cell_id: r.insights for r in stored(_isolated_store)}
    assert insights["short"] is None and insights["opted-out"] is None and insights["switched-off"] is None
    assert insights["back-on"]["hotspots"]["top"][0][0].endswith("busy")


def test_a_progress_bars_projections_are_kept_with_the_record(start_kernel, _isolated_store: Path) -> None:
    pytest.importorskip("tqdm")
    k = start_kernel()
    k.run("%load_ext nbprofile", cell_id="load")
    k.run("import time\nfrom tqdm import tqdm\nfor _ in tqdm(range(40)):\n    time.sleep(0.1)", cell_id="bar")
    record = stored(_isolated_store)[-1]
    projections = record.insights["projections"]
    assert len(projections) >= 2
    at, fraction, low, mid, high = projections[0]
    assert at >= 2.0 and 0 < fraction < 1 and low <= mid <= high
    actual = record.value("wall_s")
    assert abs(mid - actual) / actual < 0.15, (projections, actual)  # how good the projection was
