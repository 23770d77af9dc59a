"""The Profiler: owns the meters, the current run and the store, and hooks the cells.

Data flows one way (see DESIGN.md): ``pre_run_cell`` opens a window on every
meter, the user's code runs untouched, ``post_run_cell`` closes the window,
turns the readings into a :class:`~nbprofile.record.CellRecord`, judges it
against its budget, commits it, and only then shows the footer.

A profiler fault never reaches the user's cell: every hook catches its own
failures, a meter that raises is switched off for the rest of the run with one
warning, and the record notes which meter failed.
"""

from __future__ import annotations

import atexit
import os
import sys
import time
import warnings
from collections import deque
from dataclasses import dataclass, field
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Callable, Iterable, Literal

from nbprofile.errors import NbprofileWarning, StoreError
from nbprofile.hang_guard import HangGuard, MeterHung
from nbprofile.readings import Availability, Deriver, Reading, Readings
from nbprofile.meters.base import Meter
from nbprofile.record import CellRecord, RunInfo, Status, code_hash, environment_info, new_run_id

if TYPE_CHECKING:
    from IPython.core.interactiveshell import ExecutionInfo, ExecutionResult, InteractiveShell

    from nbprofile.store import RecordStore

FooterMode = Literal["compact", "full", "off"]
#: records kept in memory while the store cannot be written, oldest dropped first
MAX_UNSAVED = 10_000
#: after the store fails, records wait in memory this long before it is tried again
STORE_RETRY_S = 10.0
RUN_ID_ENV = "NBPROFILE_RUN_ID"
#: `nbprofile run --baseline` pins the run that relative limits compare with
BASELINE_ENV = "NBPROFILE_BASELINE_RUN"


@dataclass
class Window:
    """An open measurement window and what it closed with."""

    key: object
    started_at: float
    began_ns: int
    readings: Readings | None = None
    faults: list[str] = field(default_factory=list)
    overhead_ns: int = 0


@dataclass
class CellState:
    """What the profiler knows about the cell that is running."""

    window: Window
    cell_id: str | None
    source: str
    budget: Any = None  # a BudgetSpec, set by %%budget while the cell runs
    body_status: Status | None = None  # set when %%budget ran the body itself
    body_error_type: str | None = None
    verdict: Any = None  # a Verdict, when %%budget --strict judged the cell before it returned
    info: Any = None  # the ExecutionInfo IPython began the cell with; its end carries the same


