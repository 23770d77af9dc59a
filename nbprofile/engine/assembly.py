"""Which meters and derivers a profiler runs by default, in which order, and its settings.

Begin order matters: slow reads first, the wall clock last (it ends first), so
the other meters' own reads stay outside the measured time. NVML is the outermost local meter so
that its last energy read comes after torch's final synchronise (queued kernels
are charged to the cell that launched them); FLOP counting sits just inside the
wall clock so that it covers only the cell's code. The Dask meter comes before them all: its
round trip to the workers (milliseconds) stays outside every other meter's window.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbprofile.derive.carbon import CarbonConfig, derive_carbon
from nbprofile.derive.cost import ComputePrices, derive_compute_cost, derive_cost
from nbprofile.derive.energy import derive_energy
from nbprofile.derive.mfu import derive_mfu, device_peak
from nbprofile.derive.vram import derive_vram_peak
from nbprofile.engine.warn import OnceWarnings
from nbprofile.llm.meter import LlmMeter, LocalGenerateMeter, derive_local_j_per_token
from nbprofile.meters.base import Meter
from nbprofile.meters.clock import CpuClock, WallClock
from nbprofile.meters.cpu_energy import CpuEnergyMeter
from nbprofile.meters.dask import DaskClusterMeter
from nbprofile.meters.flops import FlopMeter
from nbprofile.meters.memory import PeakRss
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.meters.torch_cuda import TorchCudaMeter
from nbprofile.readings import Deriver


def default_meters() -> list[Meter]:
    return [DaskClusterMeter(), NvmlMeter(), TorchCudaMeter(), PeakRss(), CpuEnergyMeter(), CpuClock(),
            LlmMeter(), LocalGenerateMeter(), FlopMeter(), WallClock()]


def default_derivers(carbon: CarbonConfig, prices: ComputePrices, meters: Sequence[Meter]) -> list[Deriver]:
    """Total energy, CO2e, compute and total dollars, and MFU when FLOPs can be counted."""
    derivers: list[Deriver] = [derive_vram_peak, derive_energy, derive_local_j_per_token,
                               derive_carbon(carbon), derive_compute_cost(prices), derive_cost]
    if any(isinstance(m, FlopMeter) for m in meters):
        derivers.append(derive_mfu(device_peak))
    return derivers


def settings_from_env(warnings: OnceWarnings) -> tuple[CarbonConfig, ComputePrices]:
    """Carbon and price settings from the environment; a bad value warns once and falls
    back to the defaults rather than stopping the extension from loading."""
    try:
        carbon = CarbonConfig.from_env()
    except ValueError as exc:
        warnings.warn("carbon-env", f"{exc}; using the world average")
        carbon = CarbonConfig()
    try:
        prices = ComputePrices.from_env()
    except ValueError as exc:
        warnings.warn("prices-env", f"{exc}; using the default prices")
        prices = ComputePrices()
    return carbon, prices


def gpu_info(meters: Sequence[Meter]) -> dict[str, Any]:
    """GPU models and driver for the run record, from the NVML meter's probe."""
    meter = next((m for m in meters if isinstance(m, NvmlMeter)), None)
    if meter is None or not meter.gpus:
        return {}
    return {"gpus": [f"{g.index}: {g.name}{' (MIG)' if g.mig else ''}" for g in meter.gpus],
            "driver": meter.driver_version}
