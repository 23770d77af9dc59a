"""A record of a cell whose kernel died (status ``died``, from the kernel's journal) through the REST
API in a real Jupyter server: the panel gets it as stored, compare never calls it a regression, and
the reports the panel downloads say it died."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore

GiB = 1024**3
CELL_ID = "3f2a5c1e-9b7d-4e21-a0c3-5d6e7f809a1b"
SUMMARY = "kernel died in cell #2 (id 3f2a…) at 22.8 GiB: out of memory"
NOTE = "the kernel died while this cell ran: out of memory; last seen 12.3 s after the cell started, at 22.8 GiB"


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def write_run(db: Path, run_id: str, notebook: str, *, dies: bool) -> None:
    """Two cells: ``setup()`` finishes; ``load_everything()`` finishes in 1 s, or its kernel dies after 12.3 s."""
    store = SQLiteStore(db)
    run = RunInfo(run_id=run_id, notebook=notebook, kernel_id=None, started_at=time.time(), nbprofile="test")
    for seq, cell_id, source in ((1, "c0", "setup()"), (2, CELL_ID, "big = load_everything()")):
        common: dict[str, Any] = {
            "run_id": run_id, "seq": seq, "notebook": notebook, "cell_id": cell_id, "execution_count": seq,
            "code_hash": code_hash(source), "source": source, "started_at": time.time()}
        if dies and seq == 2:
            record = CellRecord(
                **common, status="died", error_type="out of memory", overhead_s=0.0, notes=[NOTE],
                readings={"wall_s": Reading(12.3, "s", "estimated", "journal", "until the kernel was last seen"),
                          "rss_peak_bytes": Reading(22.8 * GiB, "B", "sampled", "journal heartbeat",
                                                    "the last RSS high-water mark the kernel wrote")})
        else:
            record = CellRecord(
                **common, status="ok", error_type=None, overhead_s=2e-5,
                readings={"wall_s": Reading(1.0, "s", "measured", "perf_counter"),
                          "cpu_s": Reading(0.9, "s", "measured", "getrusage"),
                          "rss_peak_bytes": Reading(2 * GiB, "B", "measured", "clear_refs+VmHWM")})
        store.write(record, run)
    store.close()


async def get(jp_fetch: Any, *path: str, **params: str) -> Any:
    response = await jp_fetch("nbprofile", "api", *path, params=params)
    assert response.code == 200
    return json.loads(response.body)


async def test_a_died_record_goes_through_as_stored(jp_fetch, jp_root_dir: Path, _isolated_store: Path) -> None:
    write_run(_isolated_store, "run1", str(jp_root_dir / "a.ipynb"), dies=True)
    body = await get(jp_fetch, "runs", "run1")
    ok, dead = body["cells"]
    assert ok["status"] == "ok"
    assert (dead["status"], dead["error_type"], dead["cell_id"], dead["execution_count"]) == \
        ("died", "out of memory", CELL_ID, 2)
    assert dead["readings"]["wall_s"] == {"value": 12.3, "unit": "s", "method": "estimated", "source": "journal",
                                          "note": "until the kernel was last seen"}
    assert dead["readings"]["rss_peak_bytes"]["value"] == 22.8 * GiB
    assert dead["readings"]["rss_peak_bytes"]["method"] == "sampled"
    assert "cpu_s" not in dead["readings"]  # absent, as the journal wrote it: never a 0
    assert dead["notes"] == [NOTE] and dead["verdict"] is None
    # the run's list entry counts it with its partial time
    (run,) = (await get(jp_fetch, "runs", notebook="a.ipynb"))["runs"]
    assert run["cells"] == 2 and run["wall_s"] == pytest.approx(13.3)


async def test_compare_marks_the_died_cell_and_computes_no_change(jp_fetch, jp_root_dir, _isolated_store) -> None:
    nb = str(jp_root_dir / "a.ipynb")
    write_run(_isolated_store, "before", nb, dies=False)
    write_run(_isolated_store, "after", nb, dies=True)
    body = await get(jp_fetch, "compare", a="before", b="after")
    setup, dead = body["cells"]
    assert setup["died"] is None and setup["status_b"] == "ok"
    assert (dead["died"], dead["status_a"], dead["status_b"]) == ("B", "ok", "died")
    assert dead["regression"] is False  # 1 s → 12.3 s, but the cell never finished
    assert dead["delta"]["wall_s"] == {"abs": None, "pct": None}
    assert dead["b"]["wall_s"] == 12.3 and dead["method_b"]["wall_s"] == "estimated" and dead["b"]["cpu_s"] is None


async def test_downloaded_reports_say_the_kernel_died(jp_fetch, jp_root_dir, _isolated_store) -> None:
    write_run(_isolated_store, "run1", str(jp_root_dir / "a.ipynb"), dies=True)
    response = await jp_fetch("nbprofile", "api", "report", params={"run": "run1", "format": "json"})
    cell = json.loads(response.body)["cells"][1]
    assert (cell["status"], cell["died_summary"]) == ("died", SUMMARY)
    response = await jp_fetch("nbprofile", "api", "report", params={"run": "run1", "format": "html"})
    assert b'class="chip died"' in response.body and SUMMARY.encode() in response.body
