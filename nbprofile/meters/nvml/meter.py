"""The NVML meter: probes once, then turns each window's NVML reads into readings.

See the package docstring (:mod:`nbprofile.meters.nvml`) for what is measured
and how; discovery, the NVML reads, polling, process sharing and the energy
arithmetic live in the sibling modules this one imports.
"""

from __future__ import annotations

import os
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from time import perf_counter_ns, time_ns
from typing import Any

from nbprofile.meters.base import Meter
from nbprofile.meters.nvml import figures
from nbprofile.meters.nvml.buffers import DRAIN_INTERVAL_S, Buffers, Series, drain, finish
from nbprofile.meters.nvml.discovery import (
    _POWER,
    _UTIL,
    MIG_ENERGY,
    NOT_INSTALLED,
    Gpu,
    _availability,
    _describe,
    _import_pynvml,
    _physical_gpus,
    _resolve_visible,
    _Target,
    _text,
    _torch_order,
    _torch_with_cuda,
)
from nbprofile.meters.nvml.energy import _charge, _disagreement, _estimate, _join, _tick_error
from nbprofile.meters.nvml.figures import memory_peak, memory_readings, power_readings, util_reading
from nbprofile.meters.nvml.gpm import Gpm, with_gpm
from nbprofile.meters.nvml.gpm import keys as gpm_keys
from nbprofile.meters.nvml.poller import POLL_INTERVAL_S, _Acc, _Lazy, _Poll, _poll_device, _Poller
from nbprofile.meters.nvml.reads import Memory, _instant_power, _memory, _read_energy
from nbprofile.meters.nvml.sharing import PROCESS_CHECK_INTERVAL_S, PROCESS_STALE_S, Sharing, torch_contexts
from nbprofile.meters.nvml.so_far import energy_so_far
from nbprofile.metrics import unit_of
from nbprofile.readings import Availability, Reading, Readings

#: The energy counter's update period: shorter windows get an estimate.
COUNTER_UPDATE_PERIOD_S = 0.1
#: Below this a counter delta's error (up to one update's energy) is stated in the note.
TICK_ERROR_BELOW_S = 1.0

MIG_UTIL = "MIG: NVML reports no utilisation for MIG instances"
NEVER_OPENED = "the window was never opened"


@dataclass(slots=True)
class _Window:
    t0_ns: int
    since_us: int  #: NVML timestamps are CPU time in µs since the epoch
    energy_mj: list[int | None]
    energy_error: list[str | None]
    accs: list[_Acc] | None = None
    buffers: Buffers | None = None
    gpm: list[Any] | None = None


