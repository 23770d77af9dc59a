"""Every example notebook passes `nbprofile run` on a CPU-only machine (as in CI), and stores what it should.

As CI runs them (README: ``--budget-file examples/ci-budgets.toml``): one record per code cell, in
order, each with measured wall and CPU time; and the verdicts of the budgets the example states
(its ``%%budget`` cells and its entries in ci-budgets.toml), worked out here from those texts and
the recorded values.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from nbprofile.cli.main import main
from nbprofile.record import CellRecord
from nbprofile.store import SQLiteStore

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

pytestmark = pytest.mark.kernel
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
#: the budget grammar's metric names, and the reading each judges (docs/readings.md)
READING_OF = {"time": "wall_s", "ram": "rss_peak_bytes", "vram": "vram_peak_bytes", "gpu_time": "gpu_time_s",
              "tokens": "llm_tokens", "cost": "cost_usd"}
UNITS = {"": 1, "s": 1, "min": 60, "MiB": 1024**2, "GiB": 1024**3}
ABSOLUTE = re.compile(r"(?P<metric>[a-z_]+)<=\$?(?P<number>\d+(?:\.\d+)?)(?P<unit>[A-Za-z]*)")


def copy_examples(tmp_path: Path) -> Path:
    """The notebooks write reports next to themselves: run copies, not the repository's files."""
    work = tmp_path / "examples"
    work.mkdir()
    for path in EXAMPLES.iterdir():
        if path.suffix in (".ipynb", ".toml", ".py", ".md") and path.is_file():
            shutil.copy(path, work / path.name)
    return work


def stated_limits(name: str, source: str, budgets: dict[str, Any]) -> list[str]:
    """The limits a cell is judged by: its own ``%%budget`` line, then the budget file's defaults
    and this notebook's ``cells`` entry."""
    first = source.splitlines()[0] if source else ""
    own = [w for w in first.split()[1:] if not w.startswith("-")] if first.startswith("%%budget") else []
    entry = budgets.get("notebooks", {}).get(name, {})
    limits = own + list(budgets.get("defaults", {}).get("limits", [])) + list(entry.get("cells", []))
    return [text.replace("$", "") for text in limits]  # a limit is kept as "cost<=0.01"


def expected_item(text: str, value: float | None) -> str:
    """The status a limit must get for a recorded value: no value is never a pass; a relative
    limit has nothing to compare with on a first run."""
    if value is None or "last" in text or "%" in text or "baseline" in text:
        return "unmeasurable"
    found = ABSOLUTE.fullmatch(text)
    assert found, f"a limit this test cannot read: {text}"
    threshold = float(found["number"]) * UNITS[found["unit"]]
    return "pass" if value <= threshold else "fail"


def check_verdict(record: CellRecord, limits: list[str]) -> None:
    verdict = record.verdict
    assert verdict is not None, f"cell {record.cell_id} has limits {limits} but no verdict"
    items = verdict["items"]
    assert sorted(i["limit"]["text"] for i in items) == sorted(limits), (record.cell_id, items)
    for item in items:
        text = item["limit"]["text"]
        value = record.value(READING_OF[item["limit"]["key"]])
        assert item["status"] == expected_item(text, value), (record.cell_id, text, value, item)
        assert item["value"] == value  # judged on the value the record keeps
        if item["status"] == "unmeasurable":
            assert item["reason"], item  # and says why
    statuses = {i["status"] for i in items}
    overall = "fail" if "fail" in statuses else "unmeasurable" if "unmeasurable" in statuses else "pass"
    assert record.verdict_status == overall


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.ipynb")))
def test_example_notebook_passes_nbprofile_run(name: str, tmp_path: Path, _isolated_store: Path, capsys) -> None:
    work = copy_examples(tmp_path)
    summary_path = tmp_path / "summary.json"
    code = main(["run", str(work / name), "--timeout", "300", "-q", "--budget-file", str(work / "ci-budgets.toml"),
                 "--json", str(summary_path)])
    err = capsys.readouterr().err
    store = SQLiteStore(_isolated_store)
    (run,) = store.runs()
    records = store.records(run["run_id"])

    notebook = nbformat.read(work / name, as_version=4)
    code_cells = [c for c in notebook.cells if c.cell_type == "code"]
    assert [r.cell_id for r in records] == [c.id for c in code_cells]  # every code cell, once, in order
    assert run["cells"] == len(code_cells)
    for record in records:
        assert record.status == "ok", (record.cell_id, record.status, record.error_type)
        for key in ("wall_s", "cpu_s"):
            reading = record.readings[key]
            assert reading.method == "measured" and reading.value is not None and reading.value >= 0, (key, reading)

    budgets = tomllib.loads((work / "ci-budgets.toml").read_text())
    for record, cell in zip(records, code_cells):
        check_verdict(record, stated_limits(name, cell.source, budgets))
    summary = json.loads(summary_path.read_text())
    totals = budgets.get("notebooks", {}).get(name, {}).get("total", [])
    if totals:  # the run's totals: time summed over the cells, peak RAM the largest
        walls = [r.value("wall_s") for r in records]
        peaks = [r.value("rss_peak_bytes") for r in records]
        total_of = {"time": sum(w for w in walls if w is not None), "ram": max(p for p in peaks if p is not None)}
        got = [(i["limit"]["text"], i["status"], i["value"]) for i in summary["totals_verdict"]["items"]]
        want = [(t, expected_item(t, total_of[t.split("<=")[0]]), total_of[t.split("<=")[0]]) for t in totals]
        assert [(t, s) for t, s, _ in got] == [(t, s) for t, s, _ in want]
        assert [v for _, _, v in got] == pytest.approx([v for _, _, v in want])
    else:
        assert summary["totals_verdict"] is None

    failed = [r for r in records if r.verdict_status == "fail"]
    assert summary["budget_failures"] == run["budget_failures"] == len(failed)
    # on an idle CPU-only machine every limit of the examples holds; a loaded one can only make a
    # cell slower than time<=10s, and then the run must say so and exit 1
    assert code == (1 if failed else 0), err
    assert all(i["status"] != "fail" for r in records for i in r.verdict["items"]  # type: ignore[index]
               if i["limit"]["key"] != "time"), "a limit other than time failed"


def test_quickstart_shows_every_feature(tmp_path: Path, _isolated_store: Path) -> None:
    work = copy_examples(tmp_path)
    assert main(["run", str(work / "quickstart.ipynb"), "-q"]) == 0
    records = SQLiteStore(_isolated_store).history(None, 100)
    (budgeted,) = [r for r in records if r.source.startswith("%%budget")]
    assert budgeted.verdict_status == "unmeasurable"  # ram<=last+64MiB: no earlier run, said so
    report = (work / "quickstart-report.html").read_text()
    assert report.startswith("<!DOCTYPE html>") and f"run {records[0].run_id} · " in report
    (copy,) = [r for r in records if "np.repeat(X, 6, axis=0)" in r.source]
    peak, start = copy.value("rss_peak_bytes"), copy.value("rss_start_bytes")
    assert peak is not None and start is not None
    assert peak - start >= 250 * 1024**2  # the transient copy's peak (100k x 64 x 8 B x 6 = 293 MiB)
