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

**Modules**, one concept each, imported one way (``meter`` imports the rest):
``discovery`` (pynvml, the CUDA devices, what each supports), ``reads`` (one
NVML read of one device), ``sharing`` (other processes on a GPU), ``poller``
(the polling thread), ``energy`` (arithmetic on readings) and ``meter``
(:class:`NvmlMeter`).
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
