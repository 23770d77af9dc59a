"""The live view of a running cell: its numbers once a second, once it has run two seconds.

Driven by the OOM guard's parked thread (its once-a-second heartbeat), so a long cell costs
one look at ``getrusage`` and at its progress bars a second, and a trivial cell nothing but
:meth:`LiveView.begin`'s single ``getrusage`` and note of the bars already open. When the cell
drives a progress bar (tqdm, rich), the numbers say where it will end and which budget limits
that breaks (:mod:`nbprofile.engine.progress`); without one, no projection is made up.

Energy, CO2e and dollars are projected from the same readings and formulas as the cell's record:
the meters that can say what an open window has measured so far (``Meter.so_far``: the CPU
energy; each GPU's mean power so far x time), then the profiler's derivers (total energy, CO2e, dollars).
On a machine with GPUs the dollars projected are the LLM calls' only: a GPU's hourly price is
charged by the GPU time the record measures at the cell's end, which is not known before it.

The listener (the IPython layer) shows the numbers under the cell; it is called under this
view's lock, so once :meth:`LiveView.end` returns no late update can land after the cell's footer.
"""

from __future__ import annotations

import resource
import threading
from collections.abc import Callable, Sequence
from time import perf_counter_ns

from nbprofile.budgets.limits import Limit
from nbprofile.engine.interrupt import interrupt_main_thread
from nbprofile.engine.progress import ProgressWatcher, describe, will_break
from nbprofile.engine.windows import Window
from nbprofile.llm.ledger import LEDGER, Totals
from nbprofile.readings import Reading, Readings
from nbprofile.record import LiveNumbers

#: a cell shorter than this never shows live numbers
LIVE_AFTER_S = 2.0
#: projections a record keeps (one a second; thinned to every other one past this)
MAX_PROJECTIONS = 64

LiveListener = Callable[[LiveNumbers], None]


def _cpu_now() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


