"""Table tests of the pure formatters: exactly what the user reads."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nbprofile.format import (
    counted,
    format_bytes,
    format_co2,
    format_count,
    format_duration,
    format_energy,
    format_percent,
    format_usd,
    format_value,
    format_whole,
)
from nbprofile.metrics import CATALOG, unit_of
from nbprofile.readings import COUNT, Reading
from nbprofile.record import CellRecord
from tests.fixtures.format_cases import CASES_PATH, render


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0 s"),
    (4.2e-7, "420 ns"),
    (1.23e-5, "12.3 µs"),
    (0.000999, "999 µs"),
    (0.2003, "200 ms"),
    (2.314, "2.31 s"),
    (59.94, "59.9 s"),
    (75, "1 min 15 s"),
    (3725, "1 h 02 min"),
    (-0.5, "-500 ms"),
])
def test_format_duration(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text


def test_microseconds_read_the_same_in_footers_and_tables() -> None:
    """One unit spelling everywhere: tables once wrote `us` where footers wrote `µs`."""
    from nbprofile.readings import Reading
    from nbprofile.record import CellRecord
    from nbprofile.report.footer import footer_text
    from nbprofile.report.tables import RecordDetail, RecordTable

    record = CellRecord(run_id="r", seq=1, notebook=None, cell_id="c", execution_count=1, code_hash="h",
                        source="pass", started_at=1.7e9, status="ok", error_type=None,
                        readings={"wall_s": Reading(1.23e-5, "s", "measured", "perf_counter_ns")},
                        overhead_s=2.5e-5)
    assert footer_text(record).startswith("12.3 µs wall")
    assert "12.3 µs" in repr(RecordTable([record], "t")) and "12.3 µs" in repr(RecordDetail(record))
    assert "25.0 µs" in repr(RecordDetail(record)) and " us" not in repr(RecordDetail(record))


@pytest.mark.parametrize(("n", "signed", "text"), [
    (0, False, "0 B"),
    (512, False, "512 B"),
    (1536, False, "1.50 KiB"),
    (300 * 1024**2, True, "+300 MiB"),
    (-300 * 1024**2, True, "-300 MiB"),
    (1288490188, False, "1.20 GiB"),
    (8 * 1024**4, False, "8.00 TiB"),
])
def test_format_bytes(n: int, signed: bool, text: str) -> None:
    assert format_bytes(n, signed=signed) == text


@pytest.mark.parametrize(("joules", "text"), [
    (0, "0 J"), (0.5, "500 mJ"), (42, "42.0 J"), (5400, "1.50 Wh"), (9e6, "2.50 kWh"),
])
def test_format_energy(joules: float, text: str) -> None:
    assert format_energy(joules) == text


@pytest.mark.parametrize(("grams", "text"), [
    (0.0123, "12.3 mg CO2e"), (3.2, "3.20 g CO2e"), (4500, "4.50 kg CO2e"),
    (5.6e-5, "56.0 µg CO2e"), (1e-9, "<0.01 µg CO2e"),
])
def test_format_co2(grams: float, text: str) -> None:
    assert format_co2(grams) == text


@pytest.mark.parametrize(("dollars", "text"), [
    (0, "$0"), (0.05, "$0.05"), (0.0512, "$0.0512"), (0.412, "$0.412"), (0.000412, "$0.000412"),
    (0.1, "$0.10"), (12.5, "$12.50"), (1234.5, "$1,234.50"), (3.4e-11, "<$0.000001"),
    (2.5e-6, "$0.0000025"),
])
def test_format_usd(dollars: float, text: str) -> None:
    assert format_usd(dollars) == text


@pytest.mark.parametrize(("n", "text"), [(950, "950"), (12400, "12.4k"), (3.2e6, "3.20M"), (2e12, "2.00T")])
def test_format_count(n: float, text: str) -> None:
    assert format_count(n) == text


def test_format_percent_and_value() -> None:
    assert format_percent(0.1234) == "12.3%"
    assert format_percent(0.04, signed=True) == "+4.00%"
    assert format_value(2.0, "s") == "2.00 s"
    assert format_value(1024**3, "B") == "1.00 GiB"
    assert format_value(3.0, "W") == "3.00 W"
    calls = [format_value(n, "calls") for n in (0, 1, 3, 1500)]
    assert calls == ["0 calls", "1 call", "3 calls", "1.50k calls"]


@pytest.mark.parametrize(("n", "text"), [
    (0, "0"), (1, "1"), (2, "2"), (2.0, "2"), (999, "999"), (1234, "1,234"), (12400, "12,400"),
    (999999, "999,999"), (1e6, "1.00M"), (3.2e6, "3.20M"), (-1500, "-1,500"),
    (2.5, "2.5"), (0.5, "0.5"), (99.96, "100"), (1234.5, "1,234"),
])
def test_a_count_of_things_reads_whole(n: float, text: str) -> None:
    """Tasks and workers: grouped whole numbers, compact from a million as tokens are, never "2.00"."""
    assert format_whole(n) == text
    assert format_value(n, COUNT) == text


def test_tasks_and_workers_are_counts_and_tokens_print_as_before() -> None:
    assert {unit_of(k) for k in ("cluster_tasks", "worker3_tasks", "cluster_workers")} == {COUNT}
    assert [format_value(n, "tokens") for n in (950, 12400, 3.2e6)] == ["950", "12.4k", "3.20M"]
    assert format_value(3, "calls") == "3 calls"
    # the footer's words name what is counted; the unit's name never reaches the user
    assert all("count" not in (m.footer or "") for m in CATALOG if m.unit == COUNT)


def test_the_panels_cases_are_current() -> None:
    """labextension/test/format_cases.json is what the panel's formatters are checked against."""
    assert CASES_PATH.read_text(encoding="utf-8") == render(), \
        "format_cases.json is out of date: run python tests/fixtures/format_cases.py"
    assert '"unit": "count"' in render()


