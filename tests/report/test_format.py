"""Table tests of the pure formatters: exactly what the user reads."""

from __future__ import annotations

import pytest

from nbprofile.format import (
    format_bytes,
    format_co2,
    format_count,
    format_duration,
    format_energy,
    format_percent,
    format_usd,
    format_value,
)


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
    assert [format_value(n, "calls") for n in (0, 1, 3, 1500)] == ["0 calls", "1 call", "3 calls", "1.50k calls"]
