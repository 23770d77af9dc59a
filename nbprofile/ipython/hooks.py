"""The cell hooks: IPython's ``pre_run_cell`` opens a window, ``post_run_cell`` records it.

Data flows one way: ``pre_run_cell`` opens a window on every meter, the user's
code runs untouched, ``post_run_cell`` closes the window, turns the readings into
a record, judges it against its budget, keeps it, and only then shows the footer.
A profiler fault never reaches the user's cell: each hook catches its own
failures (IPython would print a traceback after every cell otherwise).

A cell run from inside the running one (``%%capture``, ``%rerun``, ``%edit`` or
the user's own ``run_cell``) is part of the outer cell: measured with it, with no
record of its own.

The cell is never touched: in a forked child (``os.fork()`` in a cell, then back
in IPython) the hooks do nothing; and a Ctrl-C that lands while the hooks
themselves run is held back and dropped, as plain IPython drops one that comes
after a cell has finished (otherwise IPython would print "Error in callback" and
a traceback under a cell that succeeded, and lose its footer).
"""

from __future__ import annotations

import _signal  # type: ignore[import-not-found]  # signal without the enum wrapping (see _hold_interrupts)
import atexit
import threading
from dataclasses import dataclass
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Literal

from nbprofile.budgets.evaluate import Verdict
from nbprofile.budgets.limits import BudgetSpec, Limit
from nbprofile.budgets.session import SessionBudget
from nbprofile.engine.judge import judge_record
from nbprofile.engine.profiler import Profiler
from nbprofile.engine.windows import Window
from nbprofile.ipython.channel import FrontendChannel
from nbprofile.ipython.display import clear_display, publish, show_footer
from nbprofile.ipython.live import LiveDisplay
from nbprofile.record import CellRecord, Status
from nbprofile.report.compare import is_own_magic

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

FooterMode = Literal["compact", "full", "off"]
_SIGINT = int(_signal.SIGINT)
_MAIN_THREAD = threading.main_thread().ident


@dataclass
class CellState:
    """What the hooks know about the cell that is running."""

    window: Window
    cell_id: str | None
    source: str
    budget: BudgetSpec | None = None  # set by %%budget while the cell runs
    body_status: Status | None = None  # set when %%budget ran the body itself
    body_error_type: str | None = None
    verdict: Verdict | None = None  # when %%budget --strict judged the cell before it returned
    info: Any = None  # the ExecutionInfo IPython began the cell with; its end carries the same


