"""Shared GPUs: other processes with a context on a device, and the note readings get.

Energy and power are the whole GPU's, so when other processes use it the
readings say so. ``nvmlDeviceGetComputeRunningProcesses`` costs ~0.5 ms, so it
is checked at most every :data:`PROCESS_CHECK_INTERVAL_S`.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from nbprofile.meters.nvml.discovery import Gpu, _torch_with_cuda

#: How long a process count stays fresh (the call costs ~0.5 ms; sharing changes slowly).
PROCESS_CHECK_INTERVAL_S = 5.0


def _check_processes(nvml: Any, gpu: Gpu, ours: set[int], clock: Callable[[], int]) -> None:
    gpu.others_checked_ns = clock()
    try:
        procs = nvml.nvmlDeviceGetComputeRunningProcesses(gpu.board)
    except nvml.NVMLError:  # NotSupported on some boards, NoPermission in some containers
        gpu.others = None
        return
    pids = {int(p.pid) for p in procs}
    if pids & ours:
        gpu.others, gpu.others_by_count = len(pids - ours), False
    else:
        # NVML reports host PIDs; in a container none is ours, and one of them may be us.
        gpu.others = max(0, len(pids) - (1 if _torch_uses_cuda() else 0))
        gpu.others_by_count = bool(gpu.others)


def _shared_note(nvml: Any, gpu: Gpu, ours: set[int], clock: Callable[[], int], ttl_ns: int) -> str | None:
    checked = gpu.others_checked_ns
    if checked is None or clock() - checked >= ttl_ns:
        _check_processes(nvml, gpu, ours, clock)
    if not gpu.others:
        return None
    n = gpu.others
    how = " (counted: NVML's PIDs are not in this kernel's namespace)" if gpu.others_by_count else ""
    return f"shared GPU: {n} other process{'es' if n != 1 else ''}{how}; energy is the whole GPU's"


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


def _torch_uses_cuda() -> bool:
    return _torch_with_cuda() is not None
