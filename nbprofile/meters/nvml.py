"""GPU energy, power, utilisation and device memory per window, from NVML.

Uses NVIDIA's ``nvidia-ml-py`` (module ``pynvml``), imported inside
:meth:`NvmlMeter.probe`, never at import time. Everything slow happens once, in
``probe``: ``nvmlInit`` (slow without persistence mode), the device handles and
UUIDs, the map from CUDA ordinals to NVML devices, and which readings each
device supports.

**Device order.** Keys are numbered as CUDA (and torch) number devices:
``CUDA_VISIBLE_DEVICES`` is honoured with the rules torch uses to emulate CUDA's
(ordinals, ``GPU-``/``MIG-`` UUID prefixes, parsing stops at the first invalid
entry, a repeated one hides every device). NVML numbers devices in PCI order,
and CUDA's default ``FASTEST_FIRST`` order may differ, so ordinals are matched
by UUID: exact when the variable lists UUIDs or ``CUDA_DEVICE_ORDER=PCI_BUS_ID``;
otherwise assumed equal to PCI order and checked against torch's device UUIDs
once torch has initialised CUDA.

**Energy** is the delta of the total-energy counter
(``nvmlDeviceGetTotalEnergyConsumption``, mJ since the driver loaded; Volta and
newer). The counter only moves every ~100 ms (:data:`COUNTER_UPDATE_PERIOD_S`,
the ML.ENERGY figure; PETSc reports 20-100 ms), so a shorter window, or one in
which the counter did not move while the GPU drew power, gets mean power x
duration instead, labelled ``estimated`` with the reason. Under MIG the sensors
see the whole GPU, shared by every instance, so energy, power and utilisation
are unavailable rather than charged to the cell.

**Power and utilisation** come from the driver's own sample buffer
(``nvmlDeviceGetSamples`` since the window's start, one call each at its end,
no thread); a daemon thread polls them only where a device has no sample buffer.
The same thread samples memory (``total - free``) every 100 ms for the peak.

**Shared GPUs.** Energy and power are the whole GPU's; when other processes
have contexts on it (``nvmlDeviceGetComputeRunningProcesses``, ~0.5 ms, so
checked at most every :data:`PROCESS_CHECK_INTERVAL_S`) the readings say so.

**Cost per window** (per device): begin, one NVML call (the energy counter);
end, six (energy counter, two ``GetSamples`` calls of two driver calls each,
memory), plus the process list when its check is due. Python's share is ~1 µs
a call; the driver's is expected at tens of µs a call (to confirm on hardware:
``bench/gpu_overhead.py``). Field-value batching (``nvmlDeviceGetFieldValues``)
is per device and the energy counter is the only field read at both edges, so
there is nothing to batch; the instant-power field is read only when a window
caught no power sample. Without NVML: no call at all, and ``end`` returns a
prebuilt dict.
"""

from __future__ import annotations

import dataclasses
import importlib
import os
import sys
import threading
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from time import perf_counter_ns, time_ns
from types import ModuleType
from typing import Any

from nbprofile.readings import Availability, Method, Reading, Readings
from nbprofile.meters.base import Meter

#: The energy counter's update period: shorter windows get an estimate.
COUNTER_UPDATE_PERIOD_S = 0.1
#: How long a process count stays fresh (the call costs ~0.5 ms; sharing changes slowly).
PROCESS_CHECK_INTERVAL_S = 5.0
#: The polling thread's period (memory peak; power and utilisation without a sample buffer).
POLL_INTERVAL_S = 0.1
#: Counter energy and sampled power x time further apart than this get a note (windows >= 1 s).
DISAGREEMENT = 0.25

NOT_INSTALLED = "nvidia-ml-py is not installed (pip install nvidia-ml-py)"
MIG_ENERGY = "MIG: the GPU's energy counter and power sensor cover every MIG instance, not this cell's"
MIG_UTIL = "MIG: NVML reports no utilisation for MIG instances"
NO_COUNTER = "this GPU has no energy counter (it needs Volta or newer)"
NEVER_OPENED = "the window was never opened"
_DEPRECATED_SHIM = "The pynvml package is deprecated"  # PyPI pynvml 13's redirector warns on import
_POWER, _UTIL = 0, 1  # NVML_TOTAL_POWER_SAMPLES, NVML_GPU_UTILIZATION_SAMPLES
_FI_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT
_VALUE_FIELDS = ("dVal", "uiVal", "ulVal", "ullVal", "sllVal", "siVal", "usVal")  # by NVML_VALUE_TYPE_*
_STRENGTH: dict[str, int] = {"measured": 0, "sampled": 1, "estimated": 2}


