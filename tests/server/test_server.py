"""The REST API with a real Jupyter server (pytest-jupyter): JSON, errors, auth, path mapping."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def seed(db: Path, run_id: str, notebook: str, walls: list[float], kernel_id: str | None = None,
         verdicts: list[str | None] | None = None) -> None:
    store = SQLiteStore(db)
    run = RunInfo(run_id=run_id, notebook=notebook, kernel_id=kernel_id, started_at=time.time(),
                  nbprofile="test")
    for i, wall in enumerate(walls):
        source = f"cell_{i}()"
        store.write(CellRecord(
            run_id=run_id, seq=i + 1, notebook=notebook, cell_id=f"c{i}", execution_count=i + 1,
            code_hash=code_hash(source), source=source, started_at=time.time(), status="ok",
            error_type=None, overhead_s=2e-5,
            readings={"wall_s": Reading(wall, "s", "measured", "perf_counter"),
                      "energy_j": Reading(wall * 10, "J", "estimated", "tdp-share"),
                      "vram_peak_bytes": Reading.unavailable("B", "no NVIDIA GPU")},
            verdict_status=(verdicts or [None] * len(walls))[i],
        ), run)
    store.close()


async def get(jp_fetch: Any, *path: str, **params: str) -> Any:
    response = await jp_fetch("nbprofile", "api", *path, params=params)
    assert response.code == 200
    return json.loads(response.body)


async def test_runs_of_a_notebook(jp_fetch, jp_root_dir: Path, _isolated_store: Path) -> None:
    seed(_isolated_store, "run1", str(jp_root_dir / "nb" / "a.ipynb"), [1.0, 2.0], verdicts=["pass", "fail"])
    seed(_isolated_store, "other", str(jp_root_dir / "b.ipynb"), [5.0])
    body = await get(jp_fetch, "runs", notebook="nb/a.ipynb")
    assert body["notebook"] == "nb/a.ipynb"
    (run,) = body["runs"]
    assert run["run_id"] == "run1" and run["cells"] == 2 and run["wall_s"] == 3.0
    assert run["budget_failures"] == 1 and run["started_at"].endswith("+00:00")
    assert (await get(jp_fetch, "runs", notebook="nothing-here.ipynb"))["runs"] == []


async def test_a_run_says_its_cells_and_executions(jp_fetch, jp_root_dir: Path, _isolated_store: Path) -> None:
    """A cell run twice in one kernel is one cell and two executions; wall_s adds up all of them."""
    notebook = str(jp_root_dir / "a.ipynb")
    seed(_isolated_store, "run1", notebook, [1.0, 2.0])
    store = SQLiteStore(_isolated_store)
    run = RunInfo(run_id="run1", notebook=notebook, kernel_id=None, started_at=time.time(), nbprofile="test")
    (first, _) = store.records("run1")
    first.id, first.seq, first.execution_count = None, 3, 3
    first.readings = {"wall_s": Reading(4.0, "s", "measured", "perf_counter")}
    store.write(first, run)  # the first cell again, as Run All twice does
    store.close()
    (listed,) = (await get(jp_fetch, "runs", notebook="a.ipynb"))["runs"]
    assert (listed["cells"], listed["executions"], listed["wall_s"]) == (2, 3, 7.0)
    detail = await get(jp_fetch, "runs", "run1")
    assert (detail["run"]["cells"], detail["run"]["executions"]) == (2, 3) and len(detail["cells"]) == 3


async def test_cells_of_a_run_carry_methods_and_reasons(jp_fetch, jp_root_dir, _isolated_store) -> None:
    seed(_isolated_store, "run1", str(jp_root_dir / "a.ipynb"), [1.5, 0.25])
    body = await get(jp_fetch, "runs", "run1")
    assert body["run"]["run_id"] == "run1"
    assert [c["cell_id"] for c in body["cells"]] == ["c0", "c1"]
    first = body["cells"][0]["readings"]
    assert first["wall_s"] == {"value": 1.5, "unit": "s", "method": "measured", "source": "perf_counter", "note": None}
    assert first["vram_peak_bytes"]["value"] is None and first["vram_peak_bytes"]["note"] == "no NVIDIA GPU"


async def test_compare_two_runs(jp_fetch, jp_root_dir, _isolated_store) -> None:
    nb = str(jp_root_dir / "a.ipynb")
    seed(_isolated_store, "before", nb, [1.0, 1.0])
    seed(_isolated_store, "after", nb, [1.0, 1.5])
    body = await get(jp_fetch, "compare", a="before", b="after")
    assert body["a"]["run_id"] == "before" and body["b"]["run_id"] == "after"
    c0, c1 = body["cells"]
    assert c1["key"] == "c1" and c1["delta"]["wall_s"] == {"abs": 0.5, "pct": 0.5}
    assert c1["regression"] is True and c0["regression"] is False
    assert body["totals"]["delta"]["wall_s"] == {"abs": 0.5, "pct": 0.25}
    assert body["totals"]["a"]["vram_peak_bytes"] is None  # unavailable, never summed to 0
    # estimates stay marked as such, cell by cell and in the totals
    assert c1["method_b"]["wall_s"] == "measured" and c1["method_b"]["energy_j"] == "estimated"
    assert c1["method_a"]["vram_peak_bytes"] is None
    assert body["totals"]["method_b"]["energy_j"] == {"method": "estimated", "cells": 2, "of": 2}
    assert body["totals"]["method_a"]["wall_s"]["method"] == "measured"


async def test_kernel_of_a_renamed_notebook_is_found(jp_fetch, jp_root_dir, _isolated_store) -> None:
    (jp_root_dir / "renamed.ipynb").write_text(json.dumps(
        {"cells": [], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}))
    response = await jp_fetch("api", "sessions", method="POST", body=json.dumps(
        {"path": "renamed.ipynb", "type": "notebook", "kernel": {"name": "python3"}}))
    kernel_id = json.loads(response.body)["kernel"]["id"]
    try:
        # the kernel still calls its notebook by the name it had when it started
        seed(_isolated_store, "runk", str(jp_root_dir / "Untitled.ipynb"), [1.0], kernel_id=kernel_id)
        runs = (await get(jp_fetch, "runs", notebook="renamed.ipynb"))["runs"]
        assert [r["run_id"] for r in runs] == ["runk"]
    finally:
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_reports_download(jp_fetch, jp_root_dir, _isolated_store) -> None:
    seed(_isolated_store, "run1", str(jp_root_dir / "a.ipynb"), [1.5])
    response = await jp_fetch("nbprofile", "api", "report", params={"run": "run1", "format": "json"})
    assert 'filename="nbprofile-run1.json"' in response.headers["Content-Disposition"]
    assert json.loads(response.body)["cells"][0]["readings"]["wall_s"]["value"] == 1.5
    response = await jp_fetch("nbprofile", "api", "report", params={"run": "run1", "format": "csv"})
    assert response.headers["Content-Type"].startswith("text/csv")
    response = await jp_fetch("nbprofile", "api", "report", params={"run": "run1"})  # html by default
    assert response.headers["Content-Type"].startswith("text/html")
    assert response.body.startswith(b"<!DOCTYPE html>") and b"cell_0()" in response.body


async def test_status(jp_fetch, _isolated_store) -> None:
    body = await get(jp_fetch, "status")
    assert body["store"] == str(_isolated_store) and body["records"] == 0


@pytest.mark.parametrize(("path", "params", "code", "message"), [
    (("runs",), {}, 400, "missing query parameter 'notebook'"),
    (("runs",), {"notebook": "../../etc/passwd"}, 400, "leaves the server root"),
    (("runs",), {"notebook": "/etc/passwd"}, 400, "relative to the server root"),
    (("runs", "nosuchrun"), {}, 404, "no run 'nosuchrun'"),
    (("compare",), {"a": "x"}, 400, "missing query parameter 'b'"),
    (("compare",), {"a": "x", "b": "y"}, 404, "no run 'x'"),
    (("report",), {"run": "x", "format": "pdf"}, 400, "unknown report format 'pdf'"),
    (("report",), {}, 400, "missing query parameter 'run'"),
])
async def test_bad_parameters_are_explained(jp_fetch, path, params, code, message) -> None:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbprofile", "api", *path, params=params)
    assert info.value.code == code
    assert message in json.loads(info.value.response.body)["message"]


async def test_every_route_requires_auth(jp_fetch, jp_serverapp) -> None:
    from nbprofile.server.handlers import ROUTES

    rules = [r for rule in jp_serverapp.web_app.default_router.rules
             for r in getattr(rule.target, "rules", [])
             if "/nbprofile/" in str(getattr(r.matcher, "regex", "").pattern if hasattr(r.matcher, "regex") else "")]
    assert len(rules) == len(ROUTES), "every nbprofile route is registered, and only those"
    examples = {"runs": ("runs",), "runs/(?P<run_id>[0-9A-Za-z_-]{1,64})": ("runs", "abc"),
                "compare": ("compare",), "report": ("report",), "status": ("status",),
                "metrics": ("metrics",), "formats": ("formats",),
                "kernels/(?P<kernel_id>[0-9A-Za-z_-]{1,64})/usage": ("kernels", "abc", "usage")}
    assert set(examples) == {pattern for pattern, _ in ROUTES}, "add an example for the new route"
    for pattern, _ in ROUTES:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("nbprofile", "api", *examples[pattern], headers={"Authorization": ""})
        assert info.value.code == 403, pattern


async def test_a_slow_store_does_not_hold_up_the_server(jp_fetch, jp_serverapp, jp_root_dir, _isolated_store) -> None:
    """Store calls run on the store's threads: while one waits (a locked file, a slow disk), the
    server answers other requests."""
    import asyncio

    from nbprofile.store import SQLiteStore

    class SlowStore(SQLiteStore):
        def runs_of(self, *args: Any, **kwargs: Any) -> list[dict[str, Any]]:
            time.sleep(1.5)
            return super().runs_of(*args, **kwargs)

    jp_serverapp.web_app.settings["nbprofile_store"] = SlowStore(_isolated_store)
    slow = asyncio.ensure_future(get(jp_fetch, "runs", notebook="a.ipynb"))
    await asyncio.sleep(0.2)
    catalog = await get(jp_fetch, "metrics")
    assert catalog["metrics"][0]["key"] == "wall_s"
    assert not slow.done()  # answered while the store call still waits, not queued behind it
    assert (await slow)["runs"] == []
