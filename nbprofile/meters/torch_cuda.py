"""GPU-synchronised time and torch allocator peaks, per window.

The meter touches CUDA only through torch, and only when the user's code has
already imported torch *and* initialised CUDA: it looks at
``sys.modules.get("torch")`` and ``torch.cuda.is_initialized()`` at every edge
(about 0.3 µs) and never imports torch or creates a CUDA context itself (a
context costs hundreds of MB of device memory and about a second).

At each edge it synchronises every device that already has a CUDA context, so
that kernels still queued when a cell's Python code returns are charged to that
cell and not to the next one. That wait can take minutes and is part of the
measurement: it runs on the meter's own thread under its own limit (ten
minutes by default, :mod:`nbprofile.meters.cuda_sync`), and for that wait alone
the meter asks the engine's hang guard for that long (``wait_hook``, set by the
engine), so a cell with much queued GPU work keeps its GPU time and the meter
stays on, while anything else in the meter that hangs is still stopped in 2 s.
``gpu_time_s`` is the host-clock span between the two synchronised edges: the
time the cell kept the GPU busy or waiting, kernels
queued at its end included. It is a span, not the GPU's busy time (NVML's
utilisation samples give that).

Peaks come from torch's caching allocator: ``reset_peak_memory_stats(d)`` at the
window's start, the peak of allocated and reserved bytes at its end. They are
exact for memory torch allocates and blind to everything else (the CUDA context,
cuBLAS/cuDNN workspaces outside the allocator, other libraries, other
processes): NVML's ``total - free`` (see :mod:`nbprofile.meters.nvml`) covers
those. The reset is process-wide, so before resetting for a nested window (a
``measure()`` block in a cell) the meter folds the peaks reached so far into the
windows already open; with ``reset_peaks=False`` it does not reset at all and a
peak it cannot attribute to the window is labelled as an upper bound.

CUDA initialised during the cell (the cell's first ``.cuda()``): the window
began with no GPU work possible, so the begin edge needed no synchronisation and
the allocator's statistics start with the cell; ``end`` reads both as usual and
says so in a note.

Which devices are "in use": those with a primary context, asked through
``torch._C._cuda_hasPrimaryContext``, a private torch function, because it is
the only way to ask without creating a context (``torch.cuda.synchronize(d)``
on a device the process never used would create one). Where it is missing the
meter uses the current device only.
"""

from __future__ import annotations

import importlib.util
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from time import perf_counter_ns
from typing import Any

from nbprofile.meters.base import Meter
from nbprofile.meters.cuda_sync import Synchronizer, sync_timeout_from_env
from nbprofile.readings import Availability, Method, Reading, Readings

TORCH_NOT_IMPORTED = "torch is not imported in this kernel"
CUDA_NOT_INITIALISED = "CUDA is not initialised: the cell used no GPU"
CUDA_INITIALISED_IN_WINDOW = "CUDA was initialised during this cell: the span includes CUDA's start-up"
NEVER_OPENED = "the window was never opened"
SOURCE_SPAN = "cuda.synchronize+perf_counter"
SOURCE_ALLOCATOR = "torch.cuda memory stats"
#: the hang guard's deadline exceeds the meter's own wait limit by this much, so the meter's fires first
GUARD_MARGIN_S = 5.0


@dataclass(slots=True)
class _Window:
    """One open window's state."""

    t0_ns: int
    #: CUDA was initialised when the window began (else: initialised inside it, or never)
    cuda_at_begin: bool
    #: device -> [allocated peak, reserved peak] reached before a later window's reset
    folded: dict[int, list[int]] = field(default_factory=dict)
    #: device -> (allocated peak, reserved peak) at the start; only with reset_peaks=False
    base: dict[int, tuple[int, int]] = field(default_factory=dict)
    #: why the begin edge could not be synchronised
    sync_error: str | None = None


