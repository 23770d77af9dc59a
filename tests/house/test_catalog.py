"""A metric is described once, in the catalog, and every part of nbprofile reads it from there.

The test adds a metric nbprofile has never heard of and finds it in the budget
grammar, a verdict, compare, the footer, every report format, the CLI's compare
table and the server's ``/nbprofile/api/metrics``; then checks that the copies
the catalog replaced agree with it where users see them.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any, Iterator

import pytest

from nbprofile.budgets.evaluate import evaluate
from nbprofile.budgets.grammar import parse_limit
from nbprofile.metrics import CATALOG, Metric, metric, unit_of
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo
from nbprofile.report import registry
from nbprofile.report.compare import compare_runs
from nbprofile.report.footer import footer_text
from nbprofile.store import SQLiteStore

FAN = Metric("fan_energy_j", "J", "fan energy", "energy of the case fans", "a test's own meter",
             budget="fan_energy", regression_floor=1.0, column=True, footer="fans {}")


@pytest.fixture
def fan() -> Iterator[Metric]:
    CATALOG.add(FAN)
    yield FAN
    CATALOG.remove(FAN.key)


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


def record(run_id: str, joules: float, seq: int = 1) -> CellRecord:
    return CellRecord(run_id=run_id, seq=seq, notebook="/nb.ipynb", cell_id="c1", execution_count=seq,
                      code_hash="h", source="spin_fans()", started_at=time.time(), status="ok", error_type=None,
                      readings={"wall_s": Reading(1.0, "s", "measured", "perf_counter_ns"),
                                "fan_energy_j": Reading(joules, "J", "measured", "fan sensor")},
                      overhead_s=1e-5)


def test_the_catalog_knows_each_key_once_and_refuses_a_second_copy() -> None:
    keys = [m.key for m in CATALOG]
    family = next(m for m in CATALOG if m.key == "gpu{i}_energy_j")
    assert len(keys) == len(set(keys)) and metric("gpu3_energy_j") is family and metric("gpuX_energy_j") is None
    with pytest.raises(ValueError, match="reading key 'wall_s' twice"):
        CATALOG.add(Metric("wall_s", "s", "time again", "", ""))
    assert [m.key for m in CATALOG] == keys


def test_a_new_metric_reaches_every_part(fan: Metric, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    limit = parse_limit("fan_energy<=2Wh")
    assert limit.metric is fan and limit.value == 7200
    verdict = evaluate([limit], record("b", 9000.0).readings)
    assert verdict.status == "fail" and verdict.items[0].describe() == "fan energy 2.50 Wh > 2.00 Wh"
    assert unit_of("fan_energy_j") == "J"

    comparison = compare_runs([record("a", 100.0)], [record("b", 9000.0)])
    assert "fan_energy_j" in comparison.metrics and comparison.cells[0].regression
    assert "fans 2.50 Wh" in footer_text(record("b", 9000.0))

    run = {"run_id": "b", "notebook": "/nb.ipynb", "started_at": time.time()}
    texts = {name: fmt.render([record("b", 9000.0)], run) for name, fmt in registry.FORMATS.items()}
    assert "fan energy" in texts["html"] and "2.50 Wh" in texts["html"]
    assert "| fan energy |" in texts["md"] or "fan energy |" in texts["md"]
    assert json.loads(texts["json"])["totals"]["fan_energy_j"] == 9000.0
    assert "fan_energy_j,fan_energy_j.method" in texts["csv"]

    db = tmp_path / "fans.db"
    store = SQLiteStore(db)
    for run_id, joules in (("a", 100.0), ("b", 9000.0)):
        store.write(record(run_id, joules), RunInfo(run_id=run_id, notebook="/nb.ipynb", kernel_id=None,
                                                   started_at=time.time()))
    store.close()
    from nbprofile.cli.main import main

    assert main(["--db", str(db), "compare", "a", "b", "--metrics", "fan_energy_j"]) == 0
    table = capsys.readouterr().out
    assert "fan energy before" in table and "+8900%" in table.replace(",", "") or "+8.90k%" in table


async def test_the_server_serves_the_catalog(fan: Metric, jp_fetch: Any) -> None:
    body = json.loads((await jp_fetch("nbprofile", "api", "metrics")).body)
    entries = {m["key"]: m for m in body["metrics"]}
    assert entries["fan_energy_j"]["label"] == "fan energy" and entries["fan_energy_j"]["budget"] == "fan_energy"
    assert list(entries)[:3] == ["wall_s", "cpu_s", "children_cpu_s"]  # display order
    formats = json.loads((await jp_fetch("nbprofile", "api", "formats")).body)["formats"]
    assert [f["name"] for f in formats] == list(registry.FORMATS)
