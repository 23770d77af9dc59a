"""Records stored by older versions can hold Infinity and NaN: every route still answers 200 with
valid JSON (non-finite numbers as null), and the JSON report is valid JSON too."""

from __future__ import annotations

import json
import math
import re
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def _strict(text: str | bytes) -> Any:
    """Parse as the panel's ``JSON.parse`` does: ``Infinity`` and ``NaN`` are errors."""
    def refuse(token: str) -> None:
        raise ValueError(f"{token} is not JSON")

    return json.loads(text, parse_constant=refuse)


def _verdict(threshold: float, value: float) -> dict[str, Any]:
    """A verdict as an older version stored it for ``ram<=+1e305%`` run twice."""
    limit = {"key": "ram", "op": "<=", "kind": "percent", "value": 1e305, "percent": 1e305,
             "text": "ram<=+1e305%"}
    return {"items": [{"limit": limit, "status": "pass", "value": value, "threshold": threshold,
                       "reason": "last +1e+305%: 1000 B"}], "name": None, "status": "pass"}


def seed_non_finite(db: Path, run_id: str, notebook: str, wall: float) -> None:
    """A record as an older version stored it: ``Infinity`` and ``NaN`` in its JSON columns (this
    version's store writes null; the numbers are put back with SQL, as the older store had them)."""
    store = SQLiteStore(db)
    run = RunInfo(run_id=run_id, notebook=notebook, kernel_id=None, started_at=time.time(), nbprofile="old")
    store.write(CellRecord(
        run_id=run_id, seq=1, notebook=notebook, cell_id="c0", execution_count=1,
        code_hash=code_hash("x = 1"), source="x = 1", started_at=time.time(), status="ok",
        error_type=None, overhead_s=2e-5,
        readings={"wall_s": Reading(wall, "s", "measured", "perf_counter"),
                  "rss_peak_bytes": Reading(math.inf, "B", "measured", "clear_refs+VmHWM"),
                  "energy_j": Reading(math.nan, "J", "estimated", "tdp-share")},
        budget={"limits": [_verdict(math.inf, 1000.0)["items"][0]["limit"]], "enforce": False,
                "strict": False, "name": None},
        verdict=_verdict(math.inf, 1000.0), verdict_status="pass",
    ), run)
    store.close()
    with sqlite3.connect(db) as conn:
        readings, verdict = conn.execute("SELECT readings, verdict FROM cells WHERE run_id = ?",
                                         (run_id,)).fetchone()
        # in the form an older version wrote (0003 to 0006): {key: [value, meta id]}
        wall_meta, rss_meta, energy_meta = json.loads(readings)[1::2]
        readings = (f'{{"wall_s":[{wall},{wall_meta}],"rss_peak_bytes":[Infinity,{rss_meta}],'
                    f'"energy_j":[NaN,{energy_meta}]}}')
        verdict = re.sub(r'"threshold":(null|Infinity)', '"threshold":Infinity', verdict)
        assert "Infinity" in readings and "NaN" in readings and "Infinity" in verdict
        conn.execute("UPDATE cells SET readings = ?, verdict = ? WHERE run_id = ?", (readings, verdict, run_id))
    conn.close()


async def test_routes_answer_valid_json_for_records_holding_infinity(
        jp_fetch: Any, jp_root_dir: Path, _isolated_store: Path) -> None:
    nb = str(jp_root_dir / "a.ipynb")
    seed_non_finite(_isolated_store, "old", nb, 1.0)
    seed_non_finite(_isolated_store, "new", nb, 2.0)

    response = await jp_fetch("nbprofile", "api", "runs", "old")
    assert response.code == 200
    cell = _strict(response.body)["cells"][0]
    assert cell["readings"]["rss_peak_bytes"]["value"] is None
    assert cell["readings"]["energy_j"]["value"] is None
    assert cell["readings"]["wall_s"]["value"] == 1.0
    item = cell["verdict"]["items"][0]
    assert item["threshold"] is None and item["value"] == 1000.0

    response = await jp_fetch("nbprofile", "api", "compare", params={"a": "old", "b": "new"})
    assert response.code == 200
    body = _strict(response.body)
    assert body["a"]["run_id"] == "old" and body["b"]["run_id"] == "new"

    response = await jp_fetch("nbprofile", "api", "report", params={"run": "old", "format": "json"})
    assert response.code == 200
    report = _strict(response.body)
    assert report["cells"][0]["readings"]["rss_peak_bytes"]["value"] is None
    assert report["cells"][0]["verdict"]["items"][0]["threshold"] is None

    for fmt in ("html", "md", "csv"):  # the other formats of the same run answer too
        response = await jp_fetch("nbprofile", "api", "report", params={"run": "old", "format": fmt})
        assert response.code == 200, fmt

    response = await jp_fetch("nbprofile", "api", "runs", params={"notebook": "a.ipynb"})
    assert response.code == 200 and len(_strict(response.body)["runs"]) == 2


def test_the_json_report_of_such_a_run_is_valid_json(_isolated_store: Path) -> None:
    from nbprofile.report.registry import export

    seed_non_finite(_isolated_store, "old", "/nb/a.ipynb", 1.0)
    store = SQLiteStore(_isolated_store)
    try:
        records, run = store.records("old"), store.run("old")
    finally:
        store.close()
    assert run is not None
    text = export("json", records, run, other=records, other_run=run)
    assert "Infinity" not in text and "NaN" not in text
    data = _strict(text)
    assert data["cells"][0]["readings"]["rss_peak_bytes"]["value"] is None
    assert data["totals"]["wall_s"] == 1.0