class TorchCudaMeter(Meter):
    """GPU-synchronised span and per-device allocator peaks (torch only).

    Keys: ``gpu_time_s`` always; ``gpu{i}_vram_peak_bytes`` and
    ``gpu{i}_vram_reserved_peak_bytes`` for every CUDA device ``i`` (torch's
    numbering) that has a context at the window's end. ``vram_peak_bytes``, the
    max over devices with NVML as fallback, is made by :func:`derive_vram_peak`.

    ``sync_timeout_s``: how long an edge waits for the GPU's queued work
    (default ``NBPROFILE_GPU_SYNC_TIMEOUT_S`` or 600 s); past it the window's
    GPU time is unavailable with the reason, and the notebook goes on.

    ``reset_peaks``: reset torch's peak statistics at every window start (the
    default). Turn it off when the notebook reads ``max_memory_allocated()``
    itself across cells: the reset is global, so the meter would change what the
    user's code sees.

    Cost per window when torch is not in use: two dictionary look-ups and a
    ``perf_counter_ns``. In use: a synchronise per device at each edge (a few µs
    when the GPU is idle), a reset per device at the start and one
    ``memory_stats_as_nested_dict`` per device at the end.
    """

    name = "torch_cuda"

    def __init__(self, reset_peaks: bool = True, clock_ns: Callable[[], int] = perf_counter_ns,
                 sync_timeout_s: float | None = None) -> None:
        self.reset_peaks = reset_peaks
        self._clock = clock_ns
        self._sync = Synchronizer(sync_timeout_from_env() if sync_timeout_s is None else sync_timeout_s)
        #: how long one synchronisation may take before the engine's hang guard steps in
        self.guard_timeout_s = self._sync.timeout_s + GUARD_MARGIN_S
        #: set by the engine: called with guard_timeout_s as a wait starts, and with None when it ends
        self.wait_hook: Callable[[float | None], None] | None = None
        self._open: dict[object, _Window] = {}
        self.keys: tuple[str, ...] = ("gpu_time_s",)
        self._devices_seen: int = 0
        # Built once: the readings of a window with no GPU in it cost nothing to return.
        self._no_torch: Readings = {"gpu_time_s": Reading.unavailable("s", TORCH_NOT_IMPORTED, SOURCE_SPAN)}
        self._no_cuda: Readings = {"gpu_time_s": Reading.unavailable("s", CUDA_NOT_INITIALISED, SOURCE_SPAN)}
        self._never: Readings = {"gpu_time_s": Reading.unavailable("s", NEVER_OPENED, SOURCE_SPAN)}

    # -- probing -------------------------------------------------------------
    def probe(self) -> Availability:
        torch = sys.modules.get("torch")
        if torch is not None:
            return _probe_imported(torch)
        spec = importlib.util.find_spec("torch")  # finds the package without importing it
        if spec is None:
            return Availability(False, "torch is not installed",
                                "install a CUDA build of torch to get GPU-synchronised time and allocator peaks")
        cuda = _torch_cuda_version(spec.origin)
        if cuda == "None":
            return Availability(False, "torch is a CPU-only build (torch.version.cuda is None)",
                                "install a CUDA build of torch")
        built = f" (built for CUDA {cuda})" if cuda else ""
        return Availability(True, f"torch is installed{built}; measures once a cell has used CUDA through "
                                  "torch, and never imports torch or initialises CUDA itself")

    # -- windows -------------------------------------------------------------
    def begin(self, key: object) -> None:
        torch = sys.modules.get("torch")
        if torch is None or not _cuda_initialised(torch):
            self._open[key] = _Window(self._clock(), False)
            return
        devices = _devices_in_use(torch)
        window = _Window(0, True, sync_error=self._synchronize(torch, devices))
        cuda = torch.cuda
        if self.reset_peaks:
            if self._open:  # the reset below is global: keep what the open windows reached
                self._fold(cuda, devices)
            for d in devices:
                cuda.reset_peak_memory_stats(d)
        else:
            window.base = {d: _peaks(cuda, d) for d in devices}
        window.t0_ns = self._clock()  # after the synchronisation: the previous work stays out
        self._open[key] = window

    def end(self, key: object) -> Readings:
        window = self._open.pop(key, None)
        if window is None:
            return dict(self._never)
        torch = sys.modules.get("torch")
        if torch is None:
            return dict(self._no_torch)
        if not _cuda_initialised(torch):
            return dict(self._no_cuda)
        devices = _devices_in_use(torch)
        sync_error = self._synchronize(torch, devices)
        t1 = self._clock()
        readings: Readings = {"gpu_time_s": self._span(window, t1, sync_error)}
        cuda = torch.cuda
        for d in devices:
            readings.update(self._device_peaks(cuda, d, window))
        if len(devices) and devices[-1] + 1 > self._devices_seen:
            self._grow_keys(devices[-1] + 1)
        return readings

    def discard(self, key: object) -> None:
        self._open.pop(key, None)

    def close(self) -> None:
        self._sync.stop()

    # -- helpers -------------------------------------------------------------
    def _synchronize(self, torch: Any, devices: list[int]) -> str | None:
        """Wait for the devices' queued work on the meter's thread; why not, if it failed or took too long."""
        hook = self.wait_hook
        if hook is not None:
            hook(self.guard_timeout_s)
        try:
            return self._sync.run(lambda: _synchronize(torch, devices))
        finally:
            if hook is not None:
                hook(None)

    def _span(self, window: _Window, t1: int, sync_error: str | None) -> Reading:
        error = window.sync_error or sync_error
        if error is not None:
            return Reading.unavailable("s", error, SOURCE_SPAN)
        note = None if window.cuda_at_begin else CUDA_INITIALISED_IN_WINDOW
        return Reading((t1 - window.t0_ns) / 1e9, "s", "measured", SOURCE_SPAN, note)

    def _device_peaks(self, cuda: Any, d: int, window: _Window) -> Readings:
        allocated, reserved = _peaks(cuda, d)
        folded = window.folded.get(d)
        if folded is not None:
            allocated, reserved = max(allocated, folded[0]), max(reserved, folded[1])
        method: Method = "measured"
        note: str | None = None
        if not window.cuda_at_begin:
            note = "CUDA was initialised during this cell: peaks since then"
        elif not self.reset_peaks:
            base = window.base.get(d)
            if base is not None and allocated <= base[0]:
                # No new lifetime peak in this window: the peak we read may predate it.
                method, note = "estimated", "upper bound: the peak since torch's last reset (reset_peaks=False)"
        return {
            f"gpu{d}_vram_peak_bytes": Reading(allocated, "B", method, SOURCE_ALLOCATOR, note),
            f"gpu{d}_vram_reserved_peak_bytes": Reading(reserved, "B", method, SOURCE_ALLOCATOR, note),
        }

    def _fold(self, cuda: Any, devices: list[int]) -> None:
        for d in devices:
            allocated, reserved = _peaks(cuda, d)
            for window in self._open.values():
                running = window.folded.setdefault(d, [0, 0])
                running[0] = max(running[0], allocated)
                running[1] = max(running[1], reserved)

    def _grow_keys(self, count: int) -> None:
        """List the per-device keys once a window has seen devices (for fault fill-in and display)."""
        self._devices_seen = count
        per_device = [k for d in range(count)
                      for k in (f"gpu{d}_vram_peak_bytes", f"gpu{d}_vram_reserved_peak_bytes")]
        self.keys = ("gpu_time_s", *per_device)