@dataclass(slots=True)
class Gpu:
    """One CUDA device, the NVML handles that measure it, and what they support."""

    index: int  #: CUDA ordinal (torch's numbering, CUDA_VISIBLE_DEVICES applied)
    uuid: str  #: the CUDA device's UUID (``MIG-...`` for a MIG instance)
    name: str
    nvml_index: int  #: the whole GPU's NVML (PCI-order) index
    board: Any  #: whole-GPU handle: energy, power, utilisation, processes
    memory: Any  #: memory handle: the MIG instance's under MIG
    mig: bool
    energy_reason: str | None = None  #: why the energy counter cannot be used; None when it can
    power_samples: bool = False
    util_samples: bool = False
    instant_power: bool = False  #: the POWER_INSTANT field (else GetPowerUsage, a 1 s average on Ampere+)
    memory_v2: bool = True
    others: int | None = None  #: other processes with a context on the GPU, when last checked
    others_by_count: bool = False  #: PIDs could not be matched to ours (container PID namespace)
    others_checked_ns: int | None = None
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        p = f"gpu{self.index}_"
        self.keys = (f"{p}energy_j", f"{p}power_mean_w", f"{p}power_peak_w", f"{p}util_pct",
                     f"{p}mem_used_bytes", f"{p}mem_used_peak_bytes")


@dataclass(slots=True)
class _Acc:
    """What the polling thread saw for one device during one window."""

    power_sum: float = 0.0
    power_n: int = 0
    power_max: float = 0.0
    util_sum: float = 0.0
    util_n: int = 0
    mem_max: int = 0


@dataclass(slots=True)
class _Window:
    t0_ns: int
    since_us: int  #: NVML timestamps are CPU time in µs since the epoch
    energy_mj: list[int | None]
    energy_error: list[str | None]
    accs: list[_Acc] | None = None


@dataclass(slots=True)
class _Physical:
    nvml_index: int
    handle: Any
    uuid: str
    name: str
    mig: bool
    instances: list[tuple[Any, str]] = field(default_factory=list)  # MIG (handle, uuid)


# A CUDA device before probing: (physical GPU, memory handle, uuid, is MIG)
_Target = tuple[_Physical, Any, str, bool]


