"""Exported reports: exact numbers (JSON, CSV), what is displayed (HTML, Markdown), safety."""

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
from nbprofile.errors import ExportError
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.report.registry import export
from nbprofile.report.model import show
from nbprofile.store import SQLiteStore

EVIL = "print('<script>alert(1)</script>')  # </table></td> <img src=x onerror=alert(2)>"


def make_run(db: Path, run_id: str = "r1", n: int = 5, slow: float = 1.0) -> tuple[list[CellRecord], dict]:
    store = SQLiteStore(db)
    run = RunInfo(run_id=run_id, notebook="/nb/a.ipynb", kernel_id="k", started_at=time.time(), nbprofile="t")
    for i in range(n):
        source = EVIL if i == 1 else f"step({i})"
        readings = {
            "wall_s": Reading(0.1 * (i + 1) * slow + 1 / 3, "s", "measured", "perf_counter"),
            "cpu_s": Reading(0.05 * (i + 1), "s", "measured", "getrusage"),
            "rss_peak_bytes": Reading(100_000_000 + i * 12345, "B", "sampled" if i == 2 else "measured", "x"),
            "energy_j": Reading(12.345678 * (i + 1), "J", "estimated", "tdp", "RAPL needs root")
            if i % 2 == 0 else Reading.unavailable("J", "no energy counter here"),
        }
        record = CellRecord(run_id=run_id, seq=i + 1, notebook="/nb/a.ipynb", cell_id=f"c{i}",
                            execution_count=i + 1, code_hash=code_hash(source), source=source,
                            started_at=time.time(), status="error" if i == 3 else "ok",
                            error_type="ValueError" if i == 3 else None, readings=readings, overhead_s=3.3e-5)
        store.write(record, run)
    records = store.records(run_id)
    info = store.run(run_id)
    store.close()
    return records, info


def test_json_round_trips_the_stored_numbers_exactly(_isolated_store: Path) -> None:
    records, run = make_run(_isolated_store)
    data = json.loads(export("json", records, run))
    assert data["schema"] == "nbprofile.report/1"
    for rec, cell in zip(records, data["cells"]):
        for key, reading in rec.readings.items():
            got = cell["readings"][key]
            assert (got["value"], got["unit"], got["method"], got["note"]) == \
                (reading.value, reading.unit, reading.method, reading.note)
    assert data["totals"]["wall_s"] == sum(r.value("wall_s") for r in records)
    assert data["totals"]["rss_peak_bytes"] == max(r.value("rss_peak_bytes") for r in records)
    assert data["totals"]["energy_j"] == sum(r.value("energy_j") for r in records if r.value("energy_j") is not None)
    assert data["totals"]["vram_peak_bytes"] is None  # no cell measured it: not 0
    # a total says how it was obtained: estimated if any part was, over how many cells
    assert data["totals_method"]["wall_s"] == {"method": "measured", "cells": 5, "of": 5}
    assert data["totals_method"]["rss_peak_bytes"]["method"] == "sampled"
    assert data["totals_method"]["energy_j"] == {"method": "estimated", "cells": 3, "of": 5}
    assert data["totals_method"]["vram_peak_bytes"] == {"method": "unavailable", "cells": 0, "of": 5}


def test_csv_round_trips_the_stored_numbers_exactly(_isolated_store: Path) -> None:
    records, run = make_run(_isolated_store)
    rows = list(csv.DictReader(io.StringIO(export("csv", records, run))))
    assert len(rows) == len(records)
    for rec, row in zip(records, rows):
        assert row["source"] == rec.source and row["cell_id"] == rec.cell_id
        for key, reading in rec.readings.items():
            assert row[f"{key}.method"] == reading.method
            if reading.value is None:
                assert row[key] == ""  # unavailable is empty, never 0
            else:
                assert float(row[key]) == reading.value
    with pytest.raises(ExportError, match="CSV report holds one run"):
        export("csv", records, run, other=records, other_run=run)