def _cuda_initialised(torch: Any) -> bool:
    cuda = getattr(torch, "cuda", None)  # None while torch is still half-imported
    return cuda is not None and bool(cuda.is_initialized())


def _devices_in_use(torch: Any) -> list[int]:
    """CUDA devices that already have a context, found without creating one."""
    has_context = getattr(torch._C, "_cuda_hasPrimaryContext", None)
    if has_context is None:
        return [torch.cuda.current_device()]
    return [d for d in range(torch.cuda.device_count()) if has_context(d)]


def _synchronize(torch: Any, devices: list[int]) -> str | None:
    """Wait for every device's queued work; the error text if CUDA reports one.

    A failed kernel of the user's surfaces at the next synchronisation, which
    may be ours: it becomes this window's reason, and stays sticky for the
    user's next CUDA call, where it belongs.
    """
    for d in devices:
        try:
            torch.cuda.synchronize(d)
        except RuntimeError as exc:  # torch raises RuntimeError (AcceleratorError) for CUDA errors
            return f"CUDA failed while synchronising: {type(exc).__name__}: {exc}"
    return None


def _peaks(cuda: Any, device: int) -> tuple[int, int]:
    """(peak allocated, peak reserved) bytes since the last reset, from one stats call.

    ``max_memory_allocated`` and ``max_memory_reserved`` each flatten and sort
    the whole statistics dictionary; the nested form is read once for both.
    """
    stats = cuda.memory_stats_as_nested_dict(device)
    try:
        return int(stats["allocated_bytes"]["all"]["peak"]), int(stats["reserved_bytes"]["all"]["peak"])
    except KeyError:  # an allocator backend that keeps other statistics
        return int(cuda.max_memory_allocated(device)), int(cuda.max_memory_reserved(device))


def _probe_imported(torch: Any) -> Availability:
    version = getattr(getattr(torch, "version", None), "cuda", None)
    if version is None:
        return Availability(False, "torch is a CPU-only build (torch.version.cuda is None)",
                            "install a CUDA build of torch")
    if _cuda_initialised(torch):
        count = len(_devices_in_use(torch))
        return Availability(True, f"torch uses CUDA {version} on {count} device(s): synchronised span and "
                                  "allocator peaks per cell")
    return Availability(True, f"torch is imported (CUDA {version}); measures once a cell initialises CUDA, "
                              "and never initialises it itself")


_CUDA_LINE = re.compile(r"^cuda\s*(?::[^=]*)?=\s*['\"]?([^'\"\s]+)", re.MULTILINE)


def _torch_cuda_version(origin: str | None) -> str | None:
    """``torch.version.cuda`` read from torch's ``version.py`` without importing torch.

    ``"None"`` for a CPU-only build; ``None`` when the file cannot be read.
    """
    if not origin:
        return None
    try:
        text = (Path(origin).parent / "version.py").read_text()
    except OSError:
        return None
    match = _CUDA_LINE.search(text)
    return match.group(1) if match else None


def cuda_device_name() -> str | None:
    """The current CUDA device's name, only if torch is imported and CUDA already up (never starts it)."""
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        return None
    name: str = torch.cuda.get_device_name(torch.cuda.current_device())
    return name
