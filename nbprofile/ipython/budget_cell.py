"""``%%budget``: run a cell's body under limits and judge it.

A bad limit is a one-line ``UsageError`` raised before the body runs. The body
runs in the user's namespace the way IPython runs a cell, ``--enforce`` starts
the watchdog (:mod:`nbprofile.engine.watchdog`) for the body's time, and
``--strict`` raises :class:`~nbprofile.errors.BudgetExceeded` after it when a
limit failed; the record is kept with its verdict either way.
"""

from __future__ import annotations

import ast
import linecache
from types import TracebackType
from typing import Any

from IPython.core.error import UsageError

from nbprofile.budgets.limits import BudgetSpec, BudgetSyntaxError
from nbprofile.engine.judge import judge_record, verdict_for
from nbprofile.engine.watchdog import start_watchdog
from nbprofile.errors import BudgetExceeded
from nbprofile.ipython.hooks import CellHooks, CellState
from nbprofile.record import code_hash


def parse_or_usage_error(line: str) -> BudgetSpec:
    from nbprofile.budgets.grammar import parse_budget  # with the first %%budget cell, not at %load_ext

    try:
        return parse_budget(line)
    except BudgetSyntaxError as exc:
        raise UsageError(f"%%budget: {exc}") from None


def run_budget_cell(hooks: CellHooks, line: str, cell: str) -> Any:
    """Parse the limits (a bad one stops here, before the body runs), run the body,
    judge it, and raise :class:`BudgetExceeded` under ``--strict`` or ``--enforce``."""
    __tracebackhide__ = True
    spec = parse_or_usage_error(line)
    profiler = hooks.profiler
    state = hooks.cell
    own_window = state is None
    if state is None:  # measuring is off: measure this one cell anyway, to judge it
        state = CellState(window=profiler.open_window(object()), cell_id=None,
                          source=f"%%budget {line}\n{cell}")
    state.budget = spec
    watchdog = (start_watchdog(profiler, spec, state.window, state.cell_id, code_hash(state.source))
                if spec.enforce else None)
    try:
        value = _run_body(hooks.shell, line, cell)
    except KeyboardInterrupt as exc:
        projected = profiler.live.take_stop() if spec.projected else None
        if projected is not None:
            if watchdog is not None:
                watchdog.stop()
            state.body_status, state.body_error_type = "interrupted", "BudgetExceeded"
            stopped = BudgetExceeded(f"stopped by --enforce=projected: {projected}")
            stopped.where = _users_line(hooks.shell, exc.__traceback__)
            raise stopped from None
        if watchdog is None or watchdog.stop() is None:
            state.body_status, state.body_error_type = "interrupted", "KeyboardInterrupt"
            raise
        crossed = watchdog.crossed or ""
        state.body_status, state.body_error_type = "interrupted", "BudgetExceeded"
        stopped = BudgetExceeded(f"stopped by --enforce: {crossed} (limit {_limit_text(spec, crossed)})")
        stopped.where = _users_line(hooks.shell, exc.__traceback__)
        raise stopped from None
    except BudgetExceeded:  # the LLM call guard refused the next call
        state.body_status, state.body_error_type = "interrupted", "BudgetExceeded"
        raise
    except BaseException as exc:
        state.body_status, state.body_error_type = "error", type(exc).__name__
        raise
    finally:
        if watchdog is not None:
            watchdog.stop()
        profiler.close_window(state.window)
        if own_window:
            _finish_own(hooks, state)
    state.body_status = "ok"
    if spec.strict:
        verdict = verdict_for(profiler, spec, state.window.readings or {}, state.cell_id,
                              code_hash(state.source))
        state.verdict = verdict  # the record takes it: no second judgement after the cell
        if verdict.status == "fail":
            failed = "; ".join(item.describe() for item in verdict.failed)
            raise BudgetExceeded(f"budget failed: {failed}")
    return value


def _users_line(shell: Any, tb: TracebackType | None) -> str | None:
    """The last line of the cell's own code in a traceback ("Cell In[3], line 5: time.sleep(1)"):
    where the user's loop was when --enforce stopped it."""
    found = None
    while tb is not None:
        code = tb.tb_frame.f_code
        name = shell.compile.format_code_name(code.co_filename) if hasattr(shell.compile, "format_code_name") else None
        if name is not None:
            found = (f"{name[0]} {name[1]}", code.co_filename, tb.tb_lineno)
        tb = tb.tb_next
    if found is None:
        return None
    label, filename, line = found
    text = linecache.getline(filename, line).strip()
    # the body is cached with a blank first line for the %%budget line, so its numbers are the cell's
    return f"{label}, line {line}: {text}" if text else f"{label}, line {line}"


def _limit_text(spec: BudgetSpec, crossed: str) -> str:
    key = crossed.split(" ", 1)[0]
    return ", ".join(limit.text for limit in spec.limits if limit.key == key) or crossed


def _finish_own(hooks: CellHooks, state: CellState) -> None:
    """The record of a %%budget cell run while measuring was off."""
    profiler = hooks.profiler
    record = profiler.record(state.window, cell_id=state.cell_id, source=state.source,
                             status=state.body_status or "ok", error_type=state.body_error_type)
    assert state.budget is not None
    judge_record(profiler, record, state.budget)
    profiler.save(record)
    hooks.show_footer(record)


def _run_body(shell: Any, line: str, cell: str) -> Any:
    """Run the cell body in the user's namespace the way IPython runs a cell: the
    value of a last bare expression is returned (and shown as ``Out``), and
    tracebacks point at the body's real lines in the cell."""
    __tracebackhide__ = True
    source = shell.transform_cell(cell)
    raw = f"%%budget {line}\n{cell}"
    # Cache under the number IPython gave this cell, so tracebacks say "Cell In[n]".
    # IPython 9.18 counts the next cell before this one runs, 8.x after: the
    # running cell's own ExecutionResult is the one number right in both.
    running = getattr(shell.displayhook, "exec_result", None)
    count = getattr(running, "execution_count", None)
    if count is None:
        count = shell.execution_count
    filename = shell.compile.cache(f"\n{source}", count, raw_code=raw)
    tree = shell.compile.ast_parse(f"\n{source}", filename=filename)
    tree = shell.transform_ast(tree)
    last = None
    if tree.body and isinstance(tree.body[-1], ast.Expr):
        last = ast.Expression(tree.body.pop().value)
    exec(shell.compile(tree, filename, "exec"), shell.user_global_ns, shell.user_ns)
    if last is not None:
        return eval(shell.compile(last, filename, "eval"), shell.user_global_ns, shell.user_ns)
    return None