class Profiler:
    """One per process: measures cells (when hooked into a shell) and ``measure()`` blocks."""

    def __init__(
        self,
        shell: InteractiveShell | None = None,
        *,
        store: RecordStore | None = None,
        meters: Iterable[Meter] | None = None,
        notebook: str | None = None,
        store_factory: Callable[[], RecordStore] | None = None,
    ) -> None:
        self.shell = shell
        self._warned: set[str] = set()
        self._guard = HangGuard()
        self.enabled = True
        self.footer_mode: FooterMode = "compact"
        self.quiet_below_s = 0.0
        from nbprofile import assembly

        self.meters: list[Meter] = list(meters) if meters is not None else assembly.default_meters()
        self.carbon, self.prices = _settings_from_env(self)
        self.derivers: list[Deriver] = []
        self._default_derivers = meters is None  # a profiler given its own meters gets no formulas
        self.availability: dict[str, Availability] = {}
        self.disabled: dict[str, str] = {}  # meter name -> why it was switched off
        for meter in self.meters:
            self.availability[meter.name] = self._probe(meter)
        self._beginning: tuple[Meter, ...] = ()  # the active meters, in begin order
        self._ending: tuple[Meter, ...] = ()  # and in end order
        self.order_meters()
        self.rebuild_derivers()
        self.notebook = notebook if notebook is not None else _notebook_path(shell)
        self.run = RunInfo(
            # `nbprofile run` names the run it starts, to find its records afterwards
            run_id=os.environ.get(RUN_ID_ENV) or new_run_id(), notebook=self.notebook, kernel_id=_kernel_id(),
            started_at=time.time(), nbprofile=_version(),
        )
        self._store = store
        self._store_factory = store_factory
        self._store_error: str | None = None
        self._store_retry_at = 0.0
        self._unsaved: deque[CellRecord] = deque(maxlen=MAX_UNSAVED)
        self._seq = 0
        self._run_described = False  # environment facts are gathered at the first save
        self.cell: CellState | None = None
        self._nested = 0  # cells run from inside the current one, not yet ended
        self.last_record: CellRecord | None = None
        self.session_budget: Any = None  # a budget.SessionBudget, set by %nbprofile budget
        self.baseline_run: str | None = os.environ.get(BASELINE_ENV) or None
        self._hooked = False

    # -- meters --------------------------------------------------------------
    def _probe(self, meter: Meter) -> Availability:
        try:
            return meter.probe()
        except Exception as exc:  # a broken probe must not stop the extension loading
            self.disabled[meter.name] = f"probe failed: {type(exc).__name__}: {exc}"
            return Availability(False, self.disabled[meter.name])

    def rebuild_derivers(self) -> None:
        """Re-make the derived readings' formulas after a setting changed (carbon, prices)."""
        if self._default_derivers:
            from nbprofile.assembly import default_derivers

            self.derivers = default_derivers(self)
        from nbprofile.carbon import carbon_info

        self.run_extra_settings = {"carbon": carbon_info(self.carbon)}

    def order_meters(self) -> None:
        """Fix the begin and end order after the meters or their states changed."""
        self._end_order = self.meters[::-1]
        self._beginning = tuple(m for m in self.meters if m.name not in self.disabled)
        self._ending = self._beginning[::-1]

    def active_meters(self) -> list[Meter]:
        return [m for m in self.meters if m.name not in self.disabled]

    def _fault(self, meter: Meter, stage: str, exc: BaseException, window: Window) -> None:
        reason = f"{meter.name} meter failed in {stage}: {type(exc).__name__}: {exc}"
        self.disabled[meter.name] = reason
        self.order_meters()
        window.faults.append(reason)
        self.warn_once(f"meter:{meter.name}", f"{reason}; it is off for the rest of this run")

    def open_window(self, key: object) -> Window:
        """Begin every active meter; the wall clock (last in the list) begins last."""
        t0 = perf_counter_ns()
        window = Window(key=key, started_at=time.time(), began_ns=t0)
        guard = self._guard if self._guard.active else None
        if guard is not None:
            guard.arm()
        # The meters are called in the loop itself, here and in close_window: a helper call
        # per meter per edge was a fifth of the hooks' own bookkeeping.
        for meter in self._beginning:
            if guard is not None:
                guard.current = meter.name
            try:
                meter.begin(key)
            except (Exception, KeyboardInterrupt) as exc:
                self._meter_raised(meter, "begin", exc, window, guard)
        if guard is not None:
            self._blame(guard.disarm(), "begin", window)
        window.overhead_ns = perf_counter_ns() - t0
        return window

    def _meter_raised(self, meter: Meter, stage: str, exc: BaseException, window: Window,
                      guard: HangGuard | None) -> None:
        """A meter raised, or the guard interrupted it: it is off from now on and the
        cell never sees it. A Ctrl-C the guard did not send is the user's: it goes on up."""
        if isinstance(exc, KeyboardInterrupt):
            if guard is None or guard.take_fire() is None:
                raise exc
            exc = self._hung()
        self._fault(meter, stage, exc, window)

    def _hung(self) -> MeterHung:
        return MeterHung(f"did not answer within {self._guard.timeout_s:g} s and was interrupted")

    def _blame(self, name: str | None, stage: str, window: Window) -> None:
        """A meter finished, but only after the guard's deadline: off for the next cells."""
        meter = next((m for m in self.meters if m.name == name), None)
        if meter is not None and meter.name not in self.disabled:
            self._fault(meter, stage, MeterHung(f"took longer than {self._guard.timeout_s:g} s"), window)

    def close_window(self, window: Window) -> Readings:
        """End every meter (wall clock first) and keep the readings on the window."""
        if window.readings is not None:
            return window.readings
        t0 = perf_counter_ns()
        key = window.key
        readings: Readings = {}
        guard = self._guard if self._guard.active else None
        if guard is not None:
            guard.arm()
        for meter in self._ending:
            if guard is not None:
                guard.current = meter.name
            try:
                ended = meter.end(key)
            except (Exception, KeyboardInterrupt) as exc:
                self._meter_raised(meter, "end", exc, window, guard)
                continue
            if ended:
                readings.update(ended)
        if guard is not None:
            self._blame(guard.disarm(), "end", window)
        if self.disabled:  # off before this window, or since: its readings say why, never a number
            for meter in self._end_order:
                reason = self.disabled.get(meter.name)
                if reason is not None:
                    self._discard(meter, key)
                    for k in meter.keys:
                        readings[k] = Reading.unavailable(_unit_of(k), reason)
        for derive in self.derivers:
            try:
                readings.update(derive(readings))
            except Exception as exc:  # a broken formula must not cost the cell its record
                name = getattr(derive, "__name__", repr(derive))
                window.faults.append(f"{name} failed: {type(exc).__name__}: {exc}")
                self.warn_once(f"deriver:{name}", f"{name} failed: {exc!r}")
        window.readings = readings
        window.overhead_ns += perf_counter_ns() - t0
        return readings

    def discard_window(self, window: Window) -> None:
        for meter in self.meters:
            self._discard(meter, window.key)

    def _discard(self, meter: Meter, key: object) -> None:
        try:
            meter.discard(key)
        except Exception as exc:
            self.warn_once(f"discard:{meter.name}", f"{meter.name} meter failed to discard: {exc}")

    # -- the cell hooks ------------------------------------------------------
    def pre_run_cell(self, info: ExecutionInfo) -> None:
        if not self.enabled:
            return
        if self.cell is not None and not getattr(info, "store_history", True):
            # A cell run from inside the running one (%%capture, %rerun, %edit or the user's
            # own run_cell): part of the outer cell, measured with it, no record of its own.
            self._nested += 1
            return
        try:
            if self.cell is not None:  # the previous cell never reached post_run_cell
                self.discard_window(self.cell.window)
                self._nested = 0
            cell_id = getattr(info, "cell_id", None) or _parent_cell_id(self.shell)
            source = info.raw_cell or ""
            self.cell = CellState(window=self.open_window(object()), cell_id=cell_id, source=source,
                                  info=info)
        except Exception as exc:
            self.cell = None
            self.warn_once("pre_run_cell", f"could not start measuring this cell: {exc!r}")

    def post_run_cell(self, result: ExecutionResult) -> None:
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
        if not self.enabled:
            self.discard_window(cell.window)
            return
        try:
            record = self._finish_cell(cell, result)
        except Exception as exc:
            self.warn_once("post_run_cell", f"could not record this cell: {exc!r}")
            return
        try:
            self.save(record)
        except Exception as exc:  # the store raises StoreError; anything else is ours: warn, go on
            self.warn_once("save", f"could not save this cell's record: {exc!r}")
        self.show_footer(record)
        if self.session_budget is not None:
            self._check_session_budget(record)

    def _check_session_budget(self, record: CellRecord) -> None:
        try:
            events = self.session_budget.add(record.readings)
        except Exception as exc:
            self.warn_once("session-budget", f"could not update the session budget: {exc!r}")
            return
        if events and self.shell is not None:
            text = "\n".join(("⚠ " if e.kind == "warning" else "✗ ") + e.describe() for e in events)
            _publish({"text/plain": text,
                      "text/html": f'<div class="nbprofile-session" style="color: var(--jp-warn-color1, #b26a00)">'
                                   f'{_escape(text)}</div>'})

    def _finish_cell(self, cell: CellState, result: ExecutionResult) -> CellRecord:
        t0 = perf_counter_ns()
        readings = self.close_window(cell.window)
        if cell.body_status is not None:
            status, error_type = cell.body_status, cell.body_error_type
        else:
            status, error_type = _status_of(result)
        execution_count = getattr(result, "execution_count", None)
        record = self._make_record(cell.window, readings, cell.cell_id, cell.source,
                                   execution_count, status, error_type)
        if cell.budget is not None:
            self.judge(record, cell.budget, cell.verdict)
        record.overhead_s = (cell.window.overhead_ns + perf_counter_ns() - t0) / 1e9
        return record

    def _make_record(self, window: Window, readings: Readings, cell_id: str | None, source: str,
                     execution_count: int | None, status: Status, error_type: str | None,
                     name: str | None = None) -> CellRecord:
        self._seq += 1
        return CellRecord(
            run_id=self.run.run_id, seq=self._seq, notebook=self.notebook, cell_id=cell_id,
            execution_count=execution_count, code_hash=code_hash(source), source=source,
            started_at=window.started_at, status=status, error_type=error_type,
            readings=readings, overhead_s=window.overhead_ns / 1e9, name=name,
            notes=list(window.faults),
        )

    def judge(self, record: CellRecord, spec: Any, verdict: Any = None) -> Any:
        """Evaluate a budget for a record (or take ``verdict``) and keep it on the record."""
        from nbprofile.budget_runtime import judge_record

        return judge_record(self, record, spec, verdict)

    # -- the store -----------------------------------------------------------
    @property
    def store(self) -> RecordStore | None:
        """The store, opened on first use; after a failure, tried again every
        :data:`STORE_RETRY_S` (a locked or missing file can come back)."""
        if self._store is None and time.monotonic() >= self._store_retry_at:
            try:
                if self._store_factory is not None:
                    self._store = self._store_factory()
                else:
                    from nbprofile.store import SQLiteStore

                    self._store = SQLiteStore()
                self._store_error = None
            except StoreError as exc:
                self._store_error = str(exc)
                self._store_retry_at = time.monotonic() + STORE_RETRY_S
                self.warn_once("store", f"{exc}; records are kept in memory and written when it works again")
        return self._store

    def save(self, record: CellRecord) -> None:
        """Commit a record (after any that are waiting); keep it in memory if the store fails.

        After a failure the store is left alone for :data:`STORE_RETRY_S`, so that a
        locked database does not make every cell wait for SQLite's busy timeout.
        """
        self.last_record = record
        if not self._run_described:
            self._run_described = True
            self.run.extra.update(environment_info())
            self.run.extra.update(self.run_extra_settings)
            from nbprofile.assembly import gpu_info

            self.run.extra.update(gpu_info(self))
        # Queued behind any records still waiting, so that they are written in order.
        self._unsaved.append(record)
        if time.monotonic() >= self._store_retry_at and self.flush():
            self._store_error = None

    def _store_failed(self, exc: StoreError) -> None:
        self._store_error = str(exc)
        self._store_retry_at = time.monotonic() + STORE_RETRY_S
        self.warn_once("store", f"{exc}; records are kept in memory and written when it works again")

    def flush(self, *, force: bool = False) -> bool:
        """Write the records a failed write left in memory; True when none are left."""
        if not self._unsaved:
            return True
        if force:
            self._store_retry_at = 0.0
        store = self.store  # None while the store cannot be opened (retried later)
        if store is None:
            return False
        try:
            while self._unsaved:
                store.write(self._unsaved[0], self.run)
                self._unsaved.popleft()
        except StoreError as exc:
            self._store_failed(exc)
            return False
        return True

    def save_fallback(self) -> str | None:
        """At exit, records the store never took go to a JSON Lines file beside it
        (or in the temp folder); its path is in the warning. Nothing is lost."""
        if not self._unsaved or self.flush(force=True):
            return None
        import json
        import tempfile

        from nbprofile.store import default_path

        name = f"nbprofile-unsaved-{self.run.run_id}.jsonl"
        lines = "".join(json.dumps({"run": self.run.to_json(), "record": r.to_json()}) + "\n"
                        for r in self._unsaved)
        for folder in (str(default_path().parent), tempfile.gettempdir()):
            path = os.path.join(folder, name)
            try:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(lines)
            except OSError:
                continue
            self._warned.discard("fallback")
            self.warn_once("fallback", f"the record store could not be written ({self._store_error}); "
                                       f"{len(self._unsaved)} records saved to {path}")
            self._unsaved.clear()
            return path
        return None

    @property
    def unsaved(self) -> list[CellRecord]:
        return list(self._unsaved)

    # -- output --------------------------------------------------------------
    def show_footer(self, record: CellRecord) -> None:
        if self.footer_mode == "off" or self.shell is None:
            return
        wall = record.value("wall_s")
        failed = record.verdict_status == "fail"
        if wall is not None and wall < self.quiet_below_s and not failed:
            return
        try:
            from nbprofile.display import footer_bundle, footer_text

            if getattr(self.shell, "kernel", None) is None:
                # A terminal: plain text, printed. display() would also file the footer in
                # IPython 9's output history, one more entry per cell for the whole session.
                print(footer_text(record, self.footer_mode))
            else:
                _publish(footer_bundle(record, self.footer_mode), self.shell)
        except Exception as exc:
            self.warn_once("footer", f"could not show the footer: {exc!r}")

    def warn_once(self, key: str, message: str) -> None:
        if key in self._warned:
            return
        self._warned.add(key)
        warnings.warn(f"nbprofile: {message}", NbprofileWarning, stacklevel=2)

    # -- hooking -------------------------------------------------------------
    def register(self) -> None:
        if self.shell is None or self._hooked:
            return
        self.shell.events.register("pre_run_cell", self.pre_run_cell)
        self.shell.events.register("post_run_cell", self.post_run_cell)
        atexit.register(self.save_fallback)  # records a failed write left in memory, at kernel shutdown
        self._hooked = True

    def unregister(self) -> None:
        if self.shell is not None and self._hooked:
            self.shell.events.unregister("pre_run_cell", self.pre_run_cell)
            self.shell.events.unregister("post_run_cell", self.post_run_cell)
            atexit.unregister(self.save_fallback)
            self._hooked = False
        if self.cell is not None:
            self.discard_window(self.cell.window)
            self.cell = None

    def close(self) -> None:
        self.unregister()
        self._guard.stop()
        self.save_fallback()
        for meter in self.meters:
            try:
                meter.close()
            except Exception as exc:
                self.warn_once(f"close:{meter.name}", f"{meter.name} meter failed to close: {exc}")
        if self._store is not None:
            self._store.close()
            self._store = None