class NvmlMeter(Meter):
    """Per-device GPU energy, power, utilisation and memory from NVML (see the module docstring).

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
            return self._availability()
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
        return self._availability()

    def _unavailable(self, reason: str, fix: str) -> Availability:
        self.mode = "unavailable"
        self._off = {"gpu_energy_j": Reading.unavailable("J", reason, "nvml")}
        return Availability(False, reason, fix)

    def _describe(self, index: int, target: _Target) -> Gpu:
        physical, memory, uuid, mig = target
        nvml = self._nvml
        gpu = Gpu(index, uuid, physical.name, physical.nvml_index, physical.handle, memory, mig)
        gpu.energy_reason = MIG_ENERGY if mig else _energy_support(nvml, physical.handle)
        gpu.power_samples = not mig and _samples_supported(nvml, physical.handle, _POWER)
        gpu.util_samples = not mig and _samples_supported(nvml, physical.handle, _UTIL)
        gpu.instant_power = not mig and _instant_power_supported(nvml, physical.handle)
        gpu.memory_v2 = _memory_v2_supported(nvml, memory)
        self._check_processes(gpu)
        return gpu

    def _availability(self) -> Availability:
        parts, fixes = [], []
        for g in self.gpus:
            if g.mig:
                energy = "no energy (MIG)"
            else:
                energy = "energy counter" if g.energy_reason is None else "energy estimated from power"
            power = "power/utilisation samples" if g.power_samples else "power polled"
            parts.append(f"gpu{g.index} {g.name} [{energy}, {power}]")
            if g.mig:
                fixes.append(f"gpu{g.index} is a MIG instance: energy needs the whole GPU "
                             f"(nvidia-smi -i {g.nvml_index} -mig 0)")
            elif g.energy_reason is not None:
                fixes.append(f"gpu{g.index}: {g.energy_reason}; energy is mean power x time")
        if self._order_assumed:
            fixes.append("CUDA's device order is assumed to be PCI order until torch confirms it; "
                         "set CUDA_DEVICE_ORDER=PCI_BUS_ID to make it certain")
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        shown = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
        detail = f"NVML, driver {self.driver_version}{shown}: " + "; ".join(parts)
        return Availability(True, detail, "; ".join(fixes) or None)

    # -- windows -------------------------------------------------------------
    def begin(self, key: object) -> None:
        if self._off is not None:
            return
        start = [self._read_energy(g) for g in self.gpus]
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
            return {k: Reading.unavailable(_unit(k), NEVER_OPENED, "nvml") for k in self.keys}
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
                device = {k: Reading.unavailable(_unit(k), reason, "nvml") for k in gpu.keys}
            readings.update(device)
            energies.append((gpu, device[gpu.keys[0]]))
        readings["gpu_energy_j"] = _sum_energy(energies)
        if self._order_assumed and not self._open:  # open windows index devices by position
            self._confirm_order_from_torch()
        return readings

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
        shared = self._shared_note(gpu)
        instant = _Lazy(lambda: self._instant_power(gpu))
        if gpu.mig:
            mean = peak = Reading.unavailable("W", MIG_ENERGY, "nvml")
            mean_w: float | None = None
            util = Reading.unavailable("%", MIG_UTIL, "nvml")
        else:
            mean, peak, mean_w = self._power(gpu, window, acc, duration_s, instant, shared)
            util = self._util(gpu, window, acc, duration_s, shared)
        energy = self._energy(gpu, window, i, duration_s, mean_w, instant, shared)
        used = self._memory_used(gpu)
        return {k_energy: energy, k_mean: mean, k_peak: peak, k_util: util,
                k_mem: Reading(used, "B", "measured", "nvmlDeviceGetMemoryInfo total-free"),
                k_mem_peak: self._memory_peak(used, acc)}

    def _energy(self, gpu: Gpu, window: _Window, i: int, duration_s: float, mean_w: float | None,
                instant: _Lazy, shared: str | None) -> Reading:
        if gpu.mig:
            return Reading.unavailable("J", MIG_ENERGY, "nvml")
        start, error = window.energy_mj[i], window.energy_error[i]
        if gpu.energy_reason is not None or error is not None:
            return self._estimate(gpu.energy_reason or error or "", duration_s, mean_w, instant, shared)
        end, error = self._read_energy(gpu)
        if error is not None or start is None or end is None:
            return self._estimate(error or "", duration_s, mean_w, instant, shared)
        delta_mj = end - start
        if delta_mj < 0:
            return Reading.unavailable("J", "the energy counter went backwards (was the driver reloaded?)", "nvml")
        ms = duration_s * 1000
        if duration_s < COUNTER_UPDATE_PERIOD_S:
            reason = (f"the {ms:.0f} ms window is shorter than the energy counter's ~"
                      f"{COUNTER_UPDATE_PERIOD_S * 1000:.0f} ms update period")
            return self._estimate(reason, duration_s, mean_w, instant, shared)
        if delta_mj == 0:  # a GPU never draws 0 W: the counter lagged
            reason = f"the energy counter did not advance in {ms:.0f} ms"
            return self._estimate(reason, duration_s, mean_w, instant, shared)
        joules = delta_mj / 1000
        note = _join(shared, _disagreement(joules, mean_w, duration_s))
        return Reading(joules, "J", "measured", "nvmlDeviceGetTotalEnergyConsumption", note)

    def _estimate(self, reason: str, duration_s: float, mean_w: float | None, instant: _Lazy,
                  shared: str | None) -> Reading:
        """Mean power x duration, labelled as an estimate; unavailable without any power figure."""
        if mean_w is not None:
            return Reading(mean_w * duration_s, "J", "estimated", "mean sampled power x time",
                           _join(reason, shared))
        watts, how = instant.get()
        if watts is None:
            return Reading.unavailable("J", f"{reason}, and no power reading was available ({how})", "nvml")
        return Reading(watts * duration_s, "J", "estimated", f"{how} x time", _join(reason, shared))

    def _power(self, gpu: Gpu, window: _Window, acc: _Acc | None, duration_s: float, instant: _Lazy,
               shared: str | None) -> tuple[Reading, Reading, float | None]:
        if gpu.power_samples:
            watts = [v / 1000 for v in self._samples(gpu.board, _POWER, window.since_us)]
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
            values = self._samples(gpu.board, _UTIL, window.since_us)
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

    # -- NVML reads ----------------------------------------------------------
    def _read_energy(self, gpu: Gpu) -> tuple[int | None, str | None]:
        if gpu.energy_reason is not None:
            return None, None
        try:
            return int(self._nvml.nvmlDeviceGetTotalEnergyConsumption(gpu.board)), None
        except self._nvml.NVMLError as exc:
            return None, f"the energy counter failed: {exc}"

    def _samples(self, handle: Any, kind: int, since_us: int) -> list[float]:
        nvml = self._nvml
        try:
            value_type, samples = nvml.nvmlDeviceGetSamples(handle, kind, since_us)
        except nvml.NVMLError_NotFound:  # the driver's answer when no sample is newer than since_us
            return []
        name = _VALUE_FIELDS[value_type]
        return [float(getattr(s.sampleValue, name)) for s in samples if s.timeStamp > since_us]

    def _instant_power(self, gpu: Gpu) -> tuple[float | None, str]:
        """(watts, how it was read), or (None, why not)."""
        nvml = self._nvml
        try:
            if gpu.instant_power:
                value = nvml.nvmlDeviceGetFieldValues(gpu.board, [_FI_POWER_INSTANT])[0]
                if value.nvmlReturn == 0:
                    return getattr(value.value, _VALUE_FIELDS[value.valueType]) / 1000, "instant power"
            return nvml.nvmlDeviceGetPowerUsage(gpu.board) / 1000, "nvmlDeviceGetPowerUsage"
        except nvml.NVMLError as exc:
            return None, f"power could not be read: {exc}"

    def _memory_used(self, gpu: Gpu) -> int:
        nvml = self._nvml
        if gpu.memory_v2:
            info = nvml.nvmlDeviceGetMemoryInfo(gpu.memory, version=nvml.nvmlMemory_v2)
        else:
            info = nvml.nvmlDeviceGetMemoryInfo(gpu.memory)
        return int(info.total - info.free)

    def _check_processes(self, gpu: Gpu) -> None:
        nvml = self._nvml
        gpu.others_checked_ns = self._clock()
        try:
            procs = nvml.nvmlDeviceGetComputeRunningProcesses(gpu.board)
        except nvml.NVMLError:  # NotSupported on some boards, NoPermission in some containers
            gpu.others = None
            return
        pids = {int(p.pid) for p in procs}
        if pids & self._ours:
            gpu.others, gpu.others_by_count = len(pids - self._ours), False
        else:
            # NVML reports host PIDs; in a container none is ours, and one of them may be us.
            gpu.others = max(0, len(pids) - (1 if _torch_uses_cuda() else 0))
            gpu.others_by_count = bool(gpu.others)

    def _shared_note(self, gpu: Gpu) -> str | None:
        checked = gpu.others_checked_ns
        if checked is None or self._clock() - checked >= self._process_ttl_ns:
            self._check_processes(gpu)
        if not gpu.others:
            return None
        n = gpu.others
        how = " (counted: NVML's PIDs are not in this kernel's namespace)" if gpu.others_by_count else ""
        return f"shared GPU: {n} other process{'es' if n != 1 else ''}{how}; energy is the whole GPU's"

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
                    if power is not None:
                        acc.power_sum += power
                        acc.power_n += 1
                        acc.power_max = max(acc.power_max, power)
                    if util is not None:
                        acc.util_sum += util
                        acc.util_n += 1
                    if mem is not None:
                        acc.mem_max = max(acc.mem_max, mem)

    def _poll_device(self, gpu: Gpu) -> tuple[float | None, float | None, int | None]:
        nvml = self._nvml
        power = util = mem = None
        try:
            if not gpu.mig and not gpu.power_samples:
                power = self._instant_power(gpu)[0]
            if not gpu.mig and not gpu.util_samples:
                util = float(nvml.nvmlDeviceGetUtilizationRates(gpu.board).gpu)
            if self._sample_memory:
                mem = self._memory_used(gpu)
        except nvml.NVMLError as exc:  # a thread cannot raise to anyone: keep the reason for the notes
            self._poll_error = f"polling failed: {exc}"
        return power, util, mem

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
        try:
            uuids = [_norm(str(torch.cuda.get_device_properties(i).uuid))
                     for i in range(torch.cuda.device_count())]
        except (AttributeError, RuntimeError):  # torch too old for .uuid, or CUDA failing: keep PCI order
            return
        by_uuid = {_norm(g.uuid): g for g in self.gpus}
        if sorted(uuids) != sorted(by_uuid) or uuids == [_norm(g.uuid) for g in self.gpus]:
            return
        self.gpus = [_reindexed(by_uuid[u], i) for i, u in enumerate(uuids)]
        self.keys = ("gpu_energy_j", *(k for g in self.gpus for k in g.keys))


class _Lazy:
    """A value computed at most once, on first use (the instant-power read)."""

    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[], tuple[float | None, str]]) -> None:
        self._fn = fn
        self._value: tuple[float | None, str] | None = None

    def get(self) -> tuple[float | None, str]:
        if self._value is None:
            self._value = self._fn()
        return self._value


class _Poller:
    """One daemon thread that calls ``tick`` every ``interval_s`` while a window is open."""

    def __init__(self, tick: Callable[[], None], interval_s: float) -> None:
        self._tick = tick
        self._interval = interval_s
        self._active = threading.Event()
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None

    def wake(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nbprofile-nvml", daemon=True)
            self._thread.start()
        self._active.set()

    def park(self) -> None:
        self._active.clear()

    def stop(self) -> None:
        self._stopped.set()
        self._active.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=self._interval + 2.0)

    def _run(self) -> None:
        while not self._stopped.is_set():
            self._active.wait()
            # the first tick an interval in: each window's end reads the values it needs itself
            if self._stopped.wait(self._interval):
                return
            if self._active.is_set():
                self._tick()


# -- discovery ------------------------------------------------------------------

def _import_pynvml() -> ModuleType:
    """``import pynvml`` (nvidia-ml-py), silencing the deprecated PyPI ``pynvml`` shim's FutureWarning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATED_SHIM, category=FutureWarning)
        return importlib.import_module("pynvml")


