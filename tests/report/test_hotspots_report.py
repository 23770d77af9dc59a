"""Where the time went, in the footer, `%nbprofile last`'s table and the reports: the same words."""

from __future__ import annotations

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
