"""A team on one PostgreSQL database: the Jupyter server lists two users' runs of the same
notebook (scope=team) or one's own (scope=mine), and the CLI's runs, show, compare and
report read it, never printing the password."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.cli.main import main
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash, current_user
from nbprofile.store import open_store


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def seed(url: str, run_id: str, notebook: str, user: str, host: str, walls: list[float],
         started: float) -> None:
    store = open_store(url)
    run = RunInfo(run_id=run_id, notebook=notebook, kernel_id=None, started_at=started, nbprofile="t",
                  user=user, host=host)
    for i, wall in enumerate(walls):
        source = f"step_{i}()"
        store.write(CellRecord(
            run_id=run_id, seq=i + 1, notebook=notebook, cell_id=f"c{i}", execution_count=i + 1,
            code_hash=code_hash(source), source=source, started_at=started + i, status="ok",
            error_type=None, overhead_s=2e-5,
            readings={"wall_s": Reading(wall, "s", "measured", "perf_counter")}), run)
    store.close()


async def test_the_server_lists_two_users_runs_of_one_notebook(
        jp_fetch: Any, jp_root_dir: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBPROFILE_DB", pg_url)  # the server opens its store at the first request
    notebook = str(jp_root_dir / "shared" / "train.ipynb")
    me = current_user()
    seed(pg_url, "mine-1", notebook, me, "laptop", [1.0, 2.0], time.time() - 60)
    seed(pg_url, "theirs-1", notebook, "grace", "gpu-box", [4.0], time.time() - 30)
    seed(pg_url, "elsewhere", str(jp_root_dir / "other.ipynb"), "grace", "gpu-box", [9.0], time.time())

    async def runs(**params: str) -> dict[str, Any]:
        query = {"notebook": "shared/train.ipynb", **params}
        response = await jp_fetch("nbprofile", "api", "runs", params=query)
        assert response.code == 200
        return json.loads(response.body)

    team = await runs(scope="team")
    assert [(r["run_id"], r["user"], r["host"], r["cells"], r["wall_s"]) for r in team["runs"]] == [
        ("theirs-1", "grace", "gpu-box", 1, 4.0), ("mine-1", me, "laptop", 2, 3.0)]
    assert (await runs())["runs"] == team["runs"]  # team is the default
    mine = await runs(scope="mine")
    assert [r["run_id"] for r in mine["runs"]] == ["mine-1"] and mine["scope"] == "mine"
    response = await jp_fetch("nbprofile", "api", "runs", params={"notebook": "shared/train.ipynb",
                                                                  "scope": "everyone"}, raise_error=False)
    assert response.code == 400
    cells = json.loads((await jp_fetch("nbprofile", "api", "runs", "theirs-1")).body)["cells"]
    assert [c["source"] for c in cells] == ["step_0()"]


def test_the_cli_reads_a_team_store(pg_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBPROFILE_DB", pg_url)
    me = current_user()
    seed(pg_url, "run-a", "/team/nb.ipynb", me, "laptop", [1.0, 2.0], time.time() - 60)
    seed(pg_url, "run-b", "/team/nb.ipynb", "grace", "gpu-box", [1.5, 2.0], time.time() - 30)
    assert main(["runs"]) == 0
    out = capsys.readouterr().out
    assert "run-a" in out and "run-b" in out and "grace" in out and "user" in out
    assert "pw-not-shown" not in out and "***" in out
    assert main(["runs", "--mine"]) == 0
    out = capsys.readouterr().out
    assert "run-a" in out and "run-b" not in out and "grace" not in out
    assert main(["show", "run-b"]) == 0
    assert "step_1()" in capsys.readouterr().out
    assert main(["compare", "run-a", "run-b"]) == 0
    assert "step_0()" in capsys.readouterr().out
    report = tmp_path / "r.json"
    assert main(["report", "--run", "run-b", "-o", str(report)]) == 0
    data = report.read_text()
    assert "step_0()" in data and "pw-not-shown" not in data and "grace" in data