# -- helpers ------------------------------------------------------------------

_UNITS = {"flops": "FLOP", "_per_s": "tokens/s", "_calls": "calls", "_s": "s", "_bytes": "B", "_j": "J", "_g": "g", "_usd": "USD", "_tokens": "tokens",
          "_flops": "FLOP", "_w": "W", "_pct": "%", "_fraction": ""}


def _unit_of(key: str) -> str:
    for suffix, unit in _UNITS.items():
        if key.endswith(suffix):
            return unit
    return ""


def _settings_from_env(profiler: Profiler) -> tuple[Any, Any]:
    """Carbon and price settings from the environment; a bad value warns once and
    falls back to the defaults rather than stopping the extension from loading."""
    from nbprofile.carbon import CarbonConfig
    from nbprofile.compute_cost import ComputePrices

    try:
        carbon = CarbonConfig.from_env()
    except ValueError as exc:
        profiler.warn_once("carbon-env", f"{exc}; using the world average")
        carbon = CarbonConfig()
    try:
        prices = ComputePrices.from_env()
    except ValueError as exc:
        profiler.warn_once("prices-env", f"{exc}; using the default prices")
        prices = ComputePrices()
    return carbon, prices


def _status_of(result: ExecutionResult) -> tuple[Status, str | None]:
    error = result.error_before_exec or result.error_in_exec
    if error is None:
        return "ok", None
    if isinstance(error, KeyboardInterrupt):
        return "interrupted", "KeyboardInterrupt"
    return "error", type(error).__name__


