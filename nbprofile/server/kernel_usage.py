"""A kernel's memory now, as the server sees it: what the JupyterLab status bar shows.

The kernel cannot be asked while it runs a cell (its shell handles one request at a time),
so the server reads the kernel process's resident memory from the operating system, as
jupyter-resource-usage does. A kernel on another machine (a gateway, a remote provisioner)
has no process here: its memory is unavailable, and the answer says why.
"""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

from nbprofile.meters.memory_limit import MemoryLimit, discover_memory_limit


def kernel_pid(kernel: Any) -> int | None:
    """The process id of a kernel this server started on its own machine; None otherwise."""
    provisioner = getattr(kernel, "provisioner", None)
    for holder in (provisioner, getattr(provisioner, "process", None)):
        pid = getattr(holder, "pid", None)
        if isinstance(pid, int) and pid > 0:
            return pid
    return None


def process_rss(pid: int, proc: Path = Path("/proc")) -> int | None:
    """Resident memory of process ``pid`` in bytes (VmRSS); None when it cannot be read."""
    try:
        for line in (proc / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        return None
    except FileNotFoundError:  # not Linux, or the kernel just exited: psutil where installed
        return _psutil_rss(pid)
    except (OSError, ValueError):  # another user's process, or an unreadable line: unavailable
        return None


def _psutil_rss(pid: int) -> int | None:
    try:
        import psutil  # type: ignore[import-untyped,import-not-found,unused-ignore]
    except ImportError:
        return None
    try:
        return int(psutil.Process(pid).memory_info().rss)
    except (psutil.Error, OSError):  # gone, or not ours to read
        return None


@functools.lru_cache(maxsize=1)
def _machine_limit() -> MemoryLimit:
    # the server's own cgroup, which a local kernel shares; looked up once (it reads mountinfo)
    return discover_memory_limit()


def kernel_usage(kernel: Any) -> dict[str, Any]:
    """``{"rss_bytes", "limit_bytes", "limit_source", "reason"}`` for one kernel."""
    pid = kernel_pid(kernel)
    if pid is None:
        return {"rss_bytes": None, "limit_bytes": None, "limit_source": None,
                "reason": "this kernel does not run on the server's machine (a gateway or remote kernel)"}
    rss = process_rss(pid)
    limit = _machine_limit()
    return {
        "rss_bytes": rss,
        "limit_bytes": limit.limit_bytes if limit.source != "MemAvailable + own RSS" else limit.physical_bytes,
        "limit_source": limit.source if limit.source != "MemAvailable + own RSS" else "physical RAM",
        "reason": None if rss is not None else f"cannot read the memory of process {pid}",
    }
