"""``ram_rise``: a limit on what the cell itself added to the kernel's memory, not on the kernel's peak.

``ram`` judges the peak the kernel reached during the cell, which includes everything earlier
cells still hold; ``ram_rise`` judges that peak's rise above the cell's start (the footer's
``(+N)`` next to peak RAM). Driven in an in-process IPython shell with the real memory meter.
"""

from __future__ import annotations

import re
from typing import Any

import pytest

from nbprofile.budgets.grammar import parse_limit
from nbprofile.errors import BudgetExceeded
from nbprofile.meters.memory import PeakRss
from tests.support.store import stored

MiB = 1024**2
# b"\x01" * n writes every byte, so its pages are resident (a zeroed bytearray may not be)
HOLD_200MB = "kept = b'\\x01' * 200_000_000"
SMALL = "x = 1 + 1"


@pytest.fixture
def loaded(shell: Any) -> Any:
    shell.run_line_magic("load_ext", "nbprofile")
    return shell


def test_memory_earlier_cells_hold_counts_for_ram_but_not_for_ram_rise(loaded: Any) -> None:
    assert loaded.run_cell(HOLD_200MB).success
    small = loaded.run_cell(f"%%budget --strict ram_rise<=50MiB\n{SMALL}")
    assert small.error_in_exec is None and small.error_before_exec is None, small
    whole = loaded.run_cell(f"%%budget --strict ram<=150MiB\n{SMALL}")
    # the kernel's peak is above 150 MiB because of the earlier cell, not because of this one
    assert isinstance(whole.error_in_exec, BudgetExceeded), whole
    assert "ram " in str(whole.error_in_exec) and "> 150" in str(whole.error_in_exec)


def test_a_cell_that_allocates_fails_ram_rise_naming_the_rise(loaded: Any, _isolated_store: Any) -> None:
    result = loaded.run_cell(f"%%budget --strict ram_rise<=50MiB\ngrown = b'\\x01' * 100_000_000\n{SMALL}")
    error = result.error_in_exec
    assert isinstance(error, BudgetExceeded), result
    found = re.search(r"ram rise ([\d.]+) MiB > 50(\.0)? MiB", str(error))
    assert found, str(error)
    assert 90 <= float(found.group(1)) <= 200, str(error)  # ~95.4 MiB, plus what Python added around it
    record = stored(_isolated_store)[0]
    rise, peak, start = (record.readings[k] for k in ("rss_rise_bytes", "rss_peak_bytes", "rss_start_bytes"))
    # the footer's (+N): the same number, with the peak's method
    assert rise.value == peak.value - start.value and rise.method == peak.method
    assert rise.value >= 95 * MiB


def test_enforce_stops_a_cell_once_its_rise_crosses_the_limit(loaded: Any) -> None:
    assert loaded.run_cell(HOLD_200MB).success  # a kernel already above the limit: only the rise counts
    body = "import time\nparts = []\nfor _ in range(200):\n    parts.append(b'\\x01' * 5_000_000)\n    time.sleep(0.02)"
    result = loaded.run_cell(f"%%budget --enforce ram_rise<=50MiB\n{body}")
    error = result.error_in_exec
    assert isinstance(error, BudgetExceeded) and "stopped by --enforce: ram_rise" in str(error), result
    parts = loaded.user_ns["parts"]
    assert 10 <= len(parts) < 200  # stopped past 50 MiB, long before the loop's 1 GB


def test_the_rise_is_measured_when_the_peak_is() -> None:
    meter = PeakRss()
    meter.probe()
    meter.begin("cell")
    held = b"\x01" * 30_000_000
    readings = meter.end("cell")
    meter.close()
    del held
    rise, peak, start = (readings[k] for k in ("rss_rise_bytes", "rss_peak_bytes", "rss_start_bytes"))
    assert rise.value == peak.value - start.value and rise.method == peak.method and rise.unit == "B"
    assert rise.value >= 28 * MiB


@pytest.mark.parametrize("text, relative", [("ram_rise<=+10%", True), ("ram_rise<=64MiB", False),
                                            ("ram_rise<=last+1GiB", True)])
def test_the_grammar_takes_ram_rise_like_other_keys(text: str, relative: bool) -> None:
    limit = parse_limit(text)
    assert limit.metric.key == "rss_rise_bytes" and limit.relative is relative