def _publish(bundle: dict[str, str], shell: Any = None) -> None:
    """Show a bundle under the running cell.

    ``display()`` in ipykernel first flushes stdout and stderr, each a round trip
    to the I/O thread (~300 µs) even with nothing to flush. When both streams'
    buffers are empty, everything the cell printed is already queued on that
    thread ahead of this message, so it is sent straight away, in order.
    """
    pub = getattr(shell, "display_pub", None)
    if pub is not None and _streams_idle():
        session, socket = getattr(pub, "session", None), getattr(pub, "pub_socket", None)
        if session is not None and socket is not None:  # else not ipykernel's publisher: display()
            session.send(socket, "display_data", {"data": bundle, "metadata": {}, "transient": {}},
                         parent=pub.parent_header, ident=getattr(pub, "topic", None))
            return
    from IPython.display import display

    display(bundle, raw=True)


def _streams_idle() -> bool:
    """True only when stdout and stderr are ipykernel streams with nothing buffered."""
    for stream in (sys.stdout, sys.stderr):
        buffers, lock = getattr(stream, "_buffers", None), getattr(stream, "_buffer_lock", None)
        if not isinstance(buffers, dict) or lock is None:
            return False  # another ipykernel or a redirect: let display() flush
        with lock:
            if any(buffer.tell() for buffer in buffers.values()):
                return False
    return True


def _escape(text: str) -> str:
    import html

    return html.escape(text).replace("\n", "<br>")


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


def _notebook_path(shell: InteractiveShell | None) -> str | None:
    """The notebook this kernel serves, as the frontend named it at kernel start."""
    path = os.environ.get("JPY_SESSION_NAME")
    if not path and shell is not None:
        ns = shell.user_ns
        path = ns.get("__session__") or ns.get("__vsc_ipynb_file__")
    return str(path) if path else None


def _kernel_id() -> str | None:
    module = sys.modules.get("ipykernel.kernelapp")
    if module is None or not module.IPKernelApp.initialized():
        return None
    name = os.path.basename(module.IPKernelApp.instance().connection_file or "")
    if name.startswith("kernel-") and name.endswith(".json"):  # as jupyter_server names them
        return name[len("kernel-"):-len(".json")]
    return None  # a temporary connection file (nbclient): no id a server would know


def _version() -> str:
    from nbprofile._version import __version__

    return __version__
