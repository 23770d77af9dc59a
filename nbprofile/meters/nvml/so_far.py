"""An open window's GPU energy so far, for the live view's once-a-second look.

Mean power so far times the time: from the power samples the drains have folded into the
window (every second while it is open), else from the polling thread's power reads, and from
the energy counter only where neither has a value yet. The counter is what a window's end
uses; here it would cost a read a second a device, which some boards charge in milliseconds of
CPU (3 ms on an H200, driver 580), spent inside the running cell.
"""

from __future__ import annotations

import threading
from typing import Any

from nbprofile.meters.nvml.buffers import Series
from nbprofile.meters.nvml.discovery import Gpu
from nbprofile.meters.nvml.poller import _Acc
from nbprofile.meters.nvml.reads import _read_energy


def energy_so_far(nvml: Any, gpus: list[Gpu], elapsed_s: float, start_mj: list[int | None],
                  power: list[Series | None], accs: list[_Acc] | None,
                  lock: threading.Lock) -> dict[int, float]:
    """Joules by GPU index since the window began; MIG slices (no sensor of their own) and
    devices with nothing to say (no sample, no poll, no counter) are left out."""
    found: dict[int, float] = {}
    for i, gpu in enumerate(gpus):
        if gpu.mig:
            continue
        with lock:  # the drains and the polls fold in from another thread
            series = power[i]
            watts = series.mean() if series is not None and series.error is None else None
            if watts is not None:
                watts /= 1000  # the samples are in mW
            elif accs is not None and (polled := accs[i].power()) is not None:
                watts = polled[0]
        if watts is not None:
            found[gpu.index] = watts * elapsed_s
            continue
        start = start_mj[i]
        if start is None:
            continue
        now, error = _read_energy(nvml, gpu)
        if error is None and now is not None and now >= start:
            found[gpu.index] = (now - start) / 1000
    return found
