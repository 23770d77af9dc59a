"""docs/readings.md is the metric catalog, written out: a reading added to the catalog is documented."""

from __future__ import annotations

import runpy
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_readings_doc_is_written_from_the_catalog() -> None:
    render = runpy.run_path(str(ROOT / "scripts" / "readings_doc.py"))["render"]
    expected = render()
    assert "| `wall_s` | s | wall-clock time of the cell | perf_counter_ns | `time` | sum |" in expected
    assert (ROOT / "docs" / "readings.md").read_text(encoding="utf-8") == expected, \
        "docs/readings.md is out of date: run python scripts/readings_doc.py"