class NvmlMeter(Meter):
    """Per-device GPU energy, power, utilisation and memory from NVML (see the package docstring).

    Keys: ``gpu_energy_j`` (the GPUs this process uses; every visible one when
    that is not known), ``gpu_energy_other_j`` (the rest, with two GPUs or more)
    and, per CUDA device ``i``, ``gpu{i}_energy_j``, ``gpu{i}_power_mean_w``,
    ``gpu{i}_power_peak_w``, ``gpu{i}_util_pct``, ``gpu{i}_mem_used_bytes``
    (v2's ``used`` at the end), ``gpu{i}_mem_used_peak_bytes`` (sampled),
    ``gpu{i}_mem_reserved_bytes`` (the driver's), ``gpu{i}_sm_active_pct`` and
    ``gpu{i}_tensor_active_pct`` (GPM). ``keys`` lists them after ``probe``.

    ``poll_interval_s``: the polling thread's period; ``None`` runs no thread
    (``poll_once`` can then be called by hand). ``sample_memory``: poll memory
    for the peak. ``clock_ns``/``epoch_us`` are the clocks (tests pass fakes).
    """

    name = "nvml"

    def __init__(
        self,
        *,
        poll_interval_s: float | None = POLL_INTERVAL_S,
        sample_memory: bool = True,
        process_check_interval_s: float = PROCESS_CHECK_INTERVAL_S,
        clock_ns: Callable[[], int] = perf_counter_ns,
        epoch_us: Callable[[], int] = lambda: time_ns() // 1000,
    ) -> None:
        self.keys: tuple[str, ...] = ("gpu_energy_j",)
        #: for ``nbprofile doctor``: "measured", "estimated" (a device has no energy counter) or "unavailable"
        self.mode = "unprobed"
        self.gpus: list[Gpu] = []
        self.driver_version: str | None = None
        self._nvml: Any = None
        self._interval = poll_interval_s
        self._sample_memory = sample_memory
        self._clock = clock_ns
        self._epoch_us = epoch_us
        self._open: dict[object, _Window] = {}
        self._accs: dict[object, list[_Acc]] = {}
        self._buffers: dict[object, Buffers] = {}  # open windows' sample series, for the drains
        self._drained_ns = {kind: 0 for kind in DRAIN_INTERVAL_S}  # when each kind was last drained
        self._gpm: Gpm | None = None
        self._kinds: list[list[int]] | None = None  # the sample kinds each device buffers (None: none)
        self._lock = threading.Lock()
        self._poller: _Poller | None = None
        self._polls = False
        self._poll_error: str | None = None
        self._order_assumed = False
        self._sharing = Sharing(clock_ns, process_check_interval_s)
        self._off: Readings | None = {"gpu_energy_j": Reading.unavailable("J", "NVML was not probed")}

    # -- probing -------------------------------------------------------------
    def probe(self) -> Availability:
        if self._nvml is not None and self._off is None:  # probed already: NVML stays initialised
            return with_gpm(_availability(self.gpus, self.driver_version, self._order_assumed), self._gpm)
        try:
            nvml = _import_pynvml()
        except ImportError:
            return self._unavailable(NOT_INSTALLED, "pip install nvidia-ml-py")
        try:
            nvml.nvmlInit()
        except nvml.NVMLError as exc:
            return self._unavailable(f"no NVIDIA driver (NVML: {exc})",
                                     "install the NVIDIA driver, or run on a machine with an NVIDIA GPU")
        self._nvml = nvml
        try:
            self.driver_version = _text(nvml.nvmlSystemGetDriverVersion())
            targets = _resolve_visible(_physical_gpus(nvml), os.environ.get("CUDA_VISIBLE_DEVICES"))
            self.gpus = [self._describe(i, t) for i, t in enumerate(targets)]
        except nvml.NVMLError as exc:
            return self._unavailable(f"NVML could not list the GPUs: {exc}",
                                     "check the driver with nvidia-smi")
        if not self.gpus:
            shown = os.environ.get("CUDA_VISIBLE_DEVICES")
            reason = "no NVIDIA GPU visible" + (
                f" (CUDA_VISIBLE_DEVICES={shown!r})" if shown is not None else "")
            return self._unavailable(reason, "check CUDA_VISIBLE_DEVICES and nvidia-smi")
        self._order_assumed = not os.environ.get("CUDA_VISIBLE_DEVICES", "").startswith(("GPU-", "MIG-"))
        self._sharing.refresh(nvml, self.gpus, 0)
        self._gpm = Gpm(nvml, self.gpus)
        self._set_keys()
        self._off = None
        self.mode = "estimated" if any(g.energy_reason and not g.mig for g in self.gpus) else "measured"
        self._start_polling()
        return with_gpm(_availability(self.gpus, self.driver_version, self._order_assumed), self._gpm)

    def _unavailable(self, reason: str, fix: str) -> Availability:
        self.mode = "unavailable"
        self._off = {"gpu_energy_j": Reading.unavailable("J", reason, "nvml")}
        return Availability(False, reason, fix)

    def _describe(self, index: int, target: _Target) -> Gpu:
        return _describe(self._nvml, index, target)

    def _set_keys(self) -> None:
        device = (k for g in self.gpus for k in (*g.keys, f"gpu{g.index}_mem_reserved_bytes", *gpm_keys(g)))
        self.keys = ("gpu_energy_j", *(("gpu_energy_other_j",) if len(self.gpus) > 1 else ()), *device)
        kinds = Buffers.kinds(self.gpus)
        self._kinds = kinds if any(kinds) else None

    # -- windows -------------------------------------------------------------
    def begin(self, key: object) -> None:
        if self._off is not None:
            return
        start = [_read_energy(self._nvml, g) for g in self.gpus]
        window = _Window(self._clock(), self._epoch_us(), [s[0] for s in start], [s[1] for s in start])
        if self._gpm is not None and self._gpm.on:
            window.gpm = self._gpm.begin(self.gpus)
        if self._kinds is not None:
            window.buffers = buffers = Buffers.open(self._kinds, window.since_us)
            with self._lock:
                self._buffers[key] = buffers
        if self._polls:
            window.accs = [_Acc() for _ in self.gpus]
            with self._lock:
                self._accs[key] = window.accs
        if self._poller is not None:
            self._poller.wake()
        self._open[key] = window

    def end(self, key: object) -> Readings:
        if self._off is not None:
            return dict(self._off)
        window = self._open.pop(key, None)
        if window is None:
            return {k: Reading.unavailable(unit_of(k), NEVER_OPENED, "nvml") for k in self.keys}
        duration_s = (self._clock() - window.t0_ns) / 1e9
        self._stop_accumulating(key)  # the window's buffers too: no drain folds into them now
        self._sharing.refresh(self._nvml, self.gpus, None if self._poller is None else PROCESS_STALE_S)
        contexts = torch_contexts()
        readings: Readings = {}
        energies: list[tuple[Gpu, Reading]] = []
        for i, gpu in enumerate(self.gpus):
            shared = self._sharing.note(gpu, contexts is not None and gpu.index in contexts)
            try:
                device = self._end_device(gpu, window, i, duration_s, shared)
            except self._nvml.NVMLError as exc:  # each read handles its own: this is the last resort
                reason = f"NVML failed on gpu{gpu.index}: {exc}"
                device = {k: Reading.unavailable(unit_of(k), reason, "nvml")
                          for k in (*gpu.keys, f"gpu{gpu.index}_mem_reserved_bytes")}
            readings.update(device)
            energies.append((gpu, device[gpu.keys[0]]))
        if self._gpm is not None:
            readings.update(self._gpm.end(self.gpus, window.gpm, duration_s))
        used = {g.uuid for g in self.gpus if len(self.gpus) > 1 and (
            self._sharing.ours_on(g) or (contexts is not None and g.index in contexts))}
        readings["gpu_energy_j"], other = _charge(energies, used)
        if other is not None:
            readings["gpu_energy_other_j"] = other
        if self._order_assumed and not self._open:  # open windows index devices by position
            self._confirm_order_from_torch()
        return readings

    def live_energy_j(self, key: object) -> dict[int, float]:
        """Each device's energy since ``key``'s window began, by GPU index, from any thread (the
        live view's, once a second): mean power so far x time (:mod:`.so_far`)."""
        window = self._open.get(key)
        if self._off is not None or window is None:
            return {}
        self.drain(due_only=True)
        power: list[Series | None] = ([s.get(_POWER) for s in window.buffers.series] if window.buffers
                                      else [None] * len(self.gpus))
        return energy_so_far(self._nvml, self.gpus, (self._clock() - window.t0_ns) / 1e9, window.energy_mj,
                             power, window.accs, self._lock)

    def drain(self, *, due_only: bool = False) -> None:
        """Fold the sample buffers' new samples into every open window (see :mod:`.buffers`):
        from the polling thread, the live view's thread, or a test. ``due_only``: only the kinds
        whose :data:`DRAIN_INTERVAL_S` has passed since their last drain."""
        now = self._clock()
        with self._lock:
            kinds = tuple(k for k, every_s in DRAIN_INTERVAL_S.items()
                          if not due_only or now - self._drained_ns[k] >= every_s * 1e9)
            if self._nvml is None or not self._buffers or not kinds:
                return
            self._drained_ns.update(dict.fromkeys(kinds, now))
            windows = list(self._buffers.values())
        error = drain(self._nvml, self.gpus, windows, self._lock, kinds)
        if error is not None:
            self._poll_error = error

    def discard(self, key: object) -> None:
        window = self._open.pop(key, None)
        if window is not None:
            self._stop_accumulating(key)
            if self._gpm is not None:
                self._gpm.discard(window.gpm)

    def _stop_accumulating(self, key: object) -> None:
        with self._lock:
            self._accs.pop(key, None)
            buffers = self._buffers.pop(key, None)
            if buffers is not None:
                buffers.closed = True
            if not self._accs and not self._buffers and self._poller is not None:
                self._poller.park()

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()  # waits for a tick in progress: NVML must outlive it
            self._poller = None
        if self._gpm is not None:
            self._gpm.close()
            self._gpm = None
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError as exc:
                warnings.warn(f"nbprofile: nvmlShutdown failed: {exc}", RuntimeWarning, stacklevel=2)
            self._nvml = None
            self._off = {"gpu_energy_j": Reading.unavailable("J", "the NVML meter was closed", "nvml")}

    # -- one device at a window's end: each reading stands or falls on its own -------
    def _end_device(self, gpu: Gpu, window: _Window, i: int, duration_s: float,
                    shared: str | None) -> Readings:
        k_energy, k_mean, k_peak, k_util, k_mem, k_mem_peak = gpu.keys
        acc = window.accs[i] if window.accs is not None else None
        instant = _Lazy(lambda: _instant_power(self._nvml, gpu))
        series = window.buffers.series[i] if window.buffers is not None else {}
        power = finish(self._nvml, gpu, series, _POWER)
        short_for_util = _UTIL in series and duration_s < figures.UTIL_READ_FROM_S
        util_series = None if short_for_util else finish(self._nvml, gpu, series, _UTIL)
        complete = power is None or power.complete()  # samples cover the window: compare with the counter
        if gpu.mig:
            mean = peak = Reading.unavailable("W", MIG_ENERGY, "nvml")
            mean_w: float | None = None
            util = Reading.unavailable("%", MIG_UTIL, "nvml")
        else:
            polled = f"polled every {self._interval or 0:g} s"
            why = self._poll_reason(gpu)
            with self._lock:
                power_polled, util_polled = (acc.power(), acc.util()) if acc is not None else (None, None)
            mean, peak, mean_w = power_readings(power, power_polled, polled, duration_s, instant.get,
                                                shared, why)
            util = (figures.util_unread(duration_s) if short_for_util
                    else util_reading(util_series, util_polled, polled, duration_s, shared, why))
        energy = self._energy(gpu, window, i, duration_s, mean_w, complete, instant, shared)
        memory, reason = self._read_memory(gpu)
        used, reserved = memory_readings(memory, reason)
        if acc is None or not self._sample_memory:
            mem_peak = Reading.unavailable("B", "memory sampling is off (sample_memory=False)", "nvml")
        else:
            with self._lock:
                mem_max = acc.mem_max
            mem_peak = memory_peak(memory, mem_max, self._interval, self._poll_reason(None), reason)
        return {k_energy: energy, k_mean: mean, k_peak: peak, k_util: util, k_mem: used, k_mem_peak: mem_peak,
                f"gpu{gpu.index}_mem_reserved_bytes": reserved}

    def _read_memory(self, gpu: Gpu) -> tuple[Memory | None, str]:
        try:
            return _memory(self._nvml, gpu), ""
        except self._nvml.NVMLError as exc:
            return None, f"nvmlDeviceGetMemoryInfo failed on gpu{gpu.index}: {exc}"

    def _energy(self, gpu: Gpu, window: _Window, i: int, duration_s: float, mean_w: float | None,
                complete: bool, instant: _Lazy, shared: str | None) -> Reading:
        if gpu.mig:
            return Reading.unavailable("J", MIG_ENERGY, "nvml")
        start, error = window.energy_mj[i], window.energy_error[i]
        if gpu.energy_reason is not None or error is not None:
            return _estimate(gpu.energy_reason or error or "", duration_s, mean_w, instant.get, shared)
        ms = duration_s * 1000
        if duration_s < COUNTER_UPDATE_PERIOD_S:  # not read: it says little, and costs 3 ms on an H200
            reason = (f"the {ms:.0f} ms window is shorter than the energy counter's ~"
                      f"{COUNTER_UPDATE_PERIOD_S * 1000:.0f} ms update period")
            return _estimate(reason, duration_s, mean_w, instant.get, shared)
        end, error = _read_energy(self._nvml, gpu)
        if error is not None or start is None or end is None:
            return _estimate(error or "", duration_s, mean_w, instant.get, shared)
        delta_mj = end - start
        if delta_mj < 0:
            return Reading.unavailable("J", "the energy counter went backwards (was the driver reloaded?)",
                                       "nvml")
        if delta_mj == 0:  # a GPU never draws 0 W: the counter lagged
            reason = f"the energy counter did not advance in {ms:.0f} ms"
            return _estimate(reason, duration_s, mean_w, instant.get, shared)
        joules = delta_mj / 1000
        short = (_tick_error(joules, duration_s, mean_w, COUNTER_UPDATE_PERIOD_S)
                 if duration_s < TICK_ERROR_BELOW_S else None)
        note = _join(short, shared, _disagreement(joules, mean_w if complete else None, duration_s))
        return Reading(joules, "J", "measured", "nvmlDeviceGetTotalEnergyConsumption", note)

    def _poll_reason(self, gpu: Gpu | None) -> str:
        """Why polling may have seen nothing: its last NVML error (the thread can only leave it here)."""
        polled = gpu is None or not (gpu.power_samples and gpu.util_samples)
        return f" ({self._poll_error})" if polled and self._poll_error else ""

    # -- polling -------------------------------------------------------------
    def _start_polling(self) -> None:
        """A thread while windows are open: memory peaks, devices without a sample buffer, and the
        drains and process checks that keep both off the cells' edges."""
        self._polls = self._sample_memory or any(
            not g.mig and not (g.power_samples and g.util_samples) for g in self.gpus)
        if self._interval is not None:
            self._poller = _Poller(self.poll_once, self._interval, lambda: self.own_cpu)

    def poll_once(self) -> None:
        """One polling tick: read every device, fold into every open window; drain the sample
        buffers and re-read the process lists when due (thread or tests)."""
        if self._nvml is None:  # closed
            return
        if self._polls:
            reads = [self._poll_device(g) for g in self.gpus]  # outside the lock: NVML calls take time
            with self._lock:
                for accs in self._accs.values():
                    for acc, (power, util, mem) in zip(accs, reads):
                        acc.add(power, util, mem)
        self.drain(due_only=True)
        self._sharing.refresh(self._nvml, self.gpus)

    def _poll_device(self, gpu: Gpu) -> _Poll:
        read, error = _poll_device(self._nvml, gpu, self._sample_memory)
        if error is not None:  # a thread cannot raise to anyone: keep the reason for the notes
            self._poll_error = error
        return read

    # -- CUDA order ----------------------------------------------------------
    def _confirm_order_from_torch(self) -> None:
        """Reorder the devices by the UUIDs torch reports, once torch has initialised CUDA."""
        torch = _torch_with_cuda()
        if torch is None:
            return
        self._order_assumed = False
        reordered = _torch_order(torch, self.gpus)
        if reordered is not None:
            self.gpus = reordered
            self._set_keys()
