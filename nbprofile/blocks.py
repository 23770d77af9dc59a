"""``measure()`` and ``budget()`` blocks: the profiler for scripts, tests and code inside cells.

A block opens its own window on the same meters as the cells, so it works inside
a profiled cell too (the cell's peak RSS stays exact), and its record goes to
the same store and run::

    with nbprofile.measure("step") as m:
        train()
    m.value("wall_s")

    with nbprofile.budget("time<=2s", "ram<=1GiB"):
        evaluate()
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from types import TracebackType
from typing import Any

from nbprofile.budgets.evaluate import Verdict
from nbprofile.budgets.grammar import BudgetSpec, parse_limits
from nbprofile.engine.current import process_profiler
from nbprofile.engine.interrupt import absorb_pending_interrupt, make_sigint_raise, restore_sigint
from nbprofile.engine.judge import judge_record
from nbprofile.engine.profiler import Profiler
from nbprofile.engine.watchdog import Watchdog, start_watchdog
from nbprofile.engine.windows import Window
from nbprofile.errors import BudgetExceeded, NbprofileError
from nbprofile.record import CellRecord, Status, code_hash
from nbprofile.report.footer import footer_text


class measure:
    """Measure a block of code like a cell.

    ``store=False`` keeps the record off the store (it is still on ``m.record``).
    An exception inside the block is recorded (status ``error``) and re-raised.
    """

    def __init__(self, name: str | None = None, *, store: bool = True) -> None:
        self.name = name
        self.store = store
        self.record: CellRecord | None = None
        self.profiler: Profiler | None = None
        self.window: Window | None = None

    def __enter__(self) -> measure:
        self.profiler = process_profiler()
        self.window = self.profiler.open_window(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        profiler, window = self.profiler, self.window
        assert profiler is not None and window is not None, "measure() exited without entering"
        status: Status = "ok"
        if exc_type is not None:
            status = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "error"
        self.record = profiler.record(window, cell_id=None, source=self.name or "", status=status,
                                      error_type=exc_type.__name__ if exc_type is not None else None,
                                      name=self.name)
        if self.store:
            profiler.save(self.record)

    def value(self, key: str) -> float | None:
        """A reading's value (``m.value("wall_s")``), ``None`` if unavailable or not yet measured."""
        return None if self.record is None else self.record.value(key)

    def __repr__(self) -> str:
        if self.record is None:
            return f"measure({self.name!r}) (running)"
        return f"measure({self.name!r}): {footer_text(self.record)}"


class budget:
    """``with nbprofile.budget("time<=2s", "ram<=1GiB"): ...`` judges a block.

    With ``strict`` (the default) a failed limit raises :class:`BudgetExceeded`
    when the block ends; ``enforce=True`` stops the block as soon as a time, CPU
    or RAM limit is crossed. ``b.verdict`` holds the result either way.

    ``enforce=True`` stops the block with a SIGINT, so it needs the main thread; where
    SIGINT is ignored (a script started under ``nohup`` or with ``&``) the block makes it
    raise ``KeyboardInterrupt`` for its duration and puts the old handler back after.
    """

    def __init__(self, *limits: str, strict: bool = True, enforce: bool = False,
                 name: str | None = None, store: bool = True) -> None:
        self.spec = BudgetSpec(parse_limits(_flatten(limits)), enforce=enforce, strict=strict, name=name)
        # a block has no cell id: its runs match by name (or by its limits)
        self._code_hash = code_hash(name or ",".join(limit.text for limit in self.spec.limits))
        self.name = name
        self.verdict: Verdict | None = None
        self._store = store
        self._measure: measure | None = None
        self._watchdog: Watchdog | None = None
        self._sigint: Any = None  # the SIGINT handler to put back when the block ends

    def __enter__(self) -> budget:
        if self.spec.enforce:
            if threading.current_thread() is not threading.main_thread():
                # the watchdog stops a block with a SIGINT, which only the main thread receives
                raise NbprofileError(
                    f"nbprofile.budget(enforce=True) needs the main thread, not "
                    f"{threading.current_thread().name!r}: use enforce=False here (the block is "
                    "still judged when it ends), or run the block on the main thread")
            self._sigint = make_sigint_raise()
        try:
            self._measure = measure(self.name, store=False).__enter__()
            if self.spec.enforce:
                assert self._measure.profiler is not None and self._measure.window is not None
                self._watchdog = start_watchdog(self._measure.profiler, self.spec, self._measure.window,
                                                None, self._code_hash)
        except BaseException:
            self._put_back_sigint(crossed=False)
            raise
        return self

    def _put_back_sigint(self, *, crossed: bool) -> None:
        if self._sigint is None:
            return
        if crossed:  # an interrupt sent as the block ended surfaces here, not as a stray signal
            absorb_pending_interrupt()
        restore_sigint(self._sigint)
        self._sigint = None

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        assert self._measure is not None, "budget() exited without entering"
        crossed = self._watchdog.stop() if self._watchdog is not None else None
        self._put_back_sigint(crossed=crossed is not None and exc_type is not KeyboardInterrupt)
        self._measure.__exit__(exc_type, exc, tb)
        record, profiler = self._measure.record, self._measure.profiler
        assert record is not None and profiler is not None
        record.code_hash = self._code_hash
        self.verdict = judge_record(profiler, record, self.spec)
        if self._store:
            profiler.save(record)
        if crossed is not None and exc_type is KeyboardInterrupt:
            raise BudgetExceeded(f"stopped by --enforce: {crossed}") from None
        if exc_type is None and self.spec.strict and self.verdict.status == "fail":
            raise BudgetExceeded("budget failed: " + "; ".join(i.describe() for i in self.verdict.failed))

    @property
    def record(self) -> CellRecord | None:
        return None if self._measure is None else self._measure.record


def _flatten(items: Iterable[str]) -> list[str]:
    out: list[str] = []
    for item in items:
        out.extend(item.split())
    return out
