"""Where the time went, in the footer, `%nbprofile last`'s table and the reports: the same words."""

from __future__ import annotations

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord
from nbprofile.report.footer import footer_text
from nbprofile.report.registry import export
from nbprofile.report.tables import RecordDetail

EVIL = "<script>alert(1)</script>.py:f"
HOTSPOTS = {"n": 150, "dt": 0.01, "s": 1.5, "top": [["train.py:forward", "train.py:42", 0.62, 0.9, 14],
                                                      [EVIL, "x.py:1", 0.3, 0.3, None]]}


def record(insights: dict | None) -> CellRecord:
    return CellRecord(run_id="r1", seq=1, notebook="/nb/a.ipynb", cell_id="c1", execution_count=7,
                      code_hash="h", source="train()", started_at=1.7e9, status="ok", error_type=None,
                      readings={"wall_s": Reading(2.5, "s", "measured", "perf_counter")}, overhead_s=1e-5,
                      insights=insights)


def test_the_full_footer_and_last_name_the_hot_function_and_the_cell_line() -> None:
    hot = record({"hotspots": HOTSPOTS})
    assert "hot: 62 % train.py:forward ← cell line 14; 30 % " in footer_text(hot, "full")
    assert "hot:" not in footer_text(hot, "compact")  # the compact footer stays one short line
    assert "hot spot: 62 % train.py:forward ← cell line 14  (train.py:42)" in repr(RecordDetail(hot))
    assert "hot" not in footer_text(record(None), "full")


def test_reports_have_a_section_for_the_sampled_cells_escaped() -> None:
    run = {"run_id": "r1", "notebook": "/nb/a.ipynb", "started_at": 1.7e9}
    markdown = export("md", [record({"hotspots": HOTSPOTS})], run)
    assert "## Where the time went" in markdown and "62 % train.py:forward ← cell line 14" in markdown
    html = export("html", [record({"hotspots": HOTSPOTS})], run)
    assert "<h2>Where the time went</h2>" in html and "62 % train.py:forward ← cell line 14" in html
    assert "<script>alert(1)</script>" not in html and "&lt;script&gt;" in html
    assert "Where the time went" not in export("md", [record(None)], run)


def busy_python(**readings: float) -> CellRecord:
    """A 2.5 s cell sampled over 2.4 s, with the readings given (seconds, joules, dollars)."""
    units = {"wall_s": "s", "cpu_s": "s", "gpu_time_s": "s", "cpu_energy_j": "J", "energy_j": "J",
             "compute_cost_usd": "USD"}
    hot = {**HOTSPOTS, "s": 2.4}
    made = record({"hotspots": hot})
    made.readings = {k: Reading(v, units[k], "estimated" if k != "wall_s" else "measured", "test")
                     for k, v in {"wall_s": 2.5, **readings}.items()}
    return made


def test_a_cpu_bound_cells_energy_and_dollars_are_shared_out_by_its_hot_spots_as_estimates() -> None:
    cell = busy_python(cpu_s=2.45, cpu_energy_j=100.0, energy_j=100.0, compute_cost_usd=0.002)
    full = footer_text(cell, "full")
    # 62 % of 100 J, and of the electricity's $0.002; "~" marks an estimate, as in every report
    assert "62 % train.py:forward ← cell line 14 · ~62.0 J, ~$0.00124" in full, full
    assert "~62.0 J" in repr(RecordDetail(cell))
    assert "~62.0 J" in export("md", [cell], {"run_id": "r1", "notebook": "/nb/a.ipynb", "started_at": 1.7e9})


@pytest.mark.parametrize("readings", [
    {"cpu_s": 0.3, "cpu_energy_j": 100.0},                        # mostly waiting: the time is not the energy
    {"cpu_s": 7.5, "cpu_energy_j": 100.0},                        # three threads busy: not the sampled one's
    {"cpu_s": 2.45, "cpu_energy_j": 100.0, "gpu_time_s": 2.0},    # a GPU did the work
    {"cpu_s": 2.45},                                              # no CPU energy to share
], ids=["io-bound", "threads", "gpu", "no-energy"])
def test_energy_is_not_shared_out_where_that_would_not_be_honest(readings: dict[str, float]) -> None:
    full = footer_text(busy_python(**readings), "full")
    assert "62 % train.py:forward ← cell line 14" in full and " J" not in full.split("hot:")[1], full
