"""Budgets at run time: the ``%%budget`` cell, its live watchdog, session budgets,
and ``nbprofile.budget()`` for scripts.

The grammar and the verdict logic live in :mod:`nbprofile.budget_grammar` (pure); this
module joins them to the profiler: which earlier run a relative limit compares
with, when the cell is judged, and what happens on a failure.
"""

from __future__ import annotations

import ast
import resource
import signal
import threading
from time import perf_counter_ns
from types import TracebackType
from typing import TYPE_CHECKING, Any, Callable, Iterable, Sequence

from IPython.core.error import UsageError

from nbprofile.budget_eval import SessionBudget, Verdict, evaluate
from nbprofile.budget_grammar import BudgetSpec, BudgetSyntaxError, Limit, parse_budget, parse_limits
from nbprofile.errors import BudgetExceeded
from nbprofile.profiler import CellState
from nbprofile.record import CellRecord, code_hash

if TYPE_CHECKING:
    from nbprofile.profiler import Profiler, Window

#: how often the --enforce watchdog looks at the running totals
WATCH_INTERVAL_S = 0.05
#: the keys the watchdog can follow while the cell runs (others are judged at the end)
WATCHABLE = {"time", "cpu", "ram"}
#: limits checked before each LLM call goes out (``cost`` by its LLM part, the part known live)
LLM_GUARDED = {"tokens": "llm_tokens", "input_tokens": "llm_input_tokens",
               "output_tokens": "llm_output_tokens", "llm_cost": "llm_cost_usd", "cost": "llm_cost_usd"}


# -- judging ------------------------------------------------------------------

def judge_record(profiler: Profiler, record: CellRecord, spec: BudgetSpec,
                 verdict: Verdict | None = None) -> Verdict:
    """Evaluate ``spec`` for ``record`` against the same cell's earlier run (unless ``--strict``
    already judged these readings); keep the verdict on it."""
    if verdict is None:
        verdict = verdict_for(profiler, spec, record.readings, record.cell_id, record.code_hash,
                              before_id=record.id)
    record.budget = spec.to_json()
    record.verdict = verdict.to_json()
    record.verdict_status = verdict.status
    return verdict


def verdict_for(profiler: Profiler, spec: BudgetSpec, readings: Any, cell_id: str | None,
                cell_hash: str, before_id: int | None = None) -> Verdict:
    """Judge readings; relative limits compare with the latest earlier run of the same
    cell (by cell id, else by code hash) in the store."""
    previous = baseline = None
    store = profiler.store
    if store is not None and any(limit.relative for limit in spec.limits):
        previous = store.previous(cell_id, cell_hash, profiler.notebook, before_id=before_id)
        if profiler.baseline_run is not None:
            baseline = store.find_in_run(profiler.baseline_run, cell_id, cell_hash)
    anchor = baseline if baseline is not None else previous
    return evaluate(
        spec, readings,
        previous=previous.readings if previous is not None else None,
        baseline=baseline.readings if baseline is not None else None,
        compared_with=_label(anchor),
    )


def _label(record: CellRecord | None) -> str | None:
    if record is None:
        return None
    return f"run {record.run_id} at {record.started_iso[11:19]} UTC"


# -- %%budget -------------------------------------------------------------------

def parse_or_usage_error(line: str) -> BudgetSpec:
    try:
        return parse_budget(line)
    except BudgetSyntaxError as exc:
        raise UsageError(f"%%budget: {exc}") from None


