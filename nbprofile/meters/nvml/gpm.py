"""SM and tensor-core activity per window, from NVML's GPU Performance Monitoring (GPM).

On Hopper and newer, ``nvmlGpmSampleGet`` snapshots the GPU's activity
counters; ``nvmlGpmMetricsGet`` turns two snapshots into percentages. A window
takes one snapshot per device at each edge (two driver calls per device per
window, plus one ``MetricsGet``): ``NVML_GPM_METRIC_SM_UTIL`` (the share of SMs
busy) and ``NVML_GPM_METRIC_ANY_TENSOR_UTIL`` (the share of time the SMs ran
any tensor-core instruction). No FLOP counting and no process-list query.

NVML documents that the two snapshots should be more than ~100 ms apart (its
counters refresh at that rate), so shorter windows get the reason instead.
Support is asked once, at probe (``nvmlGpmQueryDeviceSupport``); where there
is none (before Hopper, a MIG instance, bindings without GPM) each reading says
why. Sample buffers are allocated once and reused (``nvmlGpmSampleAlloc``),
freed at :meth:`Gpm.close`.
"""

from __future__ import annotations

import dataclasses
import warnings
from dataclasses import dataclass
from typing import Any

from nbprofile.meters.nvml.discovery import Gpu
from nbprofile.readings import Availability, Reading

SM_UTIL, ANY_TENSOR_UTIL = 2, 5  # NVML_GPM_METRIC_SM_UTIL, NVML_GPM_METRIC_ANY_TENSOR_UTIL
#: NVML's GPM counters refresh about this often: shorter windows get no figure
GPM_MIN_WINDOW_S = 0.1
NO_BINDING = "this nvidia-ml-py has no GPM functions (GPM needs nvidia-ml-py 12 or newer)"
GPM_MIG = "MIG: GPM activity is read for whole GPUs only"
SOURCE = "NVML GPM"


def keys(gpu: Gpu) -> tuple[str, str]:
    return f"gpu{gpu.index}_sm_active_pct", f"gpu{gpu.index}_tensor_active_pct"


@dataclass(slots=True)
class _Start:
    sample: Any = None
    error: str | None = None