def _physical_gpus(nvml: Any) -> list[_Physical]:
    gpus = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        mig = _mig_enabled(nvml, handle)
        gpus.append(_Physical(i, handle, _text(nvml.nvmlDeviceGetUUID(handle)),
                              _text(nvml.nvmlDeviceGetName(handle)), mig,
                              _mig_instances(nvml, handle) if mig else []))
    return gpus


def _mig_enabled(nvml: Any, handle: Any) -> bool:
    try:
        return bool(nvml.nvmlDeviceGetMigMode(handle)[0] == nvml.NVML_DEVICE_MIG_ENABLE)
    except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound):  # not a MIG-capable GPU
        return False


def _mig_instances(nvml: Any, handle: Any) -> list[tuple[Any, str]]:
    instances = []
    for j in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, j)
        except (nvml.NVMLError_NotFound, nvml.NVMLError_InvalidArgument):  # an empty slot
            continue
        instances.append((mig, _text(nvml.nvmlDeviceGetUUID(mig))))
    return instances


def _cuda_order(gpus: list[_Physical]) -> list[_Target]:
    """CUDA devices with CUDA_VISIBLE_DEVICES unset: whole GPUs, and the instances of MIG-enabled ones."""
    order: list[_Target] = []
    for g in gpus:
        if g.mig:
            order.extend((g, handle, uuid, True) for handle, uuid in g.instances)
        else:
            order.append((g, g.handle, g.uuid, False))
    return order


