"""Issue 17: records an older version stored with a key in them are masked wherever they are
shown: every report format, a comparison, the history and ``last`` tables, the CLI, the panel's
JSON."""

from __future__ import annotations

import html
import json
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.report.registry import FORMATS, export
from nbprofile.report.tables import RecordDetail, RecordTable, first_line
from nbprofile.store import SQLiteStore

KEY = "sk-ant-api03-" + "Vq3Lx8Tz1Nw6Ry0Pb4Hs9Kd2Gm7Jc5Fa1Ue8Io3Yl6Wn0Qt4Zr9Xs2Ck7Mh5Dv1Bg8Ep3" + "K7qA"
TOKEN = "ghp_" + "9Zr4Xw1Vt6Us3Rq8Po5Nm2Lk7Jh0Gf4Ed1Ca"
PASSWORD = "Tr0ub4dor&3-horse"
SOURCE = (f"client = anthropic.Anthropic(api_key='{KEY}')\n"
          f"gh = Github('{TOKEN}')\n"
          f"engine = create_engine('postgresql://analyst:{PASSWORD}@db.internal/sales')\n")
MASKED = ["api_key='sk-ant-…K7qA'", "Github('ghp_…d1Ca'", "postgresql://analyst:…@db.internal"]


def assert_masked(text: str, where: str, shown: list[str] | None = None) -> None:
    text = html.unescape(text)  # HTML writes quotes and ampersands as entities
    for secret in (KEY, KEY[13:-4], TOKEN, TOKEN[4:-4], PASSWORD):
        assert secret not in text, f"{secret[:16]}… in {where}"
    for masked in MASKED if shown is None else shown:
        assert masked in text, f"{masked} not in {where}"


def old_record(run_id: str, seq: int, wall_s: float) -> CellRecord:
    """A record as a version before masking stored it: the key as typed."""
    return CellRecord(
        run_id=run_id, seq=seq, notebook="/nb/sales.ipynb", cell_id="c-connect", execution_count=seq,
        code_hash=code_hash(SOURCE), source=SOURCE, started_at=time.time(), status="error",
        error_type="AuthenticationError", overhead_s=2e-5, name=None,
        notes=[f"a meter failed: cannot reach https://x:{PASSWORD}@proxy.internal"],
        readings={"wall_s": Reading(wall_s, "s", "measured", "perf_counter"),
                  "cpu_s": Reading(0.2, "s", "measured", "getrusage")})


@pytest.fixture
def stored(_isolated_store: Path) -> Path:
    store = SQLiteStore(_isolated_store)
    for run_id, wall_s in (("run-a", 1.0), ("run-b", 2.0)):
        run = RunInfo(run_id=run_id, notebook="/nb/sales.ipynb", kernel_id=None, started_at=time.time(),
                      nbprofile="0.0-older")
        store.write(old_record(run_id, 1, wall_s), run)
    store.close()
    assert KEY.encode() in _isolated_store.read_bytes()  # stored as typed, as before masking
    return _isolated_store


def records_of(db: Path, run_id: str) -> tuple[list[CellRecord], dict[str, Any]]:
    store = SQLiteStore(db)
    try:
        run = store.run(run_id)
        assert run is not None
        return store.records(run_id), run
    finally:
        store.close()


@pytest.mark.parametrize("fmt", list(FORMATS))
def test_every_report_format_masks_an_older_records_secrets(stored: Path, fmt: str) -> None:
    records, run = records_of(stored, "run-b")
    text = export(fmt, records, run)
    # Markdown shows a cell by its first line
    assert_masked(text, f"the {fmt} report", MASKED[:1] if fmt == "md" else None)
    assert records[0].source == SOURCE  # the caller's record is not changed


@pytest.mark.parametrize("fmt", [f.name for f in FORMATS.values() if f.compares])
def test_a_comparison_masks_both_runs(stored: Path, fmt: str) -> None:
    a, run_a = records_of(stored, "run-a")
    b, run_b = records_of(stored, "run-b")
    assert_masked(export(fmt, b, run_b, other=a, other_run=run_a), f"the {fmt} comparison", MASKED[:1])


def test_the_history_and_last_tables_and_first_lines_mask(stored: Path) -> None:
    records, _ = records_of(stored, "run-a")
    table = RecordTable(records, "history")
    assert_masked(table._repr_html_(), "the history table's HTML")  # the row's tooltip: the whole cell
    assert_masked(repr(table), "the history table's text", [])  # its first line, cut at 40
    detail = RecordDetail(records[0])
    assert_masked(repr(detail) + detail._repr_html_(), "%nbprofile last", [])
    assert "x:…@proxy.internal" in repr(detail)  # the note, masked
    # a key cut by the column's width is masked before it is cut
    assert first_line(f"login('{TOKEN}')", 12) == "login('ghp_…"


def test_the_cli_shows_an_older_run_masked(stored: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from nbprofile.cli.main import main

    assert main(["show", "run-a"]) in (0, None)
    assert main(["compare", "run-a", "run-b"]) in (0, None)
    out = capsys.readouterr().out
    assert "sk-ant-…" in out
    for secret in (KEY[:20], TOKEN[:12]):
        assert secret not in out


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


async def test_the_panels_json_and_downloads_are_masked(jp_fetch: Any, stored: Path) -> None:
    async def body(*path: str, **params: str) -> str:
        response = await jp_fetch("nbprofile", "api", *path, params=params)
        assert response.code == 200
        return response.body.decode()

    run = json.loads(await body("runs", "run-a"))
    assert_masked(json.dumps(run["cells"], ensure_ascii=False), "a run's cells")
    compared = await body("compare", a="run-a", b="run-b")
    assert_masked(json.dumps(json.loads(compared), ensure_ascii=False), "a comparison", MASKED[:1])
    for fmt in FORMATS:
        assert_masked(await body("report", run="run-a", format=fmt), f"the {fmt} download",
                      MASKED[:1] if fmt == "md" else None)
