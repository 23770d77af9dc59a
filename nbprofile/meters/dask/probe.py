"""What runs on each Dask worker at a cell's edges: open a window, then close it and say what changed.

:func:`worker_probe` is sent to the worker's ``run`` handler (directly or with ``client.run``,
see :mod:`.direct`) pickled *by value* (the meter pickles it once,
:class:`~nbprofile.meters.dask.meter.ByValue`), so a remote worker needs neither
nbprofile nor anything but the standard library (and cloudpickle, which distributed brings);
pynvml and psutil are used where the worker has them. Its state between calls (the open
windows' starting figures, the peak's marks) lives on the worker object (``dask_worker``),
since a function pickled by value gets fresh globals at every call. It is a coroutine: the
``run`` handler runs it on the worker's event loop, where an end that arrived before its
begin waits for it (woken by the begin).

It reads:

- CPU time: ``time.process_time()``, user + system of the whole worker process, every thread,
  and ``time.thread_time()`` of the thread the probe runs on, the worker's event loop: dask's
  own work (scheduling, heartbeats, monitoring, profiling, communication), which goes on
  whether a cell runs or not. The process's CPU minus the loop's is what the tasks, and any
  threads they start, used.
- Memory: the current RSS, and the peak. Exact on Linux: writing ``5`` to
  ``/proc/self/clear_refs`` resets the high-water mark (VmHWM) at the cell's start; the
  worker keeps the mark it had before each reset, numbered, so a window's peak is the
  largest of the marks since its own reset and the mark now. That holds when windows nest
  or when other kernels on the same cluster reset the mark in between. Where the reset is
  refused, the lifetime peak (VmHWM or ``ru_maxrss``) and the RSS are returned instead.
- Tasks: ``worker.state.executed_count`` (tasks this worker finished executing, failed ones
  included).
- Data sent: ``worker.transfer_outgoing_bytes_total``, the sizes (dask's ``sizeof``) of the
  results this worker served to other workers and to the client.
- GPU energy: NVML's energy counter of every NVIDIA device the worker can see, by UUID, so
  that devices shared by several workers are counted once.
- GPU busy time: NVML's utilisation samples of those devices since the window opened (the
  driver keeps the last few seconds to minutes of them, one every 1/6 to 1 s by board),
  each sample's utilisation times the time since the one before: the seconds the device
  was running work, and how much of the window the samples cover (a long window outlives
  the driver's buffer: the figure then covers its end only, and says so).
"""

from __future__ import annotations

import hashlib
import json
import os
import resource
import sys
import time
import warnings
from typing import Any

STATE_ATTR = "_nbprofile_probe_state"
#: how long a window's end waits on a worker for its begin, sent just before it, to arrive
BEGIN_WAIT_S = 0.5
#: open windows kept per worker (a window that never ends is dropped after this many more)
WINDOWS_KEPT = 64
_ENDED = "ended before it began"
#: shorter windows do not read the GPUs' energy counter at their end (it moves every ~100 ms, and a
#: read costs 3 ms of CPU a device on an H200), nor their utilisation samples (~0.2 s apart; 2.1 ms).
#: The kernel's NVML meter has the same two (COUNTER_UPDATE_PERIOD_S, figures.UTIL_READ_FROM_S); they
#: are written again here because this module runs, pickled by value, where nbprofile is not installed
ENERGY_READ_FROM_US = 100_000
BUSY_READ_FROM_US = 250_000
#: pre-reset high-water marks kept per worker: windows nested deeper than this are not expected
MARKS_KEPT = 256
_CLEAR_REFS = "/proc/self/clear_refs"
_STATUS = "/proc/self/status"
_STATM = "/proc/self/statm"


def host() -> str:
    """This machine's name, as the kernel's side names its own."""
    if hasattr(os, "uname"):
        return os.uname().nodename
    import socket

    return socket.gethostname()


