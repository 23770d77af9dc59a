"""Whole-number arguments of ``%nbprofile`` and of the ``nbprofile`` command are bounded: a number
too large for the store is a one-line usage error, never an OverflowError traceback."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

from nbprofile.cli.main import main

HUGE = "99999999999999999999999"


@pytest.mark.parametrize(("line", "message"), [
    (f"history {HUGE}", f"{HUGE} is out of range: use a whole number up to 1,000,000"),
    (f"history -{HUGE}", "is out of range"),
    (f"history {'9' * 5000}", "is out of range"),
    ("history 1000001", "1000001 is out of range"),
    ("history 2.5", "'2.5' is not a whole number"),
    ("history ５", "'５' is not a whole number"),
    ("history 0", "N must be a positive number"),
])
def test_history_counts_are_bounded(shell: Any, line: str, message: str) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("nbprofile", line)
    text = str(info.value)
    assert message in text and "\n" not in text.strip()
    assert text.startswith("%nbprofile history: argument N: ") or "positive" in text


def test_the_largest_count_still_lists(shell: Any) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_cell("x = 1")
    table = shell.run_line_magic("nbprofile", "history 1000000")
    assert [r.source for r in table.records] == ["x = 1"]


@pytest.mark.parametrize(("argv", "message"), [
    (["runs", "--limit", HUGE], f"argument --limit: {HUGE} runs is out of range: use 1 to 1,000,000"),
    (["runs", "--limit", "-5"], "argument --limit: -5 runs is out of range"),
    (["runs", "--limit", "0"], "argument --limit: 0 runs is out of range"),
    (["runs", "--width", HUGE], "argument --width: 99999999999999999999999 columns is out of range: use 40 to"),
    (["compare", "--width", "9" * 5000], "columns is out of range"),
    (["doctor", "--width", "20"], "argument --width: 20 columns is out of range: use 40 to 10,000"),
    (["run", "nb.ipynb", "--timeout", "nan"], "argument --timeout: nan: a timeout is a finite number"),
    (["run", "nb.ipynb", "--timeout", "inf"], "argument --timeout: inf: a timeout is a finite number"),
])
def test_cli_numbers_are_bounded(capsys: pytest.CaptureFixture[str], argv: list[str], message: str) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    out, err = capsys.readouterr()
    assert info.value.code == 2 and out == ""
    last = err.strip().splitlines()[-1]
    assert last.startswith(f"nbprofile {argv[0]}: error: ") and message in last, err
    assert "Traceback" not in err


def test_cli_counts_in_range_work(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["runs", "--limit", "1000000", "--width", "10000"]) == 0
    assert "no runs stored" in capsys.readouterr().out
