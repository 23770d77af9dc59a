"""The server's store while others change it: a deleted file is started again (no 404 until a
restart), a dead kernel's journal is recovered by the server itself, with a record for the cell it
died in."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.store import SQLiteStore
from nbprofile.store.journal import JournalWriter, record_entry, run_entry


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def cell(run_id: str, seq: int, source: str) -> CellRecord:
    return CellRecord(run_id=run_id, seq=seq, notebook="/nb/a.ipynb", cell_id=f"c{seq}", execution_count=seq,
                      code_hash=code_hash(source), source=source, started_at=time.time(), status="ok",
                      error_type=None, overhead_s=1e-5,
                      readings={"wall_s": Reading(0.5, "s", "measured", "perf_counter")})


async def runs(jp_fetch: Any, run_id: str) -> Any:
    response = await jp_fetch("nbprofile", "api", "runs", run_id, raise_error=False)
    return response.code, json.loads(response.body)


async def test_a_store_deleted_while_the_server_runs_is_started_again(jp_fetch, _isolated_store: Path) -> None:
    store = SQLiteStore(_isolated_store)
    store.write(cell("first", 1, "a = 1"), RunInfo(run_id="first", notebook="/nb/a.ipynb", kernel_id=None,
                                                   started_at=time.time()))
    store.close()
    assert (await runs(jp_fetch, "first"))[0] == 200
    for suffix in ("", "-wal", "-shm"):
        Path(str(_isolated_store) + suffix).unlink(missing_ok=True)
    store = SQLiteStore(_isolated_store)  # a kernel starts a new store at the same path
    store.write(cell("second", 1, "b = 2"), RunInfo(run_id="second", notebook="/nb/a.ipynb", kernel_id=None,
                                                    started_at=time.time()))
    store.close()
    code, body = await runs(jp_fetch, "second")
    assert code == 200, body
    assert [r["source"] for r in body["cells"]] == ["b = 2"]


async def test_the_server_recovers_a_dead_kernels_journal(jp_fetch, _isolated_store: Path) -> None:
    SQLiteStore(_isolated_store).close()
    run = RunInfo(run_id="gone", notebook="/nb/a.ipynb", kernel_id=None, started_at=time.time())
    journal = JournalWriter(Path(str(_isolated_store) + ".journals"), "elsewhere-1-gone-0.jsonl")
    journal.append(run_entry(run))
    journal.append(record_entry(cell("gone", 1, "x = 1"), ends_cell=True))
    journal.append({"k": "start", "seq": 2, "at": time.time() - 5, "cell_id": "c2", "count": 2,
                    "src": "load_everything()"})
    journal.append({"k": "beat", "at": time.time() - 1, "rss": 3 * 2**30, "oom": None})
    journal.close(remove=False)  # the kernel is gone: nothing holds its journal any more
    deadline = time.monotonic() + 10
    code, body = await runs(jp_fetch, "gone")
    while code != 200 and time.monotonic() < deadline:  # the server looks every couple of seconds
        time.sleep(0.5)
        code, body = await runs(jp_fetch, "gone")
    assert code == 200, body
    records = body["cells"]
    assert [(r["source"], r["status"]) for r in records] == [("x = 1", "ok"), ("load_everything()", "died")]
    died = records[1]
    assert died["readings"]["rss_peak_bytes"]["value"] == 3 * 2**30
    assert 3.5 <= died["readings"]["wall_s"]["value"] <= 10
