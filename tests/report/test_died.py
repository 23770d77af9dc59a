"""A cell whose kernel died (status ``died``, made from the kernel's journal): what each place a user
looks shows for it. Its one-line summary, its status and cause, its partial wall time marked
estimated, its absent readings as n/a (never 0), and never a regression or improvement in compare."""

from __future__ import annotations

import csv
import html as htmlmod
import io
import json
import re
import time
from pathlib import Path

import pytest

from nbprofile.cli.main import main
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.report.compare import compare_runs
from nbprofile.report.died import died_summary
from nbprofile.report.footer import footer_html, footer_text
from nbprofile.report.registry import export
from nbprofile.report.tables import RecordDetail, RecordTable, status_text
from nbprofile.store import SQLiteStore

GiB = 1024**3
UUID = "3f2a5c1e-9b7d-4e21-a0c3-5d6e7f809a1b"
OOM = "out of memory"
SUMMARY = f"kernel died in cell #12 (id 3f2a…) at 22.8 GiB: {OOM}"


def journal_readings(wall: float | None = 12.3, rss: float | None = 22.8 * GiB) -> dict[str, Reading]:
    """What the journal knows of a died cell: how long until the kernel was last seen, its last RSS peak."""
    readings = {}
    if wall is not None:
        readings["wall_s"] = Reading(wall, "s", "estimated", "journal", "until the kernel was last seen")
    if rss is not None:
        readings["rss_peak_bytes"] = Reading(rss, "B", "sampled", "journal heartbeat",
                                             "the last RSS high-water mark the kernel wrote")
    return readings


def died(*, execution_count: int | None = 12, seq: int = 3, cell_id: str | None = UUID,
         cause: str | None = OOM, rss: float | None = 22.8 * GiB, wall: float | None = 12.3,
         run_id: str = "r1", source: str = "big = load_everything()") -> CellRecord:
    return CellRecord(
        run_id=run_id, seq=seq, notebook="/nb/a.ipynb", cell_id=cell_id, execution_count=execution_count,
        code_hash=code_hash(source), source=source, started_at=1.7e9, status="died", error_type=cause,
        readings=journal_readings(wall, rss), overhead_s=0.0,
        notes=[(f"the kernel died while this cell ran: {cause or 'cause unknown'}; last seen 12.3 s after the "
                "cell started, at 22.8 GiB")],
    )


def finished(*, seq: int, cell_id: str, source: str, wall: float, run_id: str = "r1") -> CellRecord:
    return CellRecord(
        run_id=run_id, seq=seq, notebook="/nb/a.ipynb", cell_id=cell_id, execution_count=seq + 9,
        code_hash=code_hash(source), source=source, started_at=1.7e9, status="ok", error_type=None,
        readings={"wall_s": Reading(wall, "s", "measured", "perf_counter"),
                  "cpu_s": Reading(wall / 2, "s", "measured", "getrusage"),
                  "rss_peak_bytes": Reading(2 * GiB, "B", "measured", "clear_refs+VmHWM")},
        overhead_s=2e-5,
    )


@pytest.mark.parametrize(("record", "summary"), [
    (died(), SUMMARY),
    (died(rss=None), f"kernel died in cell #12 (id 3f2a…): {OOM}"),
    (died(cause=None), "kernel died in cell #12 (id 3f2a…) at 22.8 GiB: cause unknown"),
    (died(cause="signal SIGKILL", rss=512 * 1024**2), "kernel died in cell #12 (id 3f2a…) at 512 MiB: signal SIGKILL"),
    (died(cause="exit code 3", rss=None, cell_id=None), "kernel died in cell #12: exit code 3"),
    (died(execution_count=None), f"kernel died in record #3 (id 3f2a…) at 22.8 GiB: {OOM}"),
    (died(execution_count=None, cell_id=None, cause=None, rss=None), "kernel died in record #3: cause unknown"),
    (died(cell_id=None), f"kernel died in cell #12 at 22.8 GiB: {OOM}"),
    (died(cell_id="c0"), f"kernel died in cell #12 (id c0) at 22.8 GiB: {OOM}"),  # short ids stay whole
    (died(cell_id="abcde"), f"kernel died in cell #12 (id abcde) at 22.8 GiB: {OOM}"),
    (died(cell_id="abcdef"), f"kernel died in cell #12 (id abcd…) at 22.8 GiB: {OOM}"),
    (died(execution_count=0), f"kernel died in cell #0 (id 3f2a…) at 22.8 GiB: {OOM}"),  # 0 is a count, not none
])
def test_died_summary(record: CellRecord, summary: str) -> None:
    assert died_summary(record) == summary


