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
from nbprofile.meters.nvml.energy import _disagreement, _estimate, _join, _sum_energy
from nbprofile.meters.nvml.poller import POLL_INTERVAL_S, _Acc, _Lazy, _Poll, _poll_device, _Poller
from nbprofile.meters.nvml.reads import _instant_power, _memory_used, _read_energy, _samples
from nbprofile.meters.nvml.sharing import PROCESS_CHECK_INTERVAL_S, _check_processes, _own_pids, _shared_note
from nbprofile.metrics import unit_of
from nbprofile.readings import Availability, Reading, Readings

#: The energy counter's update period: shorter windows get an estimate.
COUNTER_UPDATE_PERIOD_S = 0.1

MIG_UTIL = "MIG: NVML reports no utilisation for MIG instances"
NEVER_OPENED = "the window was never opened"


@dataclass(slots=True)
class _Window:
    t0_ns: int
    since_us: int  #: NVML timestamps are CPU time in µs since the epoch
    energy_mj: list[int | None]
    energy_error: list[str | None]
    accs: list[_Acc] | None = None


class NvmlMeter(Meter):
    """Per-device GPU energy, power, utilisation and memory from NVML (see the package docstring).

    Keys: ``gpu_energy_j`` (sum over devices) and, per CUDA device ``i``,
    ``gpu{i}_energy_j``, ``gpu{i}_power_mean_w``, ``gpu{i}_power_peak_w``,
    ``gpu{i}_util_pct``, ``gpu{i}_mem_used_bytes`` (``total - free`` at the end)
    and ``gpu{i}_mem_used_peak_bytes`` (sampled). ``keys`` lists them after
    ``probe``.

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
        self._process_ttl_ns = int(process_check_interval_s * 1e9)
        self._clock = clock_ns
        self._epoch_us = epoch_us
        self._open: dict[object, _Window] = {}
        self._accs: dict[object, list[_Acc]] = {}
        self._lock = threading.Lock()
        self._poller: _Poller | None = None
        self._polls = False
        self._poll_error: str | None = None
        self._order_assumed = False
        self._ours = _own_pids()
        self._off: Readings | None = {"gpu_energy_j": Reading.unavailable("J", "NVML was not probed")}

    # -- probing -------------------------------------------------------------
    def probe(self) -> Availability:
        if self._nvml is not None and self._off is None:  # probed already: NVML stays initialised
            return _availability(self.gpus, self.driver_version, self._order_assumed)
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
            return self._unavailable(f"NVML could not list the GPUs: {exc}", "check the driver with nvidia-smi")
        if not self.gpus:
            shown = os.environ.get("CUDA_VISIBLE_DEVICES")
            reason = "no NVIDIA GPU visible" + (f" (CUDA_VISIBLE_DEVICES={shown!r})" if shown is not None else "")
            return self._unavailable(reason, "check CUDA_VISIBLE_DEVICES and nvidia-smi")
        self._order_assumed = (len(self.gpus) > 1 and os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID"
                               and not os.environ.get("CUDA_VISIBLE_DEVICES", "").startswith(("GPU-", "MIG-")))
        self.keys = ("gpu_energy_j", *(k for g in self.gpus for k in g.keys))
        self._off = None
        self.mode = "estimated" if any(g.energy_reason and not g.mig for g in self.gpus) else "measured"
        self._start_polling()
        return _availability(self.gpus, self.driver_version, self._order_assumed)

    def _unavailable(self, reason: str, fix: str) -> Availability:
        self.mode = "unavailable"
        self._off = {"gpu_energy_j": Reading.unavailable("J", reason, "nvml")}
        return Availability(False, reason, fix)

    def _describe(self, index: int, target: _Target) -> Gpu:
        gpu = _describe(self._nvml, index, target)
        _check_processes(self._nvml, gpu, self._ours, self._clock)
        return gpu

    # -- windows -------------------------------------------------------------
    def begin(self, key: object) -> None:
        if self._off is not None:
            return
        start = [_read_energy(self._nvml, g) for g in self.gpus]
        window = _Window(self._clock(), self._epoch_us(), [s[0] for s in start], [s[1] for s in start])
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
        if window.accs is not None:
            self._stop_accumulating(key)
        readings: Readings = {}
        energies: list[tuple[Gpu, Reading]] = []
        for i, gpu in enumerate(self.gpus):
            try:
                device = self._end_device(gpu, window, i, duration_s)
            except self._nvml.NVMLError as exc:
                reason = f"NVML failed on gpu{gpu.index}: {exc}"
                device = {k: Reading.unavailable(unit_of(k), reason, "nvml") for k in gpu.keys}
            readings.update(device)
            energies.append((gpu, device[gpu.keys[0]]))
        readings["gpu_energy_j"] = _sum_energy(energies)
        if self._order_assumed and not self._open:  # open windows index devices by position
            self._confirm_order_from_torch()
        return readings

    def live_energy_j(self, key: object) -> dict[int, float]:
        """Each device's energy since ``key``'s window began, by GPU index: counter deltas, read
        now from any thread (the live view's, once a second). Devices whose counter cannot say
        (MIG slices, a failed read, a counter that went backwards) are left out."""
        window = self._open.get(key)
        if self._off is not None or window is None:
            return {}
        found: dict[int, float] = {}
        for i, gpu in enumerate(self.gpus):
            start = window.energy_mj[i]
            if gpu.mig or start is None:
                continue
            now, error = _read_energy(self._nvml, gpu)
            if error is None and now is not None and now >= start:
                found[gpu.index] = (now - start) / 1000
        return found

    def discard(self, key: object) -> None:
        if self._open.pop(key, None) is not None:
            self._stop_accumulating(key)

    def _stop_accumulating(self, key: object) -> None:
        with self._lock:
            self._accs.pop(key, None)
            if not self._accs and self._poller is not None:
                self._poller.park()

    def close(self) -> None:
        if self._poller is not None:
            self._poller.stop()  # waits for a tick in progress: NVML must outlive it
            self._poller = None
        if self._nvml is not None:
            try:
                self._nvml.nvmlShutdown()
            except self._nvml.NVMLError as exc:
                warnings.warn(f"nbprofile: nvmlShutdown failed: {exc}", RuntimeWarning, stacklevel=2)
            self._nvml = None
            self._off = {"gpu_energy_j": Reading.unavailable("J", "the NVML meter was closed", "nvml")}

    # -- one device at a window's end -----------------------------------------
    def _end_device(self, gpu: Gpu, window: _Window, i: int, duration_s: float) -> Readings:
        k_energy, k_mean, k_peak, k_util, k_mem, k_mem_peak = gpu.keys
        acc = window.accs[i] if window.accs is not None else None
        shared = _shared_note(self._nvml, gpu, self._ours, self._clock, self._process_ttl_ns)
        instant = _Lazy(lambda: _instant_power(self._nvml, gpu))
        if gpu.mig:
            mean = peak = Reading.unavailable("W", MIG_ENERGY, "nvml")
            mean_w: float | None = None
            util = Reading.unavailable("%", MIG_UTIL, "nvml")
        else:
            mean, peak, mean_w = self._power(gpu, window, acc, duration_s, instant, shared)
            util = self._util(gpu, window, acc, duration_s, shared)
        energy = self._energy(gpu, window, i, duration_s, mean_w, instant, shared)
        used = _memory_used(self._nvml, gpu)
        return {k_energy: energy, k_mean: mean, k_peak: peak, k_util: util,
                k_mem: Reading(used, "B", "measured", "nvmlDeviceGetMemoryInfo total-free"),
                k_mem_peak: self._memory_peak(used, acc)}

    def _energy(self, gpu: Gpu, window: _Window, i: int, duration_s: float, mean_w: float | None,
                instant: _Lazy, shared: str | None) -> Reading:
        if gpu.mig:
            return Reading.unavailable("J", MIG_ENERGY, "nvml")
        start, error = window.energy_mj[i], window.energy_error[i]
        if gpu.energy_reason is not None or error is not None:
            return _estimate(gpu.energy_reason or error or "", duration_s, mean_w, instant.get, shared)
        end, error = _read_energy(self._nvml, gpu)
        if error is not None or start is None or end is None:
            return _estimate(error or "", duration_s, mean_w, instant.get, shared)
        delta_mj = end - start
        if delta_mj < 0:
            return Reading.unavailable("J", "the energy counter went backwards (was the driver reloaded?)", "nvml")
        ms = duration_s * 1000
        if duration_s < COUNTER_UPDATE_PERIOD_S:
            reason = (f"the {ms:.0f} ms window is shorter than the energy counter's ~"
                      f"{COUNTER_UPDATE_PERIOD_S * 1000:.0f} ms update period")
            return _estimate(reason, duration_s, mean_w, instant.get, shared)
        if delta_mj == 0:  # a GPU never draws 0 W: the counter lagged
            reason = f"the energy counter did not advance in {ms:.0f} ms"
            return _estimate(reason, duration_s, mean_w, instant.get, shared)
        joules = delta_mj / 1000
        note = _join(shared, _disagreement(joules, mean_w, duration_s))
        return Reading(joules, "J", "measured", "nvmlDeviceGetTotalEnergyConsumption", note)

    def _power(self, gpu: Gpu, window: _Window, acc: _Acc | None, duration_s: float, instant: _Lazy,
               shared: str | None) -> tuple[Reading, Reading, float | None]:
        if gpu.power_samples:
            watts = [v / 1000 for v in _samples(self._nvml, gpu.board, _POWER, window.since_us)]
            stats = (sum(watts) / len(watts), max(watts)) if watts else None
            source = "nvmlDeviceGetSamples"
        else:
            stats = self._polled(acc, "power")
            source = f"polled every {self._interval or 0:g} s"
        if stats is not None:
            mean_w, peak_w = stats
            return (Reading(mean_w, "W", "sampled", source, shared),
                    Reading(peak_w, "W", "sampled", source, shared), mean_w)
        none_in = f"no power sample fell in this {duration_s * 1000:.0f} ms window{self._poll_reason(gpu)}"
        watts_now, how = instant.get()
        peak = Reading.unavailable("W", none_in, "nvml")
        if watts_now is None:
            return Reading.unavailable("W", f"{none_in}, and {how}", "nvml"), peak, None
        mean = Reading(watts_now, "W", "sampled", how, _join(f"{none_in}: one reading at its end", shared))
        return mean, peak, None

    def _util(self, gpu: Gpu, window: _Window, acc: _Acc | None, duration_s: float,
              shared: str | None) -> Reading:
        if gpu.util_samples:
            values = _samples(self._nvml, gpu.board, _UTIL, window.since_us)
            mean = sum(values) / len(values) if values else None
            source = "nvmlDeviceGetSamples"
        else:
            stats = self._polled(acc, "util")
            mean = stats[0] if stats is not None else None
            source = f"polled every {self._interval or 0:g} s"
        if mean is None:
            reason = f"no utilisation sample fell in this {duration_s * 1000:.0f} ms window{self._poll_reason(gpu)}"
            return Reading.unavailable("%", reason, "nvml")
        return Reading(mean, "%", "sampled", source, shared)

    def _memory_peak(self, used: int, acc: _Acc | None) -> Reading:
        if acc is None or not self._sample_memory:
            return Reading.unavailable("B", "memory sampling is off (sample_memory=False)", "nvml")
        with self._lock:
            peak = max(acc.mem_max, used)
        note = "sampled: a peak shorter than the interval can be missed" + self._poll_reason(None)
        return Reading(peak, "B", "sampled", f"total-free every {self._interval or 0:g} s and at the end", note)

    def _poll_reason(self, gpu: Gpu | None) -> str:
        """Why polling may have seen nothing: its last NVML error (the thread can only leave it here)."""
        polled = gpu is None or not (gpu.power_samples and gpu.util_samples)
        return f" ({self._poll_error})" if polled and self._poll_error else ""

    # -- polling -------------------------------------------------------------
    def _start_polling(self) -> None:
        self._polls = self._sample_memory or any(
            not g.mig and not (g.power_samples and g.util_samples) for g in self.gpus)
        if self._polls and self._interval is not None:
            self._poller = _Poller(self.poll_once, self._interval)

    def poll_once(self) -> None:
        """One polling tick: read every device, fold into every open window (thread or tests)."""
        if self._nvml is None:  # closed
            return
        reads = [self._poll_device(g) for g in self.gpus]  # outside the lock: NVML calls take time
        with self._lock:
            for accs in self._accs.values():
                for acc, (power, util, mem) in zip(accs, reads):
                    acc.add(power, util, mem)

    def _poll_device(self, gpu: Gpu) -> _Poll:
        read, error = _poll_device(self._nvml, gpu, self._sample_memory)
        if error is not None:  # a thread cannot raise to anyone: keep the reason for the notes
            self._poll_error = error
        return read

    def _polled(self, acc: _Acc | None, what: str) -> tuple[float, float] | None:
        if acc is None:
            return None
        with self._lock:
            if what == "power":
                return (acc.power_sum / acc.power_n, acc.power_max) if acc.power_n else None
            return (acc.util_sum / acc.util_n, 0.0) if acc.util_n else None

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
            self.keys = ("gpu_energy_j", *(k for g in self.gpus for k in g.keys))