def run_budget_cell(profiler: Profiler, shell: Any, line: str, cell: str) -> Any:
    """Parse the limits (a bad one stops here, before the body runs), run the body,
    judge it, and raise :class:`BudgetExceeded` under ``--strict`` or ``--enforce``."""
    __tracebackhide__ = True
    spec = parse_or_usage_error(line)
    state = profiler.cell
    own_window = state is None
    if state is None:  # measuring is off: measure this one cell anyway, to judge it
        state = CellState(window=profiler.open_window(object()), cell_id=None,
                          source=f"%%budget {line}\n{cell}")
    state.budget = spec
    watchdog = (start_watchdog(profiler, spec, state.window, state.cell_id, code_hash(state.source))
                if spec.enforce else None)
    try:
        value = _run_body(shell, line, cell)
    except KeyboardInterrupt:
        if watchdog is None or watchdog.stop() is None:
            state.body_status, state.body_error_type = "interrupted", "KeyboardInterrupt"
            raise
        crossed = watchdog.crossed
        state.body_status, state.body_error_type = "interrupted", "BudgetExceeded"
        raise BudgetExceeded(
            f"stopped by --enforce: {crossed} (limit {_limit_text(spec, crossed)})"
        ) from None
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
            _finish_own(profiler, state)
    state.body_status = "ok"
    if spec.strict:
        verdict = verdict_for(profiler, spec, state.window.readings or {}, state.cell_id,
                              code_hash(state.source))
        state.verdict = verdict  # the record takes it: no second judgement after the cell
        if verdict.status == "fail":
            failed = "; ".join(item.describe() for item in verdict.failed)
            raise BudgetExceeded(f"budget failed: {failed}")
    return value


def _limit_text(spec: BudgetSpec, crossed: str) -> str:
    key = crossed.split(" ", 1)[0]
    return ", ".join(limit.text for limit in spec.limits if limit.key == key) or crossed


def _finish_own(profiler: Profiler, state: CellState) -> None:
    record = profiler._make_record(state.window, state.window.readings or {}, state.cell_id,
                                   state.source, None, state.body_status or "ok", state.body_error_type)
    judge_record(profiler, record, state.budget)
    profiler.save(record)
    profiler.show_footer(record)


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


# -- the live watchdog ------------------------------------------------------------

class Watchdog:
    """Watches the running cell's time, CPU time and RAM peak, and interrupts the
    main thread when one crosses its limit.

    The interrupt is a real SIGINT aimed at the main thread, so a ``time.sleep``
    or a socket wait is cut short too; a long call into C code that does not
    check for signals (one big NumPy or CUDA operation) finishes first.
    """

    def __init__(self, watch: Sequence[tuple[Limit, float]], window: Window,
                 ram_peak: Callable[[], int | None] | None = None,
                 llm_limits: dict[str, Any] | None = None) -> None:
        self._watch = [(limit, threshold) for limit, threshold in watch
                       if limit.key != "ram" or ram_peak is not None]
        self._window = window
        self._ram_peak = ram_peak
        self._cpu0 = _cpu_now()
        self._done = threading.Event()
        # Held while deciding to interrupt, so that no SIGINT lands after stop() returns.
        self._lock = threading.Lock()
        self.crossed: str | None = None
        self._main = threading.main_thread().ident
        self._previous_guard: Any = None
        self._guarding = False
        if llm_limits:
            from nbprofile import llm

            self._previous_guard = llm.set_call_guard(llm.price_guard(llm_limits, exception=BudgetExceeded))
            self._guarding = True
        if self._watch:
            threading.Thread(target=self._run, name="nbprofile-watchdog", daemon=True).start()

    def _value(self, key: str) -> float | None:
        if key == "time":
            return (perf_counter_ns() - self._window.began_ns) / 1e9
        if key == "cpu":
            return _cpu_now() - self._cpu0
        peak = self._ram_peak() if self._ram_peak is not None else None
        return None if peak is None else float(peak)

    def _run(self) -> None:
        from nbprofile.format import format_value

        while not self._done.wait(WATCH_INTERVAL_S):
            for limit, threshold in self._watch:
                value = self._value(limit.key)
                if value is None:
                    continue
                over = value > threshold if limit.op == "<=" else value >= threshold
                if over:
                    with self._lock:
                        if self._done.is_set():
                            return
                        self.crossed = f"{limit.key} {format_value(value, limit.metric.unit)}"
                        self._done.set()
                        signal.pthread_kill(self._main, signal.SIGINT)  # type: ignore[arg-type]
                    return

    def stop(self) -> str | None:
        """Stop watching; return what was crossed, if the watchdog fired."""
        with self._lock:
            self._done.set()
        if self._guarding:
            from nbprofile import llm

            llm.set_call_guard(self._previous_guard)
            self._guarding = False
        return self.crossed


