"""``--enforce``: stop a running cell as soon as a limit is crossed.

The watchdog follows, while the cell runs, the metrics the catalog marks
``live`` (wall time, CPU time, peak RAM, RAM rise), each limit resolved to an absolute
threshold when the cell starts (relative ones against the cell's previous run).
When one is crossed it interrupts the main thread (:mod:`nbprofile.engine.interrupt`),
so a ``time.sleep`` or a socket wait is cut short too; a long call into C code
that does not check for signals (one big NumPy or CUDA operation) finishes
first. LLM limits (tokens, dollars) are checked before each model call instead,
by the LLM call guard: a call that would cross one is refused.
"""

from __future__ import annotations

import resource
from collections.abc import Callable
from time import perf_counter_ns
from typing import Any

from nbprofile import llm
from nbprofile.budgets.limits import BudgetSpec, Limit
from nbprofile.engine.interrupt import Watcher
from nbprofile.engine.judge import verdict_for
from nbprofile.engine.profiler import Profiler
from nbprofile.engine.windows import Window
from nbprofile.errors import BudgetExceeded
from nbprofile.format import format_value
from nbprofile.meters.memory import PeakRss

#: how often the watchdog looks at the running totals
WATCH_INTERVAL_S = 0.05

LiveValue = Callable[[], "float | None"]


def _cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def live_values(profiler: Profiler, window: Window) -> dict[str, LiveValue]:
    """How to read each ``live`` metric of a running window, by reading key."""
    cpu0 = _cpu_now()
    values: dict[str, LiveValue] = {
        "wall_s": lambda: (perf_counter_ns() - window.began_ns) / 1e9,
        "cpu_s": lambda: _cpu_now() - cpu0,
    }
    memory = profiler.windows.find(PeakRss)
    if isinstance(memory, PeakRss) and memory.name not in profiler.windows.disabled:
        peak = memory.live_peak

        def rss_peak() -> float | None:
            value = peak()
            return None if value is None else float(value)

        values["rss_peak_bytes"] = rss_peak
        rise = memory.live_rise

        def rss_rise() -> float | None:
            value = rise(window.key)
            return None if value is None else float(value)

        values["rss_rise_bytes"] = rss_rise
    return values


class Watchdog(Watcher):
    """Interrupts the main thread once one of its limits is crossed; refuses LLM calls past theirs."""

    def __init__(self, watch: list[tuple[Limit, float]], values: dict[str, LiveValue],
                 llm_limits: dict[str, Any] | None = None) -> None:
        super().__init__("nbprofile-watchdog", WATCH_INTERVAL_S, once=True)
        self._watch = [(limit, threshold) for limit, threshold in watch if limit.metric.key in values]
        self._values = values
        self.crossed: str | None = None
        self._previous_guard: Any = None
        self._guarding = False
        if llm_limits:
            self._previous_guard = llm.set_call_guard(llm.price_guard(llm_limits, exception=BudgetExceeded))
            self._guarding = True
        if self._watch:
            self.start()

    def look(self) -> bool:
        for limit, threshold in self._watch:
            value = self._values[limit.metric.key]()
            if value is None:
                continue
            if value > threshold if limit.op == "<=" else value >= threshold:
                self.crossed = f"{limit.key} {format_value(value, limit.metric.unit)}"
                return True
        return False

    def stop(self) -> str | None:  # type: ignore[override]
        """Stop watching; return what was crossed, if the watchdog fired."""
        super().stop()
        if self._guarding:
            llm.set_call_guard(self._previous_guard)
            self._guarding = False
        return self.crossed


def start_watchdog(profiler: Profiler, spec: BudgetSpec, window: Window, cell_id: str | None,
                   cell_hash: str) -> Watchdog:
    """Resolve each limit to a threshold now (relative ones against the cell's previous
    run) and start watching those that can be watched live."""
    resolved = verdict_for(profiler, spec, {}, cell_id, cell_hash)
    watch = [(item.limit, item.threshold) for item in resolved.items
             if item.limit.metric.live and item.threshold is not None]
    llm_limits: dict[str, Any] = {}
    for item in resolved.items:
        guarded = item.limit.metric.llm_guard
        if guarded is not None and item.threshold is not None:
            llm_limits[guarded] = ("<", item.threshold) if item.limit.op == "<" else item.threshold
    return Watchdog(watch, live_values(profiler, window), llm_limits)
