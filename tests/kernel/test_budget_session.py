"""Session budgets, nbprofile.budget() for scripts, and %%budget while measuring is off."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

import nbprofile
from nbprofile.errors import BudgetExceeded
from tests.support.store import stored as stored_records


def test_session_budget_warns_at_80_percent_then_reports_every_breach(shell: Any, capsys) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_line_magic("nbprofile", "footer off")
    shell.run_line_magic("nbprofile", "budget time<=0.5s")
    assert "session budget time<=0.5s" in capsys.readouterr().out
    shell.run_cell("import time; time.sleep(0.2)")
    assert capsys.readouterr().out == ""  # 40%: quiet
    shell.run_cell("time.sleep(0.25)")
    out = capsys.readouterr().out
    assert "⚠ session time at 9" in out and "of 500 ms" in out, out
    shell.run_cell("time.sleep(0.1)")
    assert "✗ session budget exceeded: time" in capsys.readouterr().out
    shell.run_cell("pass")
    assert "✗ session budget exceeded" in capsys.readouterr().out  # every breach, not once
    shell.run_line_magic("nbprofile", "budget")
    assert "time" in capsys.readouterr().out
    shell.run_line_magic("nbprofile", "budget off")
    shell.run_cell("pass")
    assert "session" not in capsys.readouterr().out.replace("session budget cleared", "")


@pytest.mark.parametrize(("line", "message"), [
    ("budget time<=+10%", "only fixed limits apply to totals"),
    ("budget --strict time<=1s", "apply to %%budget cells"),
    ("budget time<=3 parsecs", "unknown unit 'parsecs'"),
    ("budget nonsense", "nonsense"),
])
def test_session_budget_misuse(shell: Any, line: str, message: str) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    with pytest.raises(UsageError, match=message):
        shell.run_line_magic("nbprofile", line)
    from nbprofile.ipython.extension import hooks_of

    assert hooks_of(shell).session_budget is None


def test_budget_context_manager(_isolated_store) -> None:
    with nbprofile.budget("time<=5s", "ram<=1GiB", name="step") as b:
        sum(range(1000))
    assert b.verdict is not None and b.verdict.status == "pass"
    with pytest.raises(BudgetExceeded, match=r"budget failed: time .* > 1.00 ms"):
        with nbprofile.budget("time<=1ms", name="slow"):
            sum(range(3_000_000))
    lenient = nbprofile.budget("time<=1ms", strict=False)
    with lenient:
        sum(range(3_000_000))
    assert lenient.verdict.status == "fail"
    stored = stored_records(_isolated_store)
    assert [(r.name, r.verdict_status) for r in stored] == [("step", "pass"), ("slow", "fail"), (None, "fail")]
    with pytest.raises(ValueError, match="unknown budget key 'bogus'"):
        nbprofile.budget("bogus<=1s")


def test_budget_context_manager_enforce_stops_a_loop(_isolated_store) -> None:
    import time

    started = time.perf_counter()
    with pytest.raises(BudgetExceeded, match="stopped by --enforce: time"):
        with nbprofile.budget("time<=0.3s", enforce=True):
            while True:
                pass
    assert 0.3 <= time.perf_counter() - started < 10  # after the limit; an unenforced loop never ends


def test_budget_cell_is_judged_even_while_measuring_is_off(shell: Any, capsys, _isolated_store) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_line_magic("nbprofile", "off")
    capsys.readouterr()
    result = shell.run_cell("%%budget time<=1ms\nsum(range(3_000_000))")
    assert result.result == sum(range(3_000_000))
    assert "✗ time" in capsys.readouterr().out
    (rec,) = stored_records(_isolated_store)
    assert rec.verdict_status == "fail" and rec.source.startswith("%%budget time<=1ms")