def _resolve_visible(gpus: list[_Physical], visible: str | None) -> list[_Target]:
    """The CUDA devices ``CUDA_VISIBLE_DEVICES`` selects, in CUDA order.

    Torch's emulation of CUDA's rules (``torch.cuda._parse_visible_devices``):
    a list of ordinals read like ``strtoul`` (``"1gpu"`` is 1), or of ``GPU-``
    or ``MIG-`` UUID prefixes; the first invalid entry ends the list; a repeated
    entry makes it empty.
    """
    base = _cuda_order(gpus)
    if visible is None:
        return base
    chosen: list[_Target] = []
    by_uuid = visible.startswith(("GPU-", "MIG-"))
    for elem in visible.split(","):
        elem = elem.strip()
        if by_uuid:
            target = _by_uuid_prefix(gpus, elem) if elem.startswith(visible[:4]) else None
        else:
            ordinal = _strtoul(elem)
            target = base[ordinal] if 0 <= ordinal < len(base) else None
        if target is None:
            break
        if any(target[2] == c[2] for c in chosen):
            return []
        chosen.append(target)
    return chosen


def _by_uuid_prefix(gpus: list[_Physical], prefix: str) -> _Target | None:
    if prefix.startswith("MIG-GPU-"):  # the pre-R470 form MIG-GPU-<uuid>/<gi>/<ci>: the whole GPU's handle
        parent = prefix[4:].split("/")[0]
        found = [g for g in gpus if g.uuid == parent]
        return (found[0], found[0].handle, prefix, True) if found else None
    candidates: list[_Target] = [(g, g.handle, g.uuid, False) for g in gpus if not g.mig]
    candidates += [(g, handle, uuid, True) for g in gpus for handle, uuid in g.instances]
    matches = [c for c in candidates if c[2].startswith(prefix)]
    return matches[0] if len(matches) == 1 else None  # an ambiguous prefix is invalid