def installed_probe() -> str | None:
    """A digest of the probe module nbprofile installed here, if it did (found, not imported).

    The kernel sends the probe by reference, a few bytes instead of its code, to workers
    whose copy is the same file as its own."""
    try:
        from importlib.util import find_spec

        spec = find_spec("nbprofile")
        if spec is None or not spec.submodule_search_locations:
            return None
        path = os.path.join(list(spec.submodule_search_locations)[0], "meters", "dask", "probe.py")
        with open(path, "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except (ImportError, ValueError, OSError):  # not installed on this worker: sent by value
        return None


def _status_kb(field: bytes) -> int | None:
    try:
        with open(_STATUS, "rb") as f:
            text = f.read()
    except OSError:
        return None
    start = text.find(field)
    if start < 0:
        return None
    start += len(field)
    return int(text[start:text.index(b"kB", start)]) * 1024


def _rss() -> int | None:
    try:
        with open(_STATM, "rb") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        pass
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    return int(psutil.Process().memory_info().rss)


def _lifetime_peak() -> int:
    """VmHWM where /proc has it, else ``ru_maxrss`` (KiB on Linux, bytes on macOS)."""
    hwm = _status_kb(b"VmHWM:")
    if hwm is not None:
        return hwm
    unit = 1 if sys.platform == "darwin" else 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit


def _reset_peak(state: dict[str, Any]) -> None:
    """Keep the high-water mark reached so far under the next mark number, then reset it."""
    if state["reset_error"] is not None:
        return
    before = _status_kb(b"VmHWM:")
    try:
        if before is None:
            raise OSError(f"{_STATUS} has no VmHWM")
        with open(_CLEAR_REFS, "wb", buffering=0) as f:
            f.write(b"5")
    except OSError as exc:
        state["reset_error"] = f"cannot reset the worker's peak ({_CLEAR_REFS}: {exc.strerror or exc})"
        return
    state["mark"] += 1
    marks = state["marks"]
    marks.append((state["mark"], before))
    del marks[:-MARKS_KEPT]


def _peak_since(state: dict[str, Any], mark: int) -> tuple[int | None, str | None]:
    """The peak since reset number ``mark``: the marks kept after it and VmHWM now."""
    marks = state["marks"]
    if not marks or marks[0][0] > mark + 1:  # the marks after this window's own reset were not all kept
        return None, "the worker reset its peak too often since this window began"
    now = _status_kb(b"VmHWM:")
    if now is None:
        return None, f"cannot read VmHWM from {_STATUS}"
    return max([now, *(hwm for n, hwm in marks if n > mark)]), None


def _gpu_energy(state: dict[str, Any]) -> dict[str, Any] | None:
    """``{uuid: millijoules or an error string}`` of the worker's NVIDIA devices; None without any."""
    if "nvml" not in state:
        state["nvml"] = None
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", FutureWarning)  # the deprecated `pynvml` shim warns
                import pynvml  # type: ignore[import-untyped]
            pynvml.nvmlInit()
            handles = [pynvml.nvmlDeviceGetHandleByIndex(i) for i in range(pynvml.nvmlDeviceGetCount())]
            uuids = [pynvml.nvmlDeviceGetUUID(h) for h in handles]
            state["nvml"] = (pynvml, [(u.decode() if isinstance(u, bytes) else str(u), h)
                                      for u, h in zip(uuids, handles)])
        except Exception:  # no pynvml, no driver, no device: this worker has no GPU to measure
            return None
    found = state["nvml"]
    if not found or not found[1]:
        return None
    nvml, devices = found
    energy: dict[str, Any] = {}
    for uuid, handle in devices:
        try:
            energy[uuid] = int(nvml.nvmlDeviceGetTotalEnergyConsumption(handle))
        except Exception as exc:  # the device has no counter (pre-Volta, MIG): said per device
            energy[uuid] = f"NVML energy counter: {exc}"
    return energy


def gpu_busy(nvml: Any, devices: list[tuple[str, Any]], since_us: int, now_us: int) -> dict[str, Any]:
    """``{uuid: [busy seconds, seconds covered] or an error string}`` from each device's
    utilisation samples after ``since_us`` (NVML's clock: microseconds since the epoch)."""
    out: dict[str, Any] = {}
    for uuid, handle in devices:
        try:
            _, samples = nvml.nvmlDeviceGetSamples(handle, nvml.NVML_GPU_UTILIZATION_SAMPLES, since_us)
        except Exception as exc:  # NOT_FOUND: no sample yet (a window shorter than the period)
            text = str(exc) or type(exc).__name__
            out[uuid] = [0.0, 0.0] if "not found" in text.lower() else f"NVML utilisation samples: {text}"
            continue
        points = sorted((int(x.timeStamp), float(x.sampleValue.uiVal)) for x in samples
                        if since_us < x.timeStamp <= now_us)
        if not points:
            out[uuid] = [0.0, 0.0]
            continue
        gaps = [b[0] - a[0] for a, b in zip(points, points[1:])]
        period = sorted(gaps)[len(gaps) // 2] if gaps else points[0][0] - since_us
        # the first sample stands for the period before it; one far after the window opened
        # means the older samples are gone from the buffer: the figure covers from there on
        opened = since_us if points[0][0] - since_us <= 2 * period else points[0][0] - period
        busy, previous = 0.0, opened
        for at, utilisation in points:
            busy += utilisation / 100.0 * (at - previous) / 1e6
            previous = at
        out[uuid] = [busy, (points[-1][0] - opened) / 1e6]
    return out


def _read(dask_worker: Any, state: dict[str, Any], since_us: int | None = None) -> dict[str, Any]:
    """The worker's counters now; at a window's end (``since_us``: its start) the GPUs' energy
    only when the window is long enough for the counter to have moved."""
    worker_state = getattr(dask_worker, "state", None)
    at_us = int(time.time() * 1e6)
    short = since_us is not None and at_us - since_us < ENERGY_READ_FROM_US
    return {"cpu": time.process_time(), "loop_cpu": time.thread_time(),
            "tasks": getattr(worker_state, "executed_count", None),
            "sent": getattr(dask_worker, "transfer_outgoing_bytes_total", None),
            "gpu": None if short else _gpu_energy(state), "gpu_short": short, "at_us": at_us}


def _begin(state: dict[str, Any], dask_worker: Any, token: str, in_kernel: bool) -> dict[str, Any]:
    windows = state["windows"]
    if windows.pop(token, None) == _ENDED:  # the window's end came first and gave up waiting for this
        return {"late": True}
    if not in_kernel:  # never in the kernel's own process: its memory meter resets the mark itself
        _reset_peak(state)
    snapshot = _read(dask_worker, state)
    snapshot["in_kernel"] = in_kernel
    snapshot["rss"] = _rss()  # right after the reset: the high-water mark is this RSS
    snapshot["mark"] = state["mark"]
    if state["reset_error"] is not None:
        snapshot["lifetime_peak"] = _lifetime_peak()
    windows[token] = snapshot
    arrival = state["waiting"].pop(token, None)  # an end that came first, waiting for this
    if arrival is not None and not arrival.done():
        arrival.set_result(None)
    while len(windows) > WINDOWS_KEPT:  # windows whose end never came (a cell discarded, a kernel gone)
        del windows[next(iter(windows))]
    return {"began": True}


def _end(state: dict[str, Any], start: dict[str, Any], dask_worker: Any) -> dict[str, Any]:
    now = _read(dask_worker, state, start["at_us"])
    out: dict[str, Any] = {"began": True, "rss_start": start["rss"]}
    for name in ("cpu", "loop_cpu", "tasks", "sent"):
        a, b = start[name], now[name]
        out[name] = None if a is None or b is None else b - a
    # the RSS first, then the peak: memory that grows between the two reads lands in the peak
    out["rss"] = _rss()
    if start["in_kernel"]:
        out["peak"], out["peak_error"] = None, "the worker runs in the kernel's process"
    elif state["reset_error"] is None:
        out["peak"], out["peak_error"] = _peak_since(state, start["mark"])
    else:
        out["reset_error"] = state["reset_error"]
        out["lifetime_start"], out["lifetime_end"] = start.get("lifetime_peak"), _lifetime_peak()
    window_us = now["at_us"] - start["at_us"]
    if start["gpu"] is not None and now["gpu_short"]:
        why = f"not read for a {window_us / 1000:.0f} ms window: the energy counter moves every ~100 ms"
        out["gpu"] = dict.fromkeys(start["gpu"], why)
    elif start["gpu"] is not None and now["gpu"] is not None:
        out["gpu"] = {uuid: (a if isinstance(a, str) else b if isinstance(b, str) else b - a)
                      for uuid, a in start["gpu"].items() if (b := now["gpu"].get(uuid)) is not None}
    if "gpu" in out:
        nvml, devices = state["nvml"]
        if window_us >= BUSY_READ_FROM_US:
            out["gpu_busy"] = gpu_busy(nvml, devices, start["at_us"], now["at_us"])
        else:
            out["gpu_busy"] = dict.fromkeys(start["gpu"], f"not read for a {window_us / 1000:.0f} ms window: "
                                            "the driver's utilisation samples come ~0.2 s apart")
        out["window_s"] = window_us / 1e6
    return out


async def worker_probe(token: str, ending: bool, kernel: str = "", dask_worker: Any = None) -> str:
    """Open (``ending`` false) or close the window ``token`` on this worker. Closing returns what
    changed since it opened; an end that arrives before its begin (the two travel separately)
    waits for it up to :data:`BEGIN_WAIT_S`, then says the window never began here. ``kernel``
    (``host/pid``) is the measuring kernel's process: a worker inside it (``processes=False``)
    leaves the peak's mark alone.

    The answer is a dict as JSON text: distributed serialises a dict item by item, which cost
    more than the probe itself."""
    return json.dumps(await _probe(token, ending, kernel, dask_worker))


async def _probe(token: str, ending: bool, kernel: str, dask_worker: Any) -> dict[str, Any]:
    state = getattr(dask_worker, STATE_ATTR, None)
    if state is None:
        state = {"mark": 0, "marks": [], "reset_error": None, "host": host(), "windows": {},
                 "installed": installed_probe(), "waiting": {}}
        setattr(dask_worker, STATE_ATTR, state)
    out: dict[str, Any] = {"pid": os.getpid(), "host": state["host"], "installed": state["installed"]}
    if not ending:
        out.update(_begin(state, dask_worker, token, kernel == f"{state['host']}/{os.getpid()}"))
        return out
    windows = state["windows"]
    if token not in windows:
        import asyncio  # the worker's event loop runs on it: imported already

        # woken by the begin the moment it arrives (a poll would add its period to the cell's end)
        arrival = asyncio.get_running_loop().create_future()
        state["waiting"][token] = arrival
        try:
            await asyncio.wait_for(arrival, BEGIN_WAIT_S)
        except asyncio.TimeoutError:  # never came: said below, as a window that never began here
            pass
        finally:
            state["waiting"].pop(token, None)
    start = windows.pop(token, None)
    if not isinstance(start, dict):  # a worker that joined during the window, or whose begin never came
        windows[token] = _ENDED
        out["began"], out["waited"] = False, BEGIN_WAIT_S
        return out
    out.update(_end(state, start, dask_worker))
    return out