def test_an_unavailable_rss_reading_says_no_at() -> None:
    record = died()
    record.readings["rss_peak_bytes"] = Reading.unavailable("B", "the kernel wrote no heartbeat")
    assert died_summary(record) == f"kernel died in cell #12 (id 3f2a…): {OOM}"


def test_history_and_last_show_the_died_cell_and_its_summary() -> None:
    records = [finished(seq=1, cell_id="c1", source="x = 1", wall=0.5), died(), died(cause=None, seq=4)]
    assert status_text(records[1]) == "✝ died (out of memory)"
    assert status_text(records[2]) == "✝ died (cause unknown)"  # never "died (None)"
    text = repr(RecordTable(records, "history"))
    row = next(line for line in text.splitlines() if "load_everything" in line and "died" in line)
    assert "✝ died (out of memory)" in row and "~12.3 s" in row and "~22.8 GiB" in row
    assert "n/a" in row and " 0 " not in row  # its CPU time was never measured: n/a, not 0
    assert text.splitlines()[-2:] == [f"✝ {SUMMARY}", "✝ kernel died in cell #12 (id 3f2a…) at 22.8 GiB: cause unknown"]
    page = RecordTable(records, "history")._repr_html_()
    assert f"✝ {htmlmod.escape(SUMMARY)}" in page and "var(--jp-error-color1" in page

    detail = repr(RecordDetail(records[1]))
    assert "✝ died (out of memory)" in detail.splitlines()[0]
    assert f"✝ {SUMMARY}; other readings not measured: the kernel died" in detail
    assert "~12.3 s" in detail and "estimated (journal): until the kernel was last seen" in detail
    assert re.search(r"overhead_s +n/a", detail)  # its hooks never finished: unknown, not 0 s
    assert htmlmod.escape(SUMMARY) in RecordDetail(records[1])._repr_html_()


def test_footer_of_a_died_record_leads_with_its_summary() -> None:
    record = died()
    text = footer_text(record)
    assert text.startswith(f"✝ {SUMMARY} · ~12.3 s"), text
    assert "0 s" not in text and "CPU" not in text  # absent readings are left out, never 0
    assert "overhead" not in footer_text(record, "full")
    page = footer_html(record)
    assert "var(--jp-error-color1" in page and htmlmod.escape(record.notes[0]) in page  # the note is its tooltip
    assert footer_text(died(cause=None)).startswith("✝ kernel died in cell #12 (id 3f2a…) at 22.8 GiB: cause unknown")


def store_run(db: Path, records: list[CellRecord], run_id: str = "r1") -> tuple[list[CellRecord], dict]:
    """The records written to a real SQLite store and read back, as every report reads them."""
    store = SQLiteStore(db)
    run = RunInfo(run_id=run_id, notebook="/nb/a.ipynb", kernel_id="k", started_at=time.time(), nbprofile="t")
    for record in records:
        record.run_id = run_id
        store.write(record, run)
    stored, info = store.records(run_id), store.run(run_id)
    store.close()
    return stored, info


def a_run_that_died(db: Path, run_id: str = "r1") -> tuple[list[CellRecord], dict]:
    return store_run(db, [finished(seq=1, cell_id="c1", source="setup()", wall=1.0),
                          finished(seq=2, cell_id="c2", source="train()", wall=2.0),
                          died(seq=3, cell_id=UUID)], run_id)


def test_a_died_record_survives_the_store(_isolated_store: Path) -> None:
    records, _ = a_run_that_died(_isolated_store)
    assert records[2].status == "died" and records[2].error_type == OOM
    assert died_summary(records[2]) == SUMMARY and "cpu_s" not in records[2].readings


def _cells_rows(document: str) -> list[str]:
    table = document.split('<table class="cells">', 1)[1].split("</table>", 1)[0]
    return re.findall(r"<tr[^>]*>.*?</tr>", table.split("<tbody>", 1)[1], re.DOTALL)


