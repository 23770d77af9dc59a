"""DELETE /nbprofile/api/runs/<run>: the panel's "Delete run", with a real Jupyter server
(pytest-jupyter): one's own run goes with its records; another user's run, a run a kernel
here still writes, and a run that is not there are refused with a message; auth is required."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from tornado.httpclient import HTTPClientError

from nbprofile.store import SQLiteStore
from nbprofile.store.journal import JournalWriter, journal_folder, journal_name
from tests.server.test_server import seed


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def _runs(db: Path) -> list[str]:
    store = SQLiteStore(db)
    try:
        return [run["run_id"] for run in store.runs()]
    finally:
        store.close()


async def _refused(jp_fetch: Any, run_id: str, **kwargs: Any) -> tuple[int, str]:
    with pytest.raises(HTTPClientError) as info:
        await jp_fetch("nbprofile", "api", "runs", run_id, method="DELETE", **kwargs)
    body = info.value.response.body if info.value.response is not None else b"{}"
    return info.value.code, json.loads(body or b"{}").get("message", "")


async def test_ones_own_run_is_deleted_with_its_records(jp_fetch, jp_root_dir: Path,
                                                       _isolated_store: Path) -> None:
    notebook = str(jp_root_dir / "a.ipynb")
    seed(_isolated_store, "old", notebook, [1.0, 2.0])
    seed(_isolated_store, "new", notebook, [1.5])
    response = await jp_fetch("nbprofile", "api", "runs", "old", method="DELETE")
    assert response.code == 200
    assert json.loads(response.body) == {"deleted": {"runs": 1, "records": 2}}
    assert _runs(_isolated_store) == ["new"]
    assert await _refused(jp_fetch, "old") == (404, "no run 'old' in the record store")


async def test_another_users_run_is_theirs_to_delete(jp_fetch, jp_root_dir: Path,
                                                     _isolated_store: Path) -> None:
    from nbprofile.readings import Reading
    from nbprofile.record import CellRecord, RunInfo

    store = SQLiteStore(_isolated_store)
    store.write(CellRecord(run_id="graces", seq=1, notebook=str(jp_root_dir / "a.ipynb"), cell_id="c",
                           execution_count=1, code_hash="h", source="x", started_at=1.7e9, status="ok",
                           error_type=None, overhead_s=0.0,
                           readings={"wall_s": Reading(1.0, "s", "measured", "t")}),
                RunInfo(run_id="graces", notebook=None, kernel_id=None, started_at=1.7e9,
                        user="grace-colleague"))
    store.close()
    code, message = await _refused(jp_fetch, "graces")
    assert code == 403
    assert message.startswith("run graces is grace-colleague's: only its user deletes it here")
    assert _runs(_isolated_store) == ["graces"]


async def test_a_run_a_kernel_here_still_writes_is_not_deleted(jp_fetch, jp_root_dir: Path,
                                                               _isolated_store: Path) -> None:
    seed(_isolated_store, "live", str(jp_root_dir / "a.ipynb"), [1.0])
    name = journal_name("live").replace(".jsonl", "-1.jsonl")  # as a kernel names its journal
    kernel = JournalWriter(journal_folder(str(_isolated_store)), name)
    try:
        code, message = await _refused(jp_fetch, "live")
    finally:
        kernel.close(remove=True)
    assert code == 409
    assert message == (f"run live is still being written by a kernel on this machine (pid {os.getpid()}): "
                       "shut that kernel down first; nothing deleted")
    assert _runs(_isolated_store) == ["live"]


async def test_deleting_needs_auth(jp_fetch, jp_root_dir: Path, _isolated_store: Path) -> None:
    seed(_isolated_store, "kept", str(jp_root_dir / "a.ipynb"), [1.0])
    code, _ = await _refused(jp_fetch, "kept", headers={"Authorization": ""})
    assert code == 403
    assert _runs(_isolated_store) == ["kept"]
