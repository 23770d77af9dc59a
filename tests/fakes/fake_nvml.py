"""A scriptable stand-in for ``pynvml`` (nvidia-ml-py) at the library boundary.

``FakeNvml(gpus, clock).module`` is a module object with the functions,
constants and error classes of pynvml that the NVML meter uses; a test installs
it with ``monkeypatch.setitem(sys.modules, "pynvml", fake.module)``. The GPUs
are :class:`FakeGpu` records; :meth:`FakeNvml.run` advances a shared
:class:`FakeClock` while the GPUs draw power, and with it the energy counters
(which, like the real ones, only move every ``counter_period_s``) and the
driver's sample buffers (one power and one utilisation sample every
``sample_period_s``, timestamped in µs since the epoch, as NVML's are).

Errors are raised as pynvml raises them: ``NVMLError(code)`` builds the
subclass for that code (``NVMLError_NotSupported``, ...), so the meter's narrow
``except`` clauses are exercised. ``FakeGpu.fail`` maps a function name to the
error code it should raise; ``FakeNvml.calls`` counts every call.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from types import ModuleType, SimpleNamespace
from typing import TYPE_CHECKING, Any, ClassVar, cast

if TYPE_CHECKING:
    from typing_extensions import Self

GiB = 1024**3
MiB = 1024**2
GPM_SM_UTIL = 2  # NVML_GPM_METRIC_SM_UTIL
GPM_ANY_TENSOR_UTIL = 5  # NVML_GPM_METRIC_ANY_TENSOR_UTIL

NVML_SUCCESS = 0
NVML_ERROR_UNINITIALIZED = 1
NVML_ERROR_INVALID_ARGUMENT = 2
NVML_ERROR_NOT_SUPPORTED = 3
NVML_ERROR_NO_PERMISSION = 4
NVML_ERROR_NOT_FOUND = 6
NVML_ERROR_INSUFFICIENT_SIZE = 7
NVML_ERROR_DRIVER_NOT_LOADED = 9
NVML_ERROR_LIBRARY_NOT_FOUND = 12
NVML_ERROR_FUNCTION_NOT_FOUND = 13
NVML_ERROR_GPU_IS_LOST = 15
NVML_ERROR_ARGUMENT_VERSION_MISMATCH = 25
NVML_ERROR_UNKNOWN = 999

_ERRORS = {
    NVML_ERROR_UNINITIALIZED: ("Uninitialized", "Uninitialized"),
    NVML_ERROR_INVALID_ARGUMENT: ("InvalidArgument", "Invalid Argument"),
    NVML_ERROR_NOT_SUPPORTED: ("NotSupported", "Not Supported"),
    NVML_ERROR_NO_PERMISSION: ("NoPermission", "Insufficient Permissions"),
    NVML_ERROR_NOT_FOUND: ("NotFound", "Not Found"),
    NVML_ERROR_INSUFFICIENT_SIZE: ("InsufficientSize", "Insufficient Size"),
    NVML_ERROR_DRIVER_NOT_LOADED: ("DriverNotLoaded", "Driver Not Loaded"),
    NVML_ERROR_LIBRARY_NOT_FOUND: ("LibraryNotFound", "NVML Shared Library Not Found"),
    NVML_ERROR_FUNCTION_NOT_FOUND: ("FunctionNotFound", "Function Not Found"),
    NVML_ERROR_GPU_IS_LOST: ("GpuIsLost", "GPU is lost"),
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH: ("ArgumentVersionMismatch", "Argument version mismatch"),
    NVML_ERROR_UNKNOWN: ("Unknown", "Unknown Error"),
}


class NVMLError(Exception):
    """pynvml's error: ``NVMLError(code)`` is an instance of that code's subclass."""

    _by_code: ClassVar[dict[int, type[NVMLError]]] = {}
    value: int

    def __new__(cls, value: int | None = None) -> Self:
        chosen = NVMLError._by_code.get(value, cls) if cls is NVMLError and value is not None else cls
        obj = Exception.__new__(chosen)
        obj.value = value if value is not None else getattr(cls, "code", NVML_ERROR_UNKNOWN)
        return cast("Self", obj)

    def __init__(self, value: int | None = None) -> None:
        super().__init__(self.value)

    def __str__(self) -> str:
        return _ERRORS.get(self.value, ("", f"NVML Error with code {self.value}"))[1]


ERROR_CLASSES: dict[str, type[NVMLError]] = {}
for _code, (_suffix, _) in _ERRORS.items():
    _cls = type(f"NVMLError_{_suffix}", (NVMLError,), {"code": _code})
    NVMLError._by_code[_code] = _cls
    ERROR_CLASSES[_cls.__name__] = _cls


class FakeClock:
    """One clock for the meter (``now_ns``, ``epoch_us``) and the fake driver."""

    def __init__(self, epoch_s: float = 1_800_000_000.0) -> None:
        self.ns = 1_000_000_000
        self._epoch0_us = int(epoch_s * 1e6)

    def now_ns(self) -> int:
        return self.ns

    def epoch_us(self) -> int:
        return self._epoch0_us + self.ns // 1000

    def advance(self, seconds: float) -> None:
        self.ns += round(seconds * 1e9)


@dataclass
class FakeMig:
    uuid: str
    mem_total: int = 10 * GiB
    mem_used: int = 1 * GiB


@dataclass
class FakeGpu:
    """One physical GPU and what its driver supports."""

    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    idle_w: float = 70.0
    energy_counter: bool = True  # Volta+; False raises NotSupported like a Pascal board
    counter_period_s: float = 0.1
    samples: bool = True  # nvmlDeviceGetSamples supported
    sample_period_s: float = 1 / 6
    buffer_len: int = 120  # samples the driver keeps per kind: ~20 s at 1/6 s
    util_period_s: float | None = None  # utilisation's own period and length, where they differ
    util_buffer_len: int | None = None  # (an H200 with driver 580: power 20 ms x 119, util ~0.2 s x 71)
    instant_power: bool = True  # the POWER_INSTANT field
    mig_capable: bool = True
    migs: list[FakeMig] | None = None  # MIG mode on, with these instances
    mem_total: int = 80 * GiB
    mem_used: int = 1 * GiB  # what processes allocated (v2's used)
    mem_reserved: int = 600 * MiB  # the driver's own: in v1's used, apart in v2
    processes: list[int] = field(default_factory=list)
    gpm: bool = True  # Hopper or newer: GPM metrics
    # function name -> error code raised on every call, or codes consumed one call at a time (None: succeed)
    fail: dict[str, int | list[int | None]] = field(default_factory=dict)
    # driver state
    energy_mj: float = 1_000_000.0  # the true cumulative energy
    counter_mj: int = 1_000_000  # what the counter shows (moves every counter_period_s)
    power_w: float = 0.0
    util_pct: float = 0.0
    sm_pct: float = 0.0
    tensor_pct: float = 0.0
    gpm_sm_s: float = 0.0  # SM-busy seconds since boot (integrated), and tensor-busy seconds
    gpm_tensor_s: float = 0.0
    power_buffer: collections.deque[tuple[int, int]] = field(init=False)  # (µs, mW), bounded
    util_buffer: collections.deque[tuple[int, int]] = field(init=False)  # (µs, %), bounded

    def __post_init__(self) -> None:
        self.power_w = self.idle_w
        self.power_buffer = collections.deque(maxlen=self.buffer_len)
        self.util_buffer = collections.deque(maxlen=self.util_buffer_len or self.buffer_len)


@dataclass(frozen=True)
class Handle:
    gpu: FakeGpu
    mig: FakeMig | None = None


@dataclass
class GpmSample:
    """What ``nvmlGpmSampleAlloc`` returns; filled by ``nvmlGpmSampleGet``."""

    uuid: str | None = None
    t_ns: int = 0
    sm_s: float = 0.0
    tensor_s: float = 0.0
    freed: bool = False


class GpmMetricsGet:
    """``c_nvmlGpmMetricsGet_t``: the caller sets version, numMetrics, sample1/2 and metric ids."""

    def __init__(self) -> None:
        self.version = 0
        self.numMetrics = 0
        self.sample1: Any = None
        self.sample2: Any = None
        self.metrics = [SimpleNamespace(metricId=0, nvmlReturn=0, value=0.0) for _ in range(8)]


class FakeNvml:
    """The fake driver; ``module`` is what ``import pynvml`` returns."""

    def __init__(self, gpus: list[FakeGpu], clock: FakeClock | None = None, *,
                 init_error: int | None = None, driver: str = "550.54.15",
                 log: list[str] | None = None) -> None:
        self.gpus = gpus
        self.clock = clock or FakeClock()
        self.init_error = init_error
        self.driver = driver
        self.log = log if log is not None else []
        self.calls: collections.Counter[str] = collections.Counter()
        self.module = self._build_module()

    # -- scripting -----------------------------------------------------------
    def run(self, seconds: float, watts: float | list[float] | None = None,
            util: float | list[float] = 100.0, step_s: float = 0.001, *,
            sm: float | None = None, tensor: float = 0.0) -> None:
        """Advance the clock by ``seconds`` while every GPU draws ``watts`` (per GPU if a list),
        busy ``util`` % of the time, with ``sm`` % of SMs active (default: ``util``) and tensor
        cores ``tensor`` % of the time (GPM)."""
        n = len(self.gpus)
        power = [watts] * n if not isinstance(watts, list) else watts
        utils = [util] * n if not isinstance(util, list) else util
        for g, w, u in zip(self.gpus, power, utils):
            g.power_w = g.idle_w if w is None else w
            g.util_pct = u
            g.sm_pct = u if sm is None else sm
            g.tensor_pct = tensor
        steps = max(1, round(seconds / step_s))
        for _ in range(steps):
            before = self.clock.ns
            self.clock.advance(seconds / steps)
            for g in self.gpus:
                self._step(g, before, self.clock.ns)

    def idle(self, seconds: float) -> None:
        self.run(seconds, None, 0.0)

    def _step(self, g: FakeGpu, t0_ns: int, t1_ns: int) -> None:
        g.energy_mj += g.power_w * (t1_ns - t0_ns) / 1e6
        g.gpm_sm_s += g.sm_pct / 100 * (t1_ns - t0_ns) / 1e9
        g.gpm_tensor_s += g.tensor_pct / 100 * (t1_ns - t0_ns) / 1e9
        if _crossed(t0_ns, t1_ns, g.counter_period_s):
            g.counter_mj = int(g.energy_mj)
        if _crossed(t0_ns, t1_ns, g.sample_period_s):
            g.power_buffer.append((self.clock.epoch_us(), round(g.power_w * 1000)))
        if _crossed(t0_ns, t1_ns, g.util_period_s or g.sample_period_s):
            g.util_buffer.append((self.clock.epoch_us(), round(g.util_pct)))

    # -- the module ----------------------------------------------------------
    def _build_module(self) -> ModuleType:
        m = ModuleType("pynvml")
        m.__dict__.update(
            NVMLError=NVMLError, **ERROR_CLASSES,
            NVML_SUCCESS=NVML_SUCCESS, NVML_DEVICE_MIG_ENABLE=1, NVML_TOTAL_POWER_SAMPLES=0,
            NVML_GPU_UTILIZATION_SAMPLES=1, NVML_FI_DEV_POWER_INSTANT=186, nvmlMemory_v2=0x02000028,
            NVML_VALUE_TYPE_UNSIGNED_INT=1, NVML_GPM_METRIC_SM_UTIL=GPM_SM_UTIL,
            NVML_GPM_METRIC_ANY_TENSOR_UTIL=GPM_ANY_TENSOR_UTIL, NVML_GPM_METRICS_GET_VERSION=1,
            c_nvmlGpmMetricsGet_t=GpmMetricsGet,
        )
        for name in dir(self):
            if name.startswith("nvml"):
                m.__dict__[name] = self._wrap(name, getattr(self, name))
        return m

    def _wrap(self, name: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls[name] += 1
            handle = args[0] if args and isinstance(args[0], Handle) else None
            if handle is not None:
                _maybe_fail(handle.gpu, name)
            return fn(*args, **kwargs)

        call.__name__ = name
        return call

    # pynvml's functions, as the meter calls them
    def nvmlInit(self) -> None:
        if self.init_error is not None:
            raise NVMLError(self.init_error)

    def nvmlShutdown(self) -> None:
        pass

    def nvmlSystemGetDriverVersion(self) -> str:
        return self.driver

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, index: int) -> Handle:
        if not 0 <= index < len(self.gpus):
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        return Handle(self.gpus[index])

    def nvmlDeviceGetUUID(self, handle: Handle) -> bytes:
        return (handle.mig.uuid if handle.mig else handle.gpu.uuid).encode()  # old bindings return bytes

    def nvmlDeviceGetName(self, handle: Handle) -> str:
        return handle.gpu.name

    def nvmlDeviceGetMigMode(self, handle: Handle) -> list[int]:
        if not handle.gpu.mig_capable:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        on = int(handle.gpu.migs is not None)
        return [on, on]

    def nvmlDeviceGetMaxMigDeviceCount(self, handle: Handle) -> int:
        return 7

    def nvmlDeviceGetMigDeviceHandleByIndex(self, handle: Handle, index: int) -> Handle:
        migs = handle.gpu.migs or []
        if index >= len(migs):
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return Handle(handle.gpu, migs[index])

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Handle) -> int:
        if not handle.gpu.energy_counter or handle.mig is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        self.log.append(f"nvml.energy({handle.gpu.uuid})")
        return handle.gpu.counter_mj

    def nvmlDeviceGetSamples(self, handle: Handle, kind: int, since_us: int) -> tuple[int, list[Any]]:
        if not handle.gpu.samples or handle.mig is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        buffer = handle.gpu.power_buffer if kind == 0 else handle.gpu.util_buffer
        found = [SimpleNamespace(timeStamp=ts, sampleValue=SimpleNamespace(uiVal=v, ullVal=v))
                 for ts, v in buffer if ts > since_us]
        if not found:
            raise NVMLError(NVML_ERROR_NOT_FOUND)
        return 1, found  # NVML_VALUE_TYPE_UNSIGNED_INT: power in mW, utilisation in %

    def nvmlDeviceGetFieldValues(self, handle: Handle, field_ids: list[int]) -> list[Any]:
        values = []
        for fid in field_ids:
            ok = fid == 186 and handle.gpu.instant_power
            values.append(SimpleNamespace(
                fieldId=fid, nvmlReturn=0 if ok else NVML_ERROR_NOT_SUPPORTED, valueType=1,
                value=SimpleNamespace(uiVal=round(handle.gpu.power_w * 1000) if ok else 0)))
        return values

    def nvmlDeviceGetPowerUsage(self, handle: Handle) -> int:
        return round(handle.gpu.power_w * 1000)

    def nvmlDeviceGetUtilizationRates(self, handle: Handle) -> Any:
        return SimpleNamespace(gpu=round(handle.gpu.util_pct), memory=0)

    def nvmlDeviceGetMemoryInfo(self, handle: Handle, version: int | None = None) -> Any:
        total, used = ((handle.mig.mem_total, handle.mig.mem_used) if handle.mig
                       else (handle.gpu.mem_total, handle.gpu.mem_used))
        reserved = handle.gpu.mem_reserved
        free = total - used - reserved
        if not version:  # v1: used is total - free, the driver's reservation included
            return SimpleNamespace(total=total, free=free, used=total - free)
        _maybe_fail(handle.gpu, "nvmlDeviceGetMemoryInfo_v2")
        return SimpleNamespace(version=version, total=total, reserved=reserved, free=free, used=used)

    def nvmlDeviceGetComputeRunningProcesses(self, handle: Handle) -> list[Any]:
        return [SimpleNamespace(pid=pid, usedGpuMemory=GiB) for pid in handle.gpu.processes]

    # GPM (Hopper and newer)
    def nvmlGpmQueryDeviceSupport(self, handle: Handle) -> Any:
        return SimpleNamespace(version=1, isSupportedDevice=int(handle.gpu.gpm))

    def nvmlGpmSampleAlloc(self) -> GpmSample:
        return GpmSample()

    def nvmlGpmSampleFree(self, sample: GpmSample) -> None:
        sample.freed = True

    def nvmlGpmSampleGet(self, handle: Handle, sample: GpmSample) -> GpmSample:
        if not handle.gpu.gpm or handle.mig is not None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        sample.uuid, sample.t_ns = handle.gpu.uuid, self.clock.ns
        sample.sm_s, sample.tensor_s = handle.gpu.gpm_sm_s, handle.gpu.gpm_tensor_s
        return sample

    def nvmlGpmMetricsGet(self, get: GpmMetricsGet) -> GpmMetricsGet:
        a, b = get.sample1, get.sample2
        if get.version != 1 or a.freed or b.freed or a.uuid is None or a.uuid != b.uuid:
            raise NVMLError(NVML_ERROR_INVALID_ARGUMENT)
        seconds = (b.t_ns - a.t_ns) / 1e9
        for m in get.metrics[:get.numMetrics]:
            busy = {GPM_SM_UTIL: b.sm_s - a.sm_s,
                    GPM_ANY_TENSOR_UTIL: b.tensor_s - a.tensor_s}.get(m.metricId)
            m.nvmlReturn = NVML_SUCCESS if busy is not None and seconds > 0 else NVML_ERROR_NOT_SUPPORTED
            m.value = 100 * busy / seconds if busy is not None and seconds > 0 else 0.0
        return get


def _maybe_fail(gpu: FakeGpu, name: str) -> None:
    """Raise the error ``gpu.fail`` scripts for this call of ``name``, if any."""
    plan = gpu.fail.get(name)
    if isinstance(plan, list):
        code = plan.pop(0) if plan else None
        if not plan:
            del gpu.fail[name]
    else:
        code = plan
    if code is not None:
        raise NVMLError(code)


def _crossed(t0_ns: int, t1_ns: int, period_s: float) -> bool:
    period_ns = round(period_s * 1e9)
    return t0_ns // period_ns != t1_ns // period_ns
