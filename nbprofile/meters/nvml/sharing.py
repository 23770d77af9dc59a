"""Which GPUs this process uses, and who else does: the process lists and the notes they give.

Energy and power are the whole GPU's, so when other processes use it the
readings say so, and ``gpu_energy_j`` charges only the GPUs this process uses.

**Off the per-cell path.** ``nvmlDeviceGetComputeRunningProcesses`` can cost
milliseconds on some drivers, so it is read at probe, then by the polling
thread at most every :data:`PROCESS_CHECK_INTERVAL_S` while windows are open,
and at a window's end only when the list is older than
:data:`PROCESS_STALE_S` (or every :data:`PROCESS_CHECK_INTERVAL_S` when no
polling thread runs). Windows read the cached lists.

**PIDs.** NVML reports PIDs in the host's PID namespace. Our own PIDs
(``NSpid`` lists them in each namespace /proc can see) match when the kernel
runs in the host's namespace (:func:`pid_namespace_isolated` says whether it
does, from ``/proc/self/ns/pid``). In a container they cannot be matched: a
list of one process on a GPU torch has a context on is this kernel; anything
else is "can't tell", never a guessed count.

**Used by this process**: its PID in the GPU's list, or a CUDA context torch
has on it (``torch._C._cuda_hasPrimaryContext``, asked only once torch has
initialised CUDA; it creates none). Other CUDA users in this process (JAX,
CuPy) are seen through the PID match only.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from nbprofile.format import counted
from nbprofile.meters.nvml.discovery import Gpu

#: How long a process list stays fresh for the polling thread (sharing changes slowly).
PROCESS_CHECK_INTERVAL_S = 5.0
#: Past this age a window's end reads the list itself (no polling thread refreshed it).
PROCESS_STALE_S = 60.0
#: The inode of the initial PID namespace (``PROC_PID_INIT_INO``): not in a container.
_INIT_PID_NS = "pid:[4026531836]"


@dataclass(slots=True)
class _List:
    pids: frozenset[int] | None = None  #: None: the list could not be read
    checked_ns: int | None = None


class Sharing:
    """The cached process lists of the meter's devices (by UUID) and what they say."""

    def __init__(self, clock: Callable[[], int], ttl_s: float, *, ours: set[int] | None = None,
                 isolated: bool | None = None) -> None:
        self._clock = clock
        self._ttl_ns = int(ttl_s * 1e9)
        self.ours = _own_pids() if ours is None else ours
        #: True: NVML's PIDs are not ours to match (container); None: could not tell
        self.isolated = pid_namespace_isolated() if isolated is None else isolated
        self._lists: dict[str, _List] = {}
        self.error: str | None = None  #: why the last list could not be read

    def refresh(self, nvml: Any, gpus: list[Gpu], max_age_s: float | None = None) -> None:
        """Read the lists older than ``max_age_s`` (default: the check interval); ``0`` reads all."""
        now = self._clock()
        max_age_ns = self._ttl_ns if max_age_s is None else int(max_age_s * 1e9)
        for gpu in gpus:
            entry = self._lists.setdefault(gpu.uuid, _List())
            if entry.checked_ns is not None and now - entry.checked_ns < max_age_ns:
                continue
            entry.checked_ns = now
            try:
                procs = nvml.nvmlDeviceGetComputeRunningProcesses(gpu.board)
                entry.pids = frozenset(int(p.pid) for p in procs)
            except nvml.NVMLError as exc:  # NotSupported on some boards, NoPermission in some containers
                entry.pids, self.error = None, f"the process list of gpu{gpu.index} failed: {exc}"

    def ours_on(self, gpu: Gpu) -> bool:
        pids = self._lists.get(gpu.uuid, _List()).pids
        return bool(pids and pids & self.ours)

    def note(self, gpu: Gpu, torch_context: bool) -> str | None:
        """The readings' note about other processes on ``gpu``; None when it is not shared."""
        pids = self._lists.get(gpu.uuid, _List()).pids
        if not pids:
            return None
        if pids & self.ours or self.isolated is False:
            others = len(pids - self.ours)
            if not others:
                return None
            sharing = counted(others, "other process", "other processes")
            return f"shared GPU: {sharing}; energy is the whole GPU's"
        if torch_context and len(pids) == 1:  # the one process with a context is this kernel
            return None
        listed = counted(len(pids), "process", "processes")
        return (f"can't tell whether this GPU is shared: NVML lists {listed} by host PID, which this kernel's"
                " PID namespace (a container) cannot match; energy is the whole GPU's")


def torch_contexts() -> set[int] | None:
    """CUDA ordinals torch has a context on; None when torch has not initialised CUDA."""
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    if cuda is None or not cuda.is_initialized():
        return None
    try:
        has_context = getattr(torch._C, "_cuda_hasPrimaryContext", None)  # type: ignore[union-attr]
        if has_context is None:
            return {int(cuda.current_device())}
        return {d for d in range(cuda.device_count()) if has_context(d)}
    except (AttributeError, RuntimeError):  # CUDA failing: the cell's own error says so; no context known
        return set()


def pid_namespace_isolated() -> bool | None:
    """Whether this process runs in a PID namespace other than the host's (None: cannot tell)."""
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("NSpid:") and len(line.split()) > 2:
                    return True  # a PID per nested namespace: we are in a child one
        return os.readlink("/proc/self/ns/pid") != _INIT_PID_NS
    except OSError:
        return None  # not Linux, or /proc hidden


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
