"""Which meters and derivers a profiler runs by default, in which order.

Begin order matters: slow reads first, the wall clock last (it ends first), so
the other meters' own reads stay outside the measured time. NVML is outermost so
that its last energy read comes after torch's final synchronise (queued kernels
are charged to the cell that launched them); FLOP counting sits just inside the
wall clock so that it covers only the cell's code.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from nbprofile.meters.base import Meter
    from nbprofile.readings import Deriver
    from nbprofile.profiler import Profiler


def default_meters() -> list[Meter]:
    from nbprofile.meters.clock import CpuClock, WallClock
    from nbprofile.meters.cpu_energy import CpuEnergyMeter
    from nbprofile.meters.flops import FlopMeter
    from nbprofile.meters.memory import PeakRss
    from nbprofile.meters.nvml import NvmlMeter
    from nbprofile.meters.torch_cuda import TorchCudaMeter
    from nbprofile.llm.meter import LlmMeter, LocalGenerateMeter

    return [NvmlMeter(), TorchCudaMeter(), PeakRss(), CpuEnergyMeter(), CpuClock(), LlmMeter(),
            LocalGenerateMeter(), FlopMeter(), WallClock()]


def find_meter(profiler: Profiler, kind: type) -> Any:
    return next((m for m in profiler.meters if isinstance(m, kind)), None)


def default_derivers(profiler: Profiler) -> list[Deriver]:
    """Total energy, CO2e, compute and total dollars, MFU: from the profiler's settings."""
    from nbprofile.carbon import derive_carbon, derive_energy
    from nbprofile.compute_cost import derive_compute_cost, derive_cost
    from nbprofile.meters.flops import FlopMeter, derive_mfu
    from nbprofile.meters.torch_cuda import derive_vram_peak

    from nbprofile.llm.meter import derive_local_j_per_token

    derivers: list[Deriver] = [derive_vram_peak, derive_energy, derive_local_j_per_token,
                               derive_carbon(profiler.carbon), derive_compute_cost(profiler.prices),
                               derive_cost]
    flops = find_meter(profiler, FlopMeter)
    if flops is not None:
        derivers.append(derive_mfu(flops.peak))
    return derivers


def gpu_info(profiler: Profiler) -> dict[str, Any]:
    """GPU models and driver for the run record, from the NVML meter's probe."""
    from nbprofile.meters.nvml import NvmlMeter

    meter = find_meter(profiler, NvmlMeter)
    if meter is None or not getattr(meter, "gpus", None):
        return {}
    return {"gpus": [f"{g.index}: {g.name}{' (MIG)' if g.mig else ''}" for g in meter.gpus],
            "driver": getattr(meter, "driver_version", None)}