def _dask_cell(unit: str) -> CellRecord:
    readings = {"wall_s": Reading(1.2, "s", "measured", "perf_counter_ns"),
                "cluster_cpu_s": Reading(3.1, "s", "measured", "client.run"),
                "cluster_workers": Reading(2, unit, "measured", "client.run"),
                "cluster_tasks": Reading(1234, unit, "measured", "client.run: worker.state.executed_count"),
                "worker0_tasks": Reading(2, unit, "measured", "client.run: worker.state.executed_count")}
    return CellRecord(run_id="r1", seq=1, notebook="/nb.ipynb", cell_id="c", execution_count=1, code_hash="h",
                      source="x", started_at=time.time(), status="ok", error_type=None, readings=readings,
                      overhead_s=1e-4)


@pytest.mark.parametrize("unit", [COUNT, ""], ids=["recorded now", "recorded before counts had a unit"])
def test_tasks_read_as_tasks_in_the_footer_and_the_record_table(unit: str, tmp_path: Path) -> None:
    """Written to a real SQLite store and read back, as ``%nbprofile last`` and the footer read them."""
    from nbprofile.record import RunInfo
    from nbprofile.report.footer import footer_text
    from nbprofile.report.tables import RecordDetail
    from nbprofile.store import SQLiteStore

    store = SQLiteStore(tmp_path / "nbprofile.db")
    store.write(_dask_cell(unit), RunInfo(run_id="r1", notebook="/nb.ipynb", kernel_id="k",
                                          started_at=time.time(), nbprofile="t"))
    (record,) = store.records("r1")
    store.close()
    assert record.readings["cluster_tasks"].unit == unit  # the store keeps what was written
    assert footer_text(record, "full") == ("1.20 s wall · cluster 3.10 s CPU on 2 workers · 1,234 tasks"
                                           " · overhead 100 µs")
    rows = {key: shown for key, shown, _ in RecordDetail(record).rows()}
    assert (rows["cluster_tasks"], rows["cluster_workers"], rows["worker0_tasks"]) == ("1,234", "2", "2")


@pytest.mark.parametrize(("n", "word", "plural", "text"), [
    (0, "cell", None, "0 cells"),
    (1, "cell", None, "1 cell"),
    (2, "cell", None, "2 cells"),
    (1200, "record", None, "1,200 records"),
    (1, "process", "processes", "1 process"),
    (3, "process", "processes", "3 processes"),
])
def test_how_many_in_words(n: int, word: str, plural: str | None, text: str) -> None:
    assert counted(n, word, plural) == text


def test_one_task_one_worker_and_one_token_read_in_the_singular() -> None:
    from nbprofile.report.footer import footer_text

    record = _dask_cell(COUNT)
    record.readings.update({"cluster_workers": Reading(1, COUNT, "measured", "client.run"),
                            "cluster_tasks": Reading(1, COUNT, "measured", "client.run"),
                            "llm_tokens": Reading(1, "tokens", "measured", "SDK hooks")})
    text = footer_text(record, "full")
    assert "cluster 3.10 s CPU on 1 worker ·" in text and "· 1 task ·" in text and "1 token " in text, text
