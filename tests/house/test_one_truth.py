"""Where copies once disagreed, one truth: a verdict reads the same under the cell, in the panel's
JSON, in reports and in the CLI, and units are spelled one way."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.budgets.evaluate import evaluate
from nbprofile.budgets.grammar import parse_limit
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo
from nbprofile.report import registry
from nbprofile.report.footer import footer_text
from nbprofile.report.tables import RecordDetail
from nbprofile.store import SQLiteStore

VERDICT_TEXT = "time 1.00496 s > 1 s"  # two numbers that differ never print the same


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def judged_record() -> CellRecord:
    readings = {"wall_s": Reading(1.00496, "s", "measured", "perf_counter_ns")}
    verdict = evaluate([parse_limit("time<=1s")], readings)
    return CellRecord(run_id="run1", seq=1, notebook="/nb.ipynb", cell_id="c1", execution_count=1, code_hash="h",
                      source="train()", started_at=time.time(), status="ok", error_type=None, readings=readings,
                      overhead_s=1e-5, verdict=verdict.to_json(), verdict_status=verdict.status)


def test_a_verdict_reads_the_same_under_the_cell_and_in_every_report() -> None:
    record = judged_record()
    assert footer_text(record).endswith(f"✗ {VERDICT_TEXT}")
    assert f"budget: fail: {VERDICT_TEXT}" in repr(RecordDetail(record))
    run = {"run_id": "run1", "notebook": "/nb.ipynb", "started_at": time.time()}
    assert VERDICT_TEXT in registry.export("md", [record], run)
    assert html.escape(VERDICT_TEXT) in registry.export("html", [record], run)


async def test_the_panel_gets_the_footers_words(jp_fetch: Any, _isolated_store: Path) -> None:
    store = SQLiteStore(_isolated_store)
    store.write(judged_record(), RunInfo(run_id="run1", notebook="/nb.ipynb", kernel_id=None, started_at=time.time()))
    store.close()
    body = json.loads((await jp_fetch("nbprofile", "api", "runs", "run1")).body)
    item = body["cells"][0]["verdict"]["items"][0]
    assert (item["text"], item["value_text"], item["threshold_text"]) == (VERDICT_TEXT, "1.00496 s", "1 s")
    assert item["status"] == "fail" and item["value"] == 1.00496  # the numbers themselves stay as stored