class CellHooks:
    """One per shell: measures every cell of it with one :class:`Profiler`."""

    def __init__(self, shell: InteractiveShell, profiler: Profiler) -> None:
        self.shell = shell
        self.profiler = profiler
        self.enabled = True
        self.footer_mode: FooterMode = "compact"
        self.quiet_below_s = 0.0
        self.session_budget: SessionBudget | None = None  # set by %nbprofile budget
        self.cell: CellState | None = None
        self.last_user_record: CellRecord | None = None  # the last cell not running an nbprofile magic
        self._nested = 0  # cells run from inside the current one, not yet ended
        self._hooked = False
        #: the comm to a frontend that draws footers itself (JupyterLab with the extension)
        self.channel = FrontendChannel(shell)
        #: the running cell's numbers under it, once it has run two seconds
        self.live = LiveDisplay(shell, self.channel)
        if getattr(shell, "kernel", None) is not None:
            profiler.live.listener = self.live
            profiler.live.limits = self._running_limits
            profiler.live.enforce_projected = self._enforce_projected

    # -- the hooks -----------------------------------------------------------
    def pre_run_cell(self, info: ExecutionInfo) -> None:
        if not self.enabled or not self.profiler.recorder.in_parent:
            return
        if self.cell is not None and not getattr(info, "store_history", True):
            self._nested += 1  # part of the outer cell, measured with it
            return
        previous = self._hold_interrupts()
        try:
            self._pre_run_cell(info)
        finally:
            _release_interrupts(previous)

    def _pre_run_cell(self, info: ExecutionInfo) -> None:
        try:
            if self.cell is not None:  # the previous cell never reached post_run_cell
                self.profiler.discard_window(self.cell.window)
                self.profiler.cell_dropped()
                self._nested = 0
            cell_id = getattr(info, "cell_id", None) or _parent_cell_id(self.shell)
            source = info.raw_cell or ""
            window = self.profiler.open_window(object())
            self.cell = CellState(window=window, cell_id=cell_id, source=source, info=info)
            self.live.begin(cell_id)
            self.profiler.cell_started(window, cell_id, source, _count_of_running_cell(self.shell),
                                       sample=NO_HOTSPOTS not in source)
        except Exception as exc:
            self.cell = None
            self.profiler.warn_once("pre_run_cell", f"could not start measuring this cell: {exc!r}")

    def post_run_cell(self, result: ExecutionResult) -> None:
        if self.cell is None or not self.profiler.recorder.in_parent:
            return
        previous = self._hold_interrupts()
        try:
            self._post_run_cell(result)
        finally:
            _release_interrupts(previous)

    def _held(self, signum: int, frame: object) -> None:
        """SIGINT while the hooks run: dropped, unless the hang guard sent it (a meter hung)."""
        if self.profiler.windows.guard.sent_interrupt:
            raise KeyboardInterrupt

    def _hold_interrupts(self) -> Any:
        """Install :meth:`_held` for the hooks' own work; return the handler to put back (None:
        nothing was changed). ``_signal`` rather than ``signal``: the latter wraps every handler
        in an enum, three times a hook (a fifth of the hooks' own time)."""
        if threading.get_ident() != _MAIN_THREAD:
            return None
        previous = _signal.getsignal(_SIGINT)
        if not callable(previous):  # ignored or default: nothing to hold back
            return None
        _signal.signal(_SIGINT, self._held)
        return previous

    def _post_run_cell(self, result: ExecutionResult) -> None:
        cell = self.cell
        if cell is None:
            return  # measurement was off when the cell started, or this cell loaded us
        info = getattr(result, "info", None)
        if info is not cell.info:  # not the end of the cell we opened, unless IPython rebuilt its info
            if self._nested:
                self._nested -= 1  # the end of a cell run from inside it
                return
            raw = getattr(info, "raw_cell", None)
            if isinstance(raw, str) and not raw.strip():
                return  # an empty inner run_cell: IPython skips its pre_run_cell, not its post
        self.cell = None
        stopped_by_guard = self.profiler.cell_ended()
        if not self.enabled:
            self.profiler.discard_window(cell.window)
            self.profiler.cell_dropped()
            return
        try:
            record = self._finish(cell, result)
        except Exception as exc:
            self.profiler.warn_once("post_run_cell", f"could not record this cell: {exc!r}")
            return
        if stopped_by_guard is not None:
            record.notes.append(stopped_by_guard)
        if not is_own_magic(record.source):
            self.last_user_record = record
        try:
            self.profiler.save(record, ends_cell=True)
        except Exception as exc:  # nothing here should raise; if it does, it is ours: warn, go on
            self.profiler.warn_once("save", f"could not save this cell's record: {exc!r}")
        self.show_footer(record)
        if stopped_by_guard is not None:  # the KeyboardInterrupt above it needs its reason
            publish(self.shell, f"⚠ {stopped_by_guard}", css_class="nbprofile-oom-guard",
                    style="color: var(--jp-warn-color1, #b26a00)")
        if self.session_budget is not None:
            self._check_session_budget(record)

    def _finish(self, cell: CellState, result: ExecutionResult) -> CellRecord:
        self.profiler.close_window(cell.window)  # its own time goes on the window's overhead
        t0 = perf_counter_ns()
        if cell.body_status is not None:
            status, error_type = cell.body_status, cell.body_error_type
        else:
            status, error_type = _status_of(result)
        record = self.profiler.record(cell.window, cell_id=cell.cell_id, source=cell.source, status=status,
                                      error_type=error_type,
                                      execution_count=getattr(result, "execution_count", None))
        if cell.budget is not None:
            judge_record(self.profiler, record, cell.budget, cell.verdict)
        record.overhead_s = (cell.window.overhead_ns + perf_counter_ns() - t0) / 1e9
        return record

    def show_footer(self, record: CellRecord) -> None:
        live_output = self.live.take_display_id()  # the running cell's numbers: the footer replaces them
        wall = record.value("wall_s")
        failed = record.verdict_status == "fail"
        try:
            if self.footer_mode == "off" or (wall is not None and wall < self.quiet_below_s and not failed):
                if live_output is not None:
                    clear_display(self.shell, live_output)
                return
            show_footer(self.shell, record, self.footer_mode, self.channel, replace=live_output)
        except Exception as exc:
            self.profiler.warn_once("footer", f"could not show the footer: {exc!r}")

    def _check_session_budget(self, record: CellRecord) -> None:
        assert self.session_budget is not None
        try:
            events = self.session_budget.add(record.readings)
        except Exception as exc:
            self.profiler.warn_once("session-budget", f"could not update the session budget: {exc!r}")
            return
        if events:
            text = "\n".join(("⚠ " if e.kind == "warning" else "✗ ") + e.describe() for e in events)
            publish(self.shell, text, css_class="nbprofile-session",
                    style="color: var(--jp-warn-color1, #b26a00)")

    def _running_limits(self) -> tuple[Limit, ...]:
        """The running cell's %%budget limits (the live view's thread reads them)."""
        cell = self.cell
        return cell.budget.limits if cell is not None and cell.budget is not None else ()

    def _enforce_projected(self) -> bool:
        cell = self.cell
        return cell is not None and cell.budget is not None and cell.budget.projected

    # -- hooking -------------------------------------------------------------
    def register(self) -> None:
        if self._hooked:
            return
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        # what the writer has not written yet, at kernel shutdown
        atexit.register(self.profiler.recorder.finish)
        self._hooked = True
        try:
            self.channel.open()
        except Exception as exc:  # a kernel without comms (an old or foreign one): footers stay outputs
            self.profiler.warn_once("channel", f"could not open nbprofile's channel to the frontend: {exc!r}")

    def unregister(self) -> None:
        if self._hooked:
            self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
            atexit.unregister(self.profiler.recorder.finish)
            self._hooked = False
            self.channel.close()
            if self.profiler.live.listener is self.live:
                self.profiler.live.listener = None
        if self.cell is not None:
            self.profiler.discard_window(self.cell.window)
            self.profiler.cell_dropped()
            self.cell = None