def test_html_report_flags_the_died_cell(_isolated_store: Path) -> None:
    records, run = a_run_that_died(_isolated_store)
    document = export("html", records, run)
    row = _cells_rows(document)[2]
    assert row.startswith('<tr class="died">')
    assert f'<span class="chip died" title="{htmlmod.escape(SUMMARY)}">✝ died: out of memory</span>' in row
    tds = [htmlmod.unescape(re.sub(r"<[^>]+>", "", td)) for td in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
    assert tds[2:5] == ["~12.3 s", "n/a", "~22.8 GiB"]  # time (estimated), CPU (never measured), peak RAM
    assert 'title="not measured: the kernel died before this cell finished">n/a' in row
    # said first, above the totals, for a reader who only glances at the top
    top = document.split('<section class="totals">', 1)[0]
    assert f'<ul class="deaths"><li>✝ {htmlmod.escape(SUMMARY)}</li></ul>' in top
    # totals: the partial wall time counts and makes the sum an estimate; CPU covers the other two cells
    totals = re.findall(r"<div>([^<]+)<b>([^<]*)</b></div>", document.split('<section class="totals">')[1])
    shown = {label: value for label, value in totals}
    assert shown["time"] == "~15.3 s" and shown["CPU"] == "≥ 1.50 s" and shown["peak RAM (max)"] == "~22.8 GiB"


def test_markdown_report_says_the_cell_died(_isolated_store: Path) -> None:
    records, run = a_run_that_died(_isolated_store)
    markdown = export("md", records, run)
    assert f"- **{SUMMARY}**" in markdown.split("## Totals")[0]
    row = next(line for line in markdown.split("## Cells")[1].splitlines() if "load_everything" in line)
    assert "| ✝ died (out of memory) |" in row and "| ~12.3 s | n/a | ~22.8 GiB |" in row


def test_csv_and_json_carry_status_cause_and_summary(_isolated_store: Path) -> None:
    records, run = a_run_that_died(_isolated_store)
    rows = list(csv.DictReader(io.StringIO(export("csv", records, run))))
    assert (rows[2]["status"], rows[2]["error_type"], rows[2]["died_summary"]) == ("died", OOM, SUMMARY)
    assert rows[0]["died_summary"] == "" and rows[2]["cpu_s"] == ""  # unmeasured: empty, never 0
    assert (rows[2]["wall_s"], rows[2]["wall_s.method"]) == ("12.3", "estimated")
    data = json.loads(export("json", records, run))
    cell = data["cells"][2]
    assert (cell["status"], cell["error_type"], cell["died_summary"]) == ("died", OOM, SUMMARY)
    assert "died_summary" not in data["cells"][0] and "cpu_s" not in cell["readings"]
    assert cell["readings"]["wall_s"]["method"] == "estimated"
    assert data["totals"]["wall_s"] == pytest.approx(15.3)
    assert data["totals_method"]["wall_s"] == {"method": "estimated", "cells": 3, "of": 3}
    assert data["totals_method"]["cpu_s"] == {"method": "measured", "cells": 2, "of": 3}


def test_a_died_cell_is_never_a_regression_or_an_improvement(_isolated_store: Path, capsys) -> None:
    before, _ = store_run(_isolated_store, [finished(seq=1, cell_id="c1", source="setup()", wall=1.0),
                                            finished(seq=3, cell_id=UUID, source="big = load_everything()",
                                                     wall=1.0)], "before")
    after, after_run = store_run(_isolated_store, [finished(seq=1, cell_id="c1", source="setup()", wall=1.0),
                                                   died(seq=3, cell_id=UUID, wall=12.3)], "after")
    comparison = compare_runs(before, after)
    cell = comparison.cells[1]
    assert cell.died == "B" and cell.status_a == "ok" and cell.status_b == "died"
    assert not cell.regression and comparison.regressions == []  # 1 s → 12.3 s, but it never finished
    assert all(d.abs is None and d.pct is None for d in cell.delta.values())
    assert cell.b["wall_s"] == 12.3 and cell.b["cpu_s"] is None  # what it had is still shown
    back = compare_runs(after, before).cells[1]  # died in A: a "faster" B is no improvement either
    assert back.died == "A" and all(d.abs is None for d in back.delta.values())
    assert comparison.to_json()["cells"][1]["died"] == "B"

    document = export("html", after, after_run, other=before, other_run={"run_id": "before"})
    assert "<p>0 regressions" in document
    assert "<td>1.00 s</td><td>~12.3 s</td><td>died (now)</td>" in document  # its partial time: estimated
    markdown = export("md", after, after_run, other=before, other_run={"run_id": "before"})
    assert "| 1.00 s | ~12.3 s | died (now) |  |" in markdown

    assert main(["compare", "before", "after", "--width", "160"]) == 0
    out = capsys.readouterr().out
    row = next(line for line in out.splitlines() if "load_everything" in line)
    assert row.lstrip("│ ").startswith("✝ big = load_everything()") and "died (now)" in row
    assert "0 cells regressed" in out and "1 cell where the kernel died" in out


def test_nbprofile_show_and_report_on_the_command_line(_isolated_store: Path, tmp_path: Path, capsys) -> None:
    a_run_that_died(_isolated_store)
    assert main(["show", "r1"]) == 0
    out = capsys.readouterr().out
    assert "✝ died (out of memory)" in out and out.rstrip().splitlines()[-1] == f"✝ {SUMMARY}"
    assert main(["report", "--run", "r1", "-o", str(tmp_path / "r.md")]) == 0
    assert f"- **{SUMMARY}**" in (tmp_path / "r.md").read_text()