def _strtoul(text: str) -> int:
    digits = len(text) - len(text.lstrip("0123456789"))
    return int(text[:digits]) if digits else -1


def _energy_support(nvml: Any, handle: Any) -> str | None:
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound):
        return NO_COUNTER
    except nvml.NVMLError as exc:
        return f"the energy counter cannot be read: {exc}"
    return None


def _samples_supported(nvml: Any, handle: Any, kind: int) -> bool:
    try:
        nvml.nvmlDeviceGetSamples(handle, kind, 0)
    except nvml.NVMLError_NotFound:  # supported, the buffer is just empty
        return True
    except nvml.NVMLError:
        return False
    return True


def _instant_power_supported(nvml: Any, handle: Any) -> bool:
    if not hasattr(nvml, "nvmlDeviceGetFieldValues"):
        return False
    try:
        return bool(nvml.nvmlDeviceGetFieldValues(handle, [_FI_POWER_INSTANT])[0].nvmlReturn == 0)
    except nvml.NVMLError:
        return False


def _memory_v2_supported(nvml: Any, handle: Any) -> bool:
    """v1's ``used`` counts reserved memory (and changed meaning across drivers); prefer v2."""
    if not hasattr(nvml, "nvmlMemory_v2"):
        return False
    try:
        nvml.nvmlDeviceGetMemoryInfo(handle, version=nvml.nvmlMemory_v2)
    except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound):
        return False
    return True


# -- small helpers ------------------------------------------------------------------

def _sum_energy(parts: list[tuple[Gpu, Reading]]) -> Reading:
    """``gpu_energy_j``: the available devices' sum, its method the weakest, the missing ones named."""
    if len(parts) == 1:
        return parts[0][1]
    have = [(g, r) for g, r in parts if r.value is not None]
    missing = [f"gpu{g.index}: {r.note}" for g, r in parts if r.value is None]
    if not have:
        return Reading.unavailable("J", "; ".join(missing), "nvml")
    method: Method = max((r.method for _, r in have), key=lambda m: _STRENGTH.get(m, 2))
    total = sum(r.value for _, r in have if r.value is not None)
    notes = [f"without {m}" for m in missing] + [f"gpu{g.index}: {r.note}" for g, r in have if r.note]
    return Reading(total, "J", method, "sum over devices", "; ".join(notes) or None)


def _disagreement(joules: float, mean_w: float | None, duration_s: float) -> str | None:
    """A note when the counter and sampled power x time disagree (windows of 1 s or more)."""
    if mean_w is None or duration_s < 1.0 or joules <= 0:
        return None
    sampled = mean_w * duration_s
    if abs(joules - sampled) <= DISAGREEMENT * max(joules, sampled):
        return None
    return f"power samples x time give {sampled:.1f} J; the counter is the primary figure"


def _join(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _norm(uuid: str) -> str:
    """A UUID without its ``GPU-``/``MIG-`` prefix, lower case (torch prints it bare)."""
    lowered = uuid.lower()
    for prefix in ("gpu-", "mig-"):
        if lowered.startswith(prefix):
            return lowered[len(prefix):]
    return lowered


def _reindexed(gpu: Gpu, index: int) -> Gpu:
    return gpu if gpu.index == index else dataclasses.replace(gpu, index=index)  # keys follow the index


def _unit(key: str) -> str:
    for suffix, unit in (("_j", "J"), ("_w", "W"), ("_pct", "%"), ("_bytes", "B")):
        if key.endswith(suffix):
            return unit
    return ""


def _own_pids() -> set[int]:
    """This process's PID in every PID namespace /proc shows (``NSpid``), for matching NVML's list."""
    pids = {os.getpid()}
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("NSpid:"):
                    pids.update(int(p) for p in line.split()[1:])
                    break
    except OSError:
        pass  # not Linux: os.getpid() is all there is
    return pids


def _torch_with_cuda() -> Any | None:
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    return torch if cuda is not None and cuda.is_initialized() else None


def _torch_uses_cuda() -> bool:
    return _torch_with_cuda() is not None

