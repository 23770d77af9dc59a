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
Windows shorter than a second state the counter's error in the note (up to
one update's energy: "±30.0 J (50 % of this 200 ms window) ..."), since the
readings at both edges can each be up to one update stale.

**Which GPUs are charged.** ``gpu_energy_j`` adds the GPUs this process uses
(a CUDA context torch has on it, or this process's PID in its process list);
the other visible GPUs' energy is ``gpu_energy_other_j``. When nothing says
which GPUs are used, every visible GPU is charged and the source says so.

**Power and utilisation** come from the driver's own sample buffers
(``nvmlDeviceGetSamples``), which keep only the latest samples (~120 of each
kind ~1/6 s apart on an H100, about 20 s; on an H200 with driver 580, 2.4 s of
power samples 20 ms apart and 14 s of utilisation). The polling thread drains
each kind every :data:`~nbprofile.meters.nvml.buffers.DRAIN_INTERVAL_S` of it
while a window is open (the live view's once-a-second look does too), and the
window's end reads the rest; a figure whose samples were overwritten before
they were read says which span it covers (:mod:`.buffers`).

**What a short window costs.** On an H200 (driver 580) the energy counter's
read takes 3 ms of CPU and the utilisation buffer's 2.1 ms, where the other
calls take microseconds. A window shorter than the counter's update period
does not read it at its end (its energy is the estimate above, which needs no
read), and one under :data:`~nbprofile.meters.nvml.figures.UTIL_READ_FROM_S`
does not read the utilisation buffer (its samples come ~0.2 s apart, each about
the time before it); the begin's counter read stays, since a window's length
is not known at its begin. The live view's energy of a running cell, once a
second, is its mean power so far x time (:mod:`.so_far`), not a counter read. The thread also polls power and
utilisation where a device has no sample buffer, and memory (v2's ``used``)
every 100 ms for the peak.

**Memory**: v2 memory info's ``used`` (allocations, without the memory the
driver reserves, reported apart as ``gpu{i}_mem_reserved_bytes``); with
bindings or drivers without v2, v1's ``total - free``, labelled as including it.

**GPM** (Hopper and newer): SM and tensor-core activity per window from two
``nvmlGpmSampleGet`` snapshots per device (:mod:`.gpm`); unavailable with the
reason elsewhere.

**Shared GPUs.** Energy and power are the whole GPU's; when other processes
have contexts on it the readings say so. The process list
(``nvmlDeviceGetComputeRunningProcesses``, up to milliseconds on some drivers)
is read off the cells' path (probe, then the polling thread every
:data:`PROCESS_CHECK_INTERVAL_S`); in a container, where NVML's host PIDs
cannot be matched, the note says it cannot tell rather than count (:mod:`.sharing`).

**Each reading stands or falls on its own**: an ``NVMLError`` from the sample
buffer takes power and utilisation, one from the memory call the memory
readings, one from GPM the activity readings; the counter's energy stays. At
probe, an optional query refused (``NoPermission``, an old driver's
``ArgumentVersionMismatch``) turns off only that query.

**Cost per window** (per device): begin, two NVML calls (the energy counter, a
GPM snapshot on Hopper+); end, seven or eight (energy counter, two
``GetSamples`` calls of two driver calls each, memory, a GPM snapshot and its
metrics). No process list on the cell's path. Python's share, measured against
the fake NVML, is in ``bench/nvml_cell_cost.py``; the driver's is to be
measured on hardware. Field-value batching (``nvmlDeviceGetFieldValues``) is
per device and the energy counter is the only field read at both edges, so
there is nothing to batch; the instant-power field is read only when a window
caught no power sample. Without NVML: no call at all, and ``end`` returns a
prebuilt dict.

**Modules**, one concept each, imported one way (``meter`` imports the rest):
``discovery`` (pynvml, the CUDA devices, what each supports), ``reads`` (one
NVML read of one device), ``buffers`` (the sample buffers over a window),
``gpm`` (SM and tensor activity), ``sharing`` (which GPUs this process uses,
and other processes on them), ``poller`` (the polling thread), ``energy``
(arithmetic on readings), ``figures`` (power, utilisation and memory readings)
and ``meter`` (:class:`NvmlMeter`).
"""

from nbprofile.meters.nvml.discovery import MIG_ENERGY, NO_COUNTER, NOT_INSTALLED, Gpu
from nbprofile.meters.nvml.energy import DISAGREEMENT
from nbprofile.meters.nvml.meter import COUNTER_UPDATE_PERIOD_S, MIG_UTIL, NEVER_OPENED, NvmlMeter
from nbprofile.meters.nvml.poller import POLL_INTERVAL_S
from nbprofile.meters.nvml.sharing import PROCESS_CHECK_INTERVAL_S

__all__ = [
    "COUNTER_UPDATE_PERIOD_S", "DISAGREEMENT", "MIG_ENERGY", "MIG_UTIL", "NEVER_OPENED", "NOT_INSTALLED",
    "NO_COUNTER", "POLL_INTERVAL_S", "PROCESS_CHECK_INTERVAL_S", "Gpu", "NvmlMeter",
]