def _cells_text(document: str) -> list[list[str]]:
    table = document.split('<table class="cells">', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr[^>]*>(.*?)</tr>", table.split("<tbody>", 1)[1], re.S)
    return [[htmlmod.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
            for row in rows]


def test_html_and_markdown_show_what_the_formatters_show(_isolated_store: Path) -> None:
    records, run = make_run(_isolated_store)
    document = export("html", records, run)
    rows = _cells_text(document)
    assert len(rows) == len(records)
    for rec, row in zip(records, rows):
        shown = [show(rec.readings.get(k)).text for k in ("wall_s", "cpu_s", "rss_peak_bytes", "energy_j")]
        assert row[2:6] == shown
    assert rows[2][4].startswith("~") and rows[1][5] == "n/a"  # sampled marked; unavailable is n/a
    markdown = export("md", records, run)
    for rec in records:
        assert f"| {show(rec.readings['wall_s']).text} |" in markdown
    assert "| peak RAM (max) |" in markdown.replace("time | CPU | ", "")
    # Totals: wall measured in every cell; RAM peak includes a sampled one; energy is an
    # estimate over 3 of the 5 cells, so a lower bound
    totals = markdown.split("## Totals")[1].split("## Cells")[0].strip().splitlines()[2]
    wall, cpu, ram, energy = [c.strip() for c in totals.strip("|").split("|")]
    assert wall[0].isdigit() and ram.startswith("~") and energy.startswith("≥ ~"), totals
    assert energy in document and ram in document


def test_user_strings_are_escaped(_isolated_store: Path) -> None:
    records, run = make_run(_isolated_store)
    document = export("html", records, run)
    assert "<script" not in document and "<img" not in document  # only as escaped text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in document
    markdown = export("md", records, run)
    # in Markdown the cell's code is a code span, which renderers show literally
    assert f"| `{EVIL.split(chr(10))[0][:59]}…` |" in markdown


def test_html_report_in_chromium_is_offline_and_inert(_isolated_store: Path, tmp_path: Path) -> None:
    if not Path("/usr/bin/chromium").exists():
        pytest.skip("Debian chromium is not installed (apt-get install chromium)")
    playwright = pytest.importorskip("playwright.sync_api")
    records, run = make_run(_isolated_store, n=30)
    other, other_run = make_run(_isolated_store, "r0", n=30, slow=0.5)
    path = tmp_path / "report.html"
    path.write_text(export("html", records, run, other=other, other_run=other_run))
    requests, errors, dialogs = [], [], []
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                    args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page()
        page.on("request", lambda r: requests.append(r.url))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
        page.goto(path.as_uri())
        page.wait_for_load_state("load")
        evil_text = page.locator("table.cells tbody tr").nth(1).locator("td").nth(1).inner_text()
        rows = page.locator("table.cells tbody tr").count()
        images = page.locator("img").count()
        page.screenshot(path=str(tmp_path / "report.png"), full_page=True)
        browser.close()
    assert requests == [path.as_uri()], "the report fetched something besides itself"
    assert errors == [] and dialogs == [] and images == 0
    assert rows == 30
    assert evil_text.startswith("print('<script>alert(1)</script>')  # </table></td> <img")


def test_report_command_and_magic(_isolated_store: Path, tmp_path: Path, capsys, shell) -> None:
    make_run(_isolated_store, "old", slow=1.0)
    make_run(_isolated_store, "new", slow=2.0)
    out = tmp_path / "cmp.md"
    assert main(["report", "--compare", "old", "new", "-o", str(out)]) == 0
    text = out.read_text()
    assert "## Compared with run `old`" in text
    assert "| time +23.1% (433 ms → 533 ms) |" in text  # a slower cell's regression says in what, and how much
    assert main(["report", "--run", "nope", "-o", str(tmp_path / "x.html")]) == 2
    assert "no run 'nope'" in capsys.readouterr().err

    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_cell("x = 1")
    link = shell.run_line_magic("nbprofile", f"report -o {tmp_path / 'run.json'}")
    data = json.loads((tmp_path / "run.json").read_text())
    assert data["cells"][-1]["source"] == "x = 1" and str(link).endswith("run.json")


def test_html_attributes_cannot_be_broken_out_of(_isolated_store: Path) -> None:
    """A cell's source also goes into title="…" attributes: a quote in it must not end the attribute
    and start one of its own (an event handler, in a file people open in their browser)."""
    from html.parser import HTMLParser

    store = SQLiteStore(_isolated_store)
    run = RunInfo(run_id="q", notebook="/nb/q.ipynb", kernel_id=None, started_at=time.time())
    source = 'x = "" onmouseover="alert(3)" title="'
    store.write(CellRecord(run_id="q", seq=1, notebook="/nb/q.ipynb", cell_id="c", execution_count=1,
                           code_hash=code_hash(source), source=source, started_at=time.time(), status="ok",
                           error_type=None, readings={"wall_s": Reading(1.0, "s", "measured", "perf_counter")},
                           overhead_s=1e-5), run)
    records, info = store.records("q"), store.run("q")
    store.close()

    class Attributes(HTMLParser):
        def __init__(self) -> None:
            super().__init__()
            self.names: set[str] = set()
            self.titles: list[str] = []

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            self.names.update(name for name, _ in attrs)
            self.titles += [value or "" for name, value in attrs if name == "title"]

    parsed = Attributes()
    parsed.feed(export("html", records, info))
    assert "onmouseover" not in parsed.names
    assert source in parsed.titles  # the whole source, as text, inside its own attribute
