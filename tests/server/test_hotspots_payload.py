"""A record's hot spots reach the panel in the footer's words, and survive the store."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore

HOTSPOTS = {"n": 150, "dt": 0.01, "s": 1.5, "top": [["train.py:forward", "train.py:42", 0.8, 0.9, 3],
                                                      ["<cell>", "cell:5", 0.2, 1.0, None]]}


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def write(db: Path, insights: dict[str, Any] | None) -> None:
    store = SQLiteStore(db)
    run = RunInfo(run_id="r1", notebook="/nb/a.ipynb", kernel_id=None, started_at=time.time())
    store.write(CellRecord(run_id="r1", seq=1, notebook="/nb/a.ipynb", cell_id="c1", execution_count=1,
                           code_hash=code_hash("train()"), source="train()", started_at=time.time(),
                           status="ok", error_type=None, overhead_s=1e-5, insights=insights,
                           readings={"wall_s": Reading(2.5, "s", "measured", "perf_counter")}), run)
    store.close()


async def test_the_panel_gets_where_the_time_went_in_words(jp_fetch, _isolated_store: Path) -> None:
    write(_isolated_store, {"hotspots": HOTSPOTS, "projections": [[2.0, 0.4, 4.9, 5.0, 5.2]]})
    body = json.loads((await jp_fetch("nbprofile", "api", "runs", "r1")).body)
    (cell,) = body["cells"]
    assert cell["hotspots"]["lines"] == ["80 % train.py:forward ← cell line 3", "20 % <cell>"]
    assert "150 samples" in cell["hotspots"]["how"] and "sampled" in cell["hotspots"]["how"]
    assert cell["insights"]["projections"] == [[2.0, 0.4, 4.9, 5.0, 5.2]]


async def test_a_cell_that_was_not_sampled_has_none(jp_fetch, _isolated_store: Path) -> None:
    write(_isolated_store, None)
    (cell,) = json.loads((await jp_fetch("nbprofile", "api", "runs", "r1")).body)["cells"]
    assert cell["hotspots"] is None and cell["insights"] is None