def start_watchdog(profiler: Profiler, spec: BudgetSpec, window: Window, cell_id: str | None,
                   cell_hash: str) -> Watchdog:
    """Resolve each watchable limit to a threshold now (relative ones against the
    cell's previous run) and start watching."""
    resolved = verdict_for(profiler, spec, {}, cell_id, cell_hash)
    watch = [(item.limit, item.threshold) for item in resolved.items
             if item.limit.key in WATCHABLE and item.threshold is not None]
    llm_limits: dict[str, Any] = {}
    for item in resolved.items:
        key = LLM_GUARDED.get(item.limit.key)
        if key is not None and item.threshold is not None:
            llm_limits[key] = ("<", item.threshold) if item.limit.op == "<" else item.threshold
    return Watchdog(watch, window, _ram_peak(profiler), llm_limits)


def _ram_peak(profiler: Profiler) -> Callable[[], int | None] | None:
    from nbprofile.meters.memory import PeakRss

    for meter in profiler.active_meters():
        if isinstance(meter, PeakRss):
            return meter.live_peak
    return None


def _cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# -- session budgets -------------------------------------------------------------

def session_budget_command(profiler: Profiler, args: list[str]) -> Any:
    """``%nbprofile budget LIMIT ...`` sets, ``%nbprofile budget`` shows, ``... off`` clears."""
    if args == ["off"]:
        profiler.session_budget = None
        print("nbprofile: session budget cleared")
        return None
    if not args:
        budget = profiler.session_budget
        if budget is None:
            print("nbprofile: no session budget; set one with %nbprofile budget energy<=100Wh cost<=$5")
        else:
            print("\n".join(["nbprofile session budget:", *(f"  {s}" for s in budget.status_lines())]))
        return None
    try:
        # the same line grammar as %%budget, so `time<=3 parsecs` reads the same here
        spec = parse_budget(" ".join(args))
        if spec.enforce or spec.strict or spec.name:
            raise BudgetSyntaxError("--enforce, --strict and --name apply to %%budget cells, "
                                    "not to session budgets")
        limits = parse_limits([limit.text for limit in spec.limits], allow_relative=False)
        profiler.session_budget = SessionBudget(limits)
    except BudgetSyntaxError as exc:
        raise UsageError(f"%nbprofile budget: {exc}") from None
    print(f"nbprofile: session budget {' '.join(l.text for l in limits)} "
          "(warns at 80%, reports every breach)")
    return None


# -- the Python API ------------------------------------------------------------------

class budget:
    """``with nbprofile.budget("time<=2s", "ram<=1GiB"): ...`` judges a block.

    With ``strict`` (the default) a failed limit raises :class:`BudgetExceeded`
    when the block ends; ``enforce=True`` stops the block as soon as a time, CPU
    or RAM limit is crossed. ``b.verdict`` holds the result either way.
    """

    def __init__(self, *limits: str, strict: bool = True, enforce: bool = False,
                 name: str | None = None, store: bool = True) -> None:
        self.spec = BudgetSpec(parse_limits(_flatten(limits)), enforce=enforce, strict=strict, name=name)
        # a block has no cell id: its runs match by name (or by its limits)
        self._code_hash = code_hash(name or ",".join(limit.text for limit in self.spec.limits))
        self.name = name
        self.verdict: Verdict | None = None
        self._store = store
        self._measure: Any = None
        self._watchdog: Watchdog | None = None

    def __enter__(self) -> "budget":
        from nbprofile.measure import measure

        self._measure = measure(self.name, store=False).__enter__()
        if self.spec.enforce:
            self._watchdog = start_watchdog(self._measure._profiler, self.spec, self._measure._window,
                                            None, self._code_hash)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> bool:
        crossed = self._watchdog.stop() if self._watchdog is not None else None
        self._measure.__exit__(exc_type, exc, tb)
        record: CellRecord = self._measure.record
        profiler = self._measure._profiler
        record.code_hash = self._code_hash
        self.verdict = judge_record(profiler, record, self.spec)
        if self._store:
            profiler.save(record)
        if crossed is not None and exc_type is KeyboardInterrupt:
            raise BudgetExceeded(f"stopped by --enforce: {crossed}") from None
        if exc_type is None and self.spec.strict and self.verdict.status == "fail":
            raise BudgetExceeded("budget failed: " + "; ".join(i.describe() for i in self.verdict.failed))
        return False

    @property
    def record(self) -> CellRecord | None:
        return None if self._measure is None else self._measure.record


def _flatten(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(item.split())
    return out