#: a comment that keeps one cell out of the hot-spot sampler
NO_HOTSPOTS = "nbprofile: no-hotspots"


def _status_of(result: ExecutionResult) -> tuple[Status, str | None]:
    error = result.error_before_exec or result.error_in_exec
    if error is None:
        return "ok", None
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", "KeyboardInterrupt"
    return "error", type(error).__name__


def _release_interrupts(previous: Any) -> None:
    if previous is not None:
        _signal.signal(_SIGINT, previous)


def _count_of_running_cell(shell: InteractiveShell) -> int | None:
    """The execution count the frontend shows for the cell starting now. IPython 9 adds one to
    ``execution_count`` before ``pre_run_cell``, older versions after it; the input history,
    stored after ``pre_run_cell`` in both and holding a blank first entry, is as long as the
    count of the cell about to be stored."""
    history = getattr(getattr(shell, "history_manager", None), "input_hist_raw", None)
    if isinstance(history, list) and history:
        return len(history)
    count = getattr(shell, "execution_count", None)
    return count if isinstance(count, int) else None


def _parent_cell_id(shell: InteractiveShell | None) -> str | None:
    """The ``cellId`` JupyterLab puts in the execute request (older IPython lacks ``info.cell_id``)."""
    kernel = getattr(shell, "kernel", None)
    if kernel is None:
        return None
    try:
        parent = kernel.get_parent()
    except Exception:  # no request in flight (e.g. a comm message); nothing to read
        return None
    metadata = parent.get("metadata") if isinstance(parent, dict) else None
    cell_id = metadata.get("cellId") if isinstance(metadata, dict) else None
    return cell_id if isinstance(cell_id, str) else None
