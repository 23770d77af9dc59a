"""The Profiler: one per process, joining the rooms that measure and keep.

* :class:`~nbprofile.engine.windows.MeterSet` (``profiler.windows``): the meters,
  the windows opened on them and the derived readings;
* :class:`~nbprofile.engine.recorder.Recorder` (``profiler.recorder``): the run,
  its records and the store they go to;
* the settings behind the derived readings (carbon intensity, prices).

It knows nothing of IPython: the extension's cell hooks (:mod:`nbprofile.ipython`)
and the ``measure()`` blocks of scripts (:mod:`nbprofile.blocks`) both drive it
through :meth:`open_window`, :meth:`close_window`, :meth:`record` and :meth:`save`.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from typing import Any

from nbprofile._version import __version__
from nbprofile.derive.carbon import CarbonConfig, carbon_info
from nbprofile.derive.cost import ComputePrices
from nbprofile.engine import assembly
from nbprofile.engine.hotspots import HotSpotSampler
from nbprofile.engine.live import LiveView
from nbprofile.engine.oom_guard import OomGuard
from nbprofile.engine.recorder import Recorder
from nbprofile.engine.warn import OnceWarnings
from nbprofile.engine.windows import MeterSet, Window
from nbprofile.meters.base import Meter
from nbprofile.meters.memory_limit import OomCounter, find_oom_counter
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.meters.own_cpu import OwnCpu
from nbprofile.readings import Readings
from nbprofile.record import BASELINE_ENV, RUN_ID_ENV, CellRecord, RunInfo, Status, new_run_id
from nbprofile.store.base import RecordStore


class Profiler:
    """Measures windows (cells, ``measure()`` blocks) and keeps their records."""

    def __init__(
        self,
        *,
        meters: Iterable[Meter] | None = None,
        store: RecordStore | None = None,
        store_factory: Callable[[], RecordStore] | None = None,
        notebook: str | None = None,
        kernel_id: str | None = None,
    ) -> None:
        self.warnings = OnceWarnings()
        self.windows = MeterSet(assembly.default_meters() if meters is None else meters, self.warnings)
        self._default_derivers = meters is None  # a profiler given its own meters gets no formulas
        self.carbon, self.prices = assembly.settings_from_env(self.warnings)
        self.notebook = notebook
        run = RunInfo(run_id=os.environ.get(RUN_ID_ENV) or new_run_id(), notebook=notebook,
                      kernel_id=kernel_id, started_at=time.time(), nbprofile=__version__)
        self.recorder = Recorder(run, self.warnings, store=store, store_factory=store_factory,
                                 describe_run=self._describe_run)
        self.baseline_run: str | None = os.environ.get(BASELINE_ENV) or None
        # one parked thread for the cells of this process: stops a cell before the system would
        # kill the kernel for memory, and writes the journal's heartbeat during long cells
        self.oom_guard = OomGuard(on_beat=self._heartbeat)
        #: the running cell's numbers, once a second after two, for whoever shows them
        self.live = LiveView()
        #: where a long cell's time goes: samples the main thread's stack once a cell passes a second
        self.hotspots = HotSpotSampler()
        #: the CPU this profiler's threads spend while cells run, which cells' CPU time leaves out
        self.own_cpu = OwnCpu()
        for meter in self.windows.meters:
            meter.own_cpu = self.own_cpu
        self.oom_guard.own_cpu = self.hotspots.own_cpu = self.recorder.writer.own_cpu = self.own_cpu
        nvml = self.windows.find(NvmlMeter)
        if isinstance(nvml, NvmlMeter):  # GPU energy so far, for the live numbers
            self.live.gpu_energy = lambda window: nvml.live_energy_j(window.key)
        self.live.so_far = self._so_far
        self._cell_window: Window | None = None
        self._insights: dict[str, Any] | None = None
        self._oom_counter: OomCounter | None | bool = False  # False: not looked for yet
        self.rebuild_derivers()

    @property
    def run(self) -> RunInfo:
        return self.recorder.run

    def warn_once(self, key: str, message: str) -> None:
        self.warnings.warn(key, message)

    # -- settings ------------------------------------------------------------
    def rebuild_derivers(self) -> None:
        """Re-make the derived readings' formulas after a setting changed (carbon, prices)."""
        if self._default_derivers:
            self.windows.derivers = assembly.default_derivers(self.carbon, self.prices, self.windows.meters)

    def set_carbon(self, carbon: CarbonConfig) -> None:
        self.carbon = carbon
        self.rebuild_derivers()

    def set_prices(self, prices: ComputePrices) -> None:
        self.prices = prices
        self.rebuild_derivers()

    def _describe_run(self) -> dict[str, Any]:
        """What the run record keeps beyond the machine: carbon settings and GPUs."""
        return {"carbon": carbon_info(self.carbon), **assembly.gpu_info(self.windows.meters)}

    def _so_far(self, window: Window, measured: Readings) -> Readings:
        """A running window's readings until now: what its meters can say, what the live view
        measured itself, and what the derivers make of them (total energy, CO2e, dollars)."""
        readings: Readings = {}
        for meter in self.windows.meters:
            readings.update(meter.so_far(window.key))
        readings.update(measured)
        for derive in self.windows.derivers:
            readings.update(derive(readings))
        return readings

    # -- windows and records -------------------------------------------------
    def open_window(self, key: object) -> Window:
        return self.windows.open_window(key)

    def close_window(self, window: Window) -> Readings:
        return self.windows.close_window(window)

    def discard_window(self, window: Window) -> None:
        self.windows.discard_window(window)

    def record(self, window: Window, *, cell_id: str | None, source: str, status: Status,
               error_type: str | None = None, execution_count: int | None = None,
               name: str | None = None) -> CellRecord:
        """The record of a window (closed here if it is still open)."""
        readings = self.windows.close_window(window)
        record = self.recorder.make_record(window, readings, cell_id, source, execution_count, status,
                                           error_type, name)
        if window is self._cell_window:  # the cell's record (not a measure() block inside it)
            record.insights, self._cell_window, self._insights = self._insights, None, None
        return record

    def save(self, record: CellRecord, *, ends_cell: bool = False) -> None:
        """Keep a record: a journal line now, a store row within about a second.
        ``ends_cell``: the record of the cell :meth:`cell_started` announced."""
        self.recorder.save(record, ends_cell=ends_cell)

    def cell_started(self, window: Window, cell_id: str | None, source: str,
                     execution_count: int | None, *, sample: bool = True) -> None:
        """A cell began in ``window``: should the kernel die in it, the next reader says which,
        the OOM guard watches its memory and, with ``sample``, the sampler where its time goes."""
        self.recorder.cell_started(cell_id, source, execution_count, window.started_at)
        if self._oom_counter is False:  # found here, once: the heartbeat's thread must not wait for it
            self._oom_counter = find_oom_counter()
        self._cell_window, self._insights = window, None
        if sample:
            self.hotspots.start()
        self.live.begin(window)
        self.oom_guard.arm()

    def cell_ended(self) -> str | None:
        """The started cell is over: what the OOM guard did to it, if anything (its message)."""
        hotspots = self.hotspots.stop()
        projections = self.live.end()
        for part, failure in (("live", self.live.failure), ("live-totals", self.live.so_far_failure),
                              ("hotspots", self.hotspots.failure)):
            if failure is not None:  # switched off for the session: say so once, the cells go on
                self.warn_once(f"{part}-failed", failure)
        insights: dict[str, Any] = {}
        if hotspots is not None:
            insights["hotspots"] = hotspots.to_json()
        if projections:
            insights["projections"] = projections
        self._insights = insights or None  # for the cell's record (see record())
        return self.oom_guard.disarm()

    def cell_dropped(self) -> None:
        """The started cell will have no record (measuring was switched off during it)."""
        self.hotspots.stop()
        self.live.end()
        self._cell_window = self._insights = None
        self.oom_guard.disarm()
        self.recorder.cell_dropped()

    def _heartbeat(self, rss_high_water: int, rss_now: int) -> None:
        """From the OOM guard's thread, once a second during a long cell: the journal's proof of
        life, with what a reader needs to say later whether the OOM killer ended the kernel."""
        counter = self._oom_counter
        if isinstance(counter, OomCounter):
            self.recorder.heartbeat(rss_high_water, counter.read(), counter.cgroup)
        else:
            self.recorder.heartbeat(rss_high_water)
        self.live.tick(rss_high_water, rss_now)

    @property
    def last_record(self) -> CellRecord | None:
        return self.recorder.last_record

    def close(self) -> None:
        """Release the meters, save what is left, close the store."""
        self.oom_guard.stop()
        self.hotspots.close()
        self.windows.close()
        self.recorder.close()