class LiveView:
    """Follows the running cell for its listener; nothing at all without one."""

    def __init__(self) -> None:
        self.listener: LiveListener | None = None
        #: the cell's progress bars (tqdm, rich), for a projection of where it will end
        self.progress = ProgressWatcher()
        #: the running cell's budget limits, for saying early which ones the projection breaks
        self.limits: Callable[[], Sequence[Limit]] = tuple
        #: each GPU's energy since the running window began, by index ({} when NVML cannot say)
        self.gpu_energy: Callable[[Window], dict[int, float]] = lambda window: {}
        self._gpu_last: dict[int, float] = {}
        #: the running window's readings until now, completed by the derivers (energy_j, co2_g,
        #: cost_usd): given what the view measured itself (wall, GPU energy, LLM dollars)
        self.so_far: Callable[[Window, Readings], Readings] | None = None
        #: why the projection's energy and dollars were switched off (``so_far`` raised)
        self.so_far_failure: str | None = None
        #: whether the running cell asked to be stopped once a limit is projected to break
        #: (``--enforce=projected``)
        self.enforce_projected: Callable[[], bool] = bool
        #: what the projection said when it stopped the running cell (taken by :meth:`take_stop`)
        self._stopped_by: str | None = None
        #: why the listener was switched off (it raised); the cells go on without live numbers
        self.failure: str | None = None
        self._lock = threading.Lock()
        self._window: Window | None = None
        self._cpu0 = 0.0
        self._llm0 = Totals()  # the LLM ledger's running totals when the cell began
        self._last = (0.0, 0)  # (CPU seconds, perf_counter_ns) at the previous look
        #: [seconds into the cell, fraction done, final time low, mid, high] of each projection
        self._projected: list[list[float]] = []

    def begin(self, window: Window) -> None:
        if self.listener is None:
            return
        cpu = _cpu_now()
        llm0 = LEDGER.totals()  # a tuple read: O(1)
        self.progress.begin()
        with self._lock:
            self._llm0 = llm0
            self._window, self._cpu0, self._last = window, cpu, (cpu, window.began_ns)
            self._projected, self._stopped_by, self._gpu_last = [], None, {}

    def end(self) -> list[list[float]]:
        """The cell is over: no more updates; what its progress bar projected, and when."""
        with self._lock:
            if self._window is not None:
                self.progress.end()
            self._window = None
            projected, self._projected = self._projected, []
        return projected

    def take_stop(self) -> str | None:
        """Why the projection stopped the running cell (``time<=3min will be exceeded at ≈ …``), once."""
        with self._lock:
            stopped, self._stopped_by = self._stopped_by, None
        return stopped

    def _totals(self, window: Window, elapsed: float, gpu_energy: dict[int, float],
                llm_cost: float | None) -> dict[str, float | None]:
        """Energy, CO2e and dollars so far, for the projection: None for each one not known."""
        measured: Readings = {"wall_s": Reading(elapsed, "s", "measured", "clock")}
        if gpu_energy:
            measured["gpu_energy_j"] = Reading(sum(gpu_energy.values()), "J", "sampled",
                                               "NVML mean power so far x time")
        if llm_cost is not None:
            measured["llm_cost_usd"] = Reading(llm_cost, "USD", "measured", "nbprofile.llm")
        readings: Readings = {}
        if self.so_far is not None:
            try:
                readings = self.so_far(window, measured)
            except Exception as exc:  # a meter's read failed: the projection goes on with time alone
                self.so_far = None
                self.so_far_failure = f"the projection's energy and dollars were switched off: {exc!r}"
        totals: dict[str, float | None] = {}
        for key in ("energy_j", "co2_g", "cost_usd"):
            reading = readings.get(key)
            totals[key] = reading.value if reading is not None else None
        if gpu_energy:  # the GPU-hours are charged at the end (see the module docstring)
            totals["cost_usd"] = llm_cost
        elif not readings:
            totals["cost_usd"] = llm_cost
        return totals

    def tick(self, rss_peak: int | None, rss_now: int | None) -> None:
        """From the OOM guard's thread, about once a second while a cell runs."""
        with self._lock:
            window, listener = self._window, self.listener
            if window is None or listener is None:
                return
            now = perf_counter_ns()
            elapsed = (now - window.began_ns) / 1e9
            if elapsed < LIVE_AFTER_S:
                return
            cpu = _cpu_now()
            last_cpu, last_ns = self._last
            self._last = (cpu, now)
            fraction = (cpu - last_cpu) / ((now - last_ns) / 1e9) if now > last_ns else None
            energies = self.gpu_energy(window)
            seconds = (now - last_ns) / 1e9
            gpus = tuple((index, joules, (joules - self._gpu_last[index]) / seconds
                          if index in self._gpu_last and seconds > 0 else None)
                         for index, joules in sorted(energies.items()))
            self._gpu_last = energies
            llm = LEDGER.totals() - self._llm0
            # only what is known: a call that did not report its usage makes the sum a lower bound
            cost = float(llm.cost) if llm.calls and not llm.cost_unknown else None
            fraction_done = self.progress.poll()
            totals = self._totals(window, elapsed, energies, cost) if fraction_done is not None else {}
            projection = self.progress.projection(**totals)
            breaks = () if projection is None else tuple(will_break(projection, self.limits()))
            if breaks and self._stopped_by is None and self.enforce_projected():
                self._stopped_by = breaks[0]
                interrupt_main_thread()  # as --enforce does at the limit, only sooner
            if projection is not None:
                low, mid, high = projection.final_s
                self._projected.append([round(elapsed, 3), round(projection.fraction, 4),
                                        round(low, 3), round(mid, 3), round(high, 3)])
                if len(self._projected) > MAX_PROJECTIONS:
                    self._projected = self._projected[::2]
            numbers = LiveNumbers(elapsed_s=elapsed, cpu_s=cpu - self._cpu0, cpu_fraction=fraction,
                                  rss_now_bytes=rss_now or None, rss_peak_bytes=rss_peak or None,
                                  gpus=gpus,
                                  llm_tokens=llm.tokens if llm.calls and not llm.tokens_unknown else None,
                                  llm_cost_usd=cost,
                                  projection=None if projection is None else describe(projection),
                                  will_break=breaks)
            try:
                listener(numbers)
            except Exception as exc:  # the frontend's channel failed: no live numbers, the cell goes on
                self.listener = None
                self.failure = f"the live view failed and was switched off: {type(exc).__name__}: {exc}"