class Gpm:
    """GPM for the meter's devices: support probed once, two snapshots per window."""

    def __init__(self, nvml: Any, gpus: list[Gpu]) -> None:
        self._nvml = nvml
        #: why GPM cannot be read, by device UUID (None: it can)
        self.reasons: dict[str, str | None] = {g.uuid: _support(nvml, g) for g in gpus}
        self.on = any(r is None for r in self.reasons.values())  #: some device has GPM
        self._pool: list[Any] = []
        self._allocated: list[Any] = []
        self._get: Any = None  # the MetricsGet struct (~20 KB in ctypes), made once and reused

    def begin(self, gpus: list[Gpu]) -> list[_Start | None]:
        return [self._snapshot(g) if self.reasons.get(g.uuid) is None else None for g in gpus]

    def end(self, gpus: list[Gpu], starts: list[_Start | None] | None,
            duration_s: float) -> dict[str, Reading]:
        out: dict[str, Reading] = {}
        for i, gpu in enumerate(gpus):
            start = starts[i] if starts is not None and i < len(starts) else None
            out.update(zip(keys(gpu), self._device(gpu, start, duration_s)))
        return out

    def discard(self, starts: list[_Start | None] | None) -> None:
        for start in starts or ():
            if start is not None and start.sample is not None:
                self._pool.append(start.sample)

    def close(self) -> None:
        for sample in self._allocated:
            try:
                self._nvml.nvmlGpmSampleFree(sample)
            except self._nvml.NVMLError as exc:  # NVML shuts down next, which frees it anyway
                warnings.warn(f"nbprofile: nvmlGpmSampleFree failed: {exc}", RuntimeWarning, stacklevel=2)
        self._allocated, self._pool = [], []

    # -- one device ------------------------------------------------------------
    def _device(self, gpu: Gpu, start: _Start | None, duration_s: float) -> tuple[Reading, Reading]:
        reason = self.reasons.get(gpu.uuid) or (start.error if start is not None else None)
        if start is None and reason is None:
            reason = "GPM was not sampled at the window's start"
        if reason is None and duration_s < GPM_MIN_WINDOW_S:
            reason = (f"the {duration_s * 1000:.0f} ms window is shorter than GPM's "
                      f"~{GPM_MIN_WINDOW_S * 1000:.0f} ms counter refresh")
        if reason is not None or start is None:
            self.discard([start])
            unavailable = Reading.unavailable("%", reason or "", "nvml")
            return unavailable, unavailable
        end = self._snapshot(gpu)
        try:
            if end.error is not None:
                raise _Failed(end.error)
            sm, tensor = self._metrics(start.sample, end.sample)
        except _Failed as exc:
            unavailable = Reading.unavailable("%", str(exc), "nvml")
            return unavailable, unavailable
        finally:
            self.discard([start, end])
        return sm, tensor

    def _snapshot(self, gpu: Gpu) -> _Start:
        nvml = self._nvml
        try:
            sample = self._pool.pop() if self._pool else self._alloc()
        except nvml.NVMLError as exc:
            return _Start(error=f"nvmlGpmSampleAlloc failed: {exc}")
        try:
            nvml.nvmlGpmSampleGet(gpu.board, sample)
        except nvml.NVMLError as exc:
            self._pool.append(sample)
            return _Start(error=f"nvmlGpmSampleGet failed: {exc}")
        return _Start(sample)

    def _alloc(self) -> Any:
        sample = self._nvml.nvmlGpmSampleAlloc()
        self._allocated.append(sample)
        return sample

    def _metrics(self, first: Any, second: Any) -> tuple[Reading, Reading]:
        nvml = self._nvml
        get = self._get
        if get is None:
            self._get = get = nvml.c_nvmlGpmMetricsGet_t()
        get.version = getattr(nvml, "NVML_GPM_METRICS_GET_VERSION", 1)
        get.numMetrics = 2
        get.sample1, get.sample2 = first, second
        get.metrics[0].metricId = getattr(nvml, "NVML_GPM_METRIC_SM_UTIL", SM_UTIL)
        get.metrics[1].metricId = getattr(nvml, "NVML_GPM_METRIC_ANY_TENSOR_UTIL", ANY_TENSOR_UTIL)
        try:
            nvml.nvmlGpmMetricsGet(get)
        except nvml.NVMLError as exc:
            raise _Failed(f"nvmlGpmMetricsGet failed: {exc}") from exc
        return (_metric(get.metrics[0], "SM_UTIL: share of SMs busy"),
                _metric(get.metrics[1], "ANY_TENSOR_UTIL: share of time on tensor cores"))


class _Failed(Exception):
    """A GPM call failed: its text is the readings' reason."""


def _metric(metric: Any, what: str) -> Reading:
    if metric.nvmlReturn != 0:
        return Reading.unavailable("%", f"NVML GPM could not compute {what.split(':')[0]} "
                                        f"(error {metric.nvmlReturn})", "nvml")
    return Reading(max(0.0, min(100.0, float(metric.value))), "%", "measured", f"{SOURCE} {what}")


def with_gpm(availability: Availability, gpm: Gpm | None) -> Availability:
    """The probe's detail with what GPM can read (for ``%nbprofile status`` and ``nbprofile doctor``)."""
    if gpm is None or not availability.available:
        return availability
    reasons = set(gpm.reasons.values())
    said = ("GPM SM/tensor activity" if reasons == {None} else
            "GPM on some GPUs" if None in reasons else f"no GPM activity ({sorted(map(str, reasons))[0]})")
    return dataclasses.replace(availability, detail=f"{availability.detail}; {said}")


def _support(nvml: Any, gpu: Gpu) -> str | None:
    """Why GPM cannot be read on ``gpu``; None when it can."""
    if not hasattr(nvml, "nvmlGpmQueryDeviceSupport") or not hasattr(nvml, "c_nvmlGpmMetricsGet_t"):
        return NO_BINDING
    if gpu.mig:
        return GPM_MIG
    try:
        support = nvml.nvmlGpmQueryDeviceSupport(gpu.board)
    except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound) as exc:
        return f"GPM is not supported here ({exc}): it needs a Hopper or newer GPU and driver"
    except nvml.NVMLError as exc:  # NoPermission, an old driver's ArgumentVersionMismatch: GPM alone is off
        return f"GPM could not be queried: {exc}"
    if not support.isSupportedDevice:
        return f"GPM needs a Hopper or newer GPU ({gpu.name} has none)"
    return None
