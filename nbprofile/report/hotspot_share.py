"""A cell's energy and dollars shared out over its hot spots, only where that is honest.

The sampler says what share of the main thread's time each function took. That share is a share
of the energy only when the main thread's Python was what burned it: the cell kept about one CPU
busy (CPU time close to its wall time, so neither waiting on I/O nor running other threads or
native code in parallel), used no GPU, and was sampled over most of its time. Then the CPU (and
DRAM, where measured) energy and the electricity's dollars are split by the same shares, labelled
as estimated; GPU work, LLM calls and anything else are never split this way.
"""

from __future__ import annotations

from dataclasses import dataclass

from nbprofile.format import format_energy, format_usd
from nbprofile.insights import HotSpots
from nbprofile.record import CellRecord

#: CPU seconds per wall second within which a cell counts as one busy Python thread
CPU_BOUND = (0.8, 1.2)
#: the sampled span must cover at least this share of the cell's wall time
COVERED = 0.8


@dataclass(frozen=True)
class Shares:
    """Each hot spot's part of the cell's CPU energy (J) and of its electricity's dollars."""

    energy_j: tuple[float, ...]
    cost_usd: tuple[float | None, ...]
    how: str


def _value(record: CellRecord, key: str) -> float | None:
    reading = record.readings.get(key)
    return None if reading is None else reading.value


def why_not(record: CellRecord, hot: HotSpots) -> str | None:
    """Why sharing this cell's energy out by its hot spots would not be honest; None when it is."""
    wall, cpu = _value(record, "wall_s"), _value(record, "cpu_s")
    if not wall or cpu is None:
        return "no wall or CPU time"
    if not CPU_BOUND[0] <= cpu / wall <= CPU_BOUND[1]:
        return f"not one busy CPU thread ({cpu / wall:.2f} s CPU a second)"
    if (_value(record, "gpu_time_s") or 0) > 0:
        return "the cell used a GPU: its energy is not where the Python time went"
    if hot.covered_s < COVERED * wall:
        return f"sampled over {hot.covered_s / wall:.0%} of the cell only"
    if _value(record, "cpu_energy_j") is None:
        return "no CPU energy reading"
    return None


def shares(record: CellRecord, hot: HotSpots) -> Shares | None:
    """The hot spots' shares of the CPU energy and the electricity's dollars; None when not honest."""
    if why_not(record, hot) is not None:
        return None
    cpu_j = _value(record, "cpu_energy_j") or 0.0
    energy = cpu_j + (_value(record, "dram_energy_j") or 0.0)
    total = _value(record, "energy_j")
    compute = _value(record, "compute_cost_usd")
    # the electricity's dollars follow the energy shared out (compute cost is electricity without a GPU)
    usd_per_j = compute / total if compute is not None and total else None
    how = ("energy and dollars: the cell's CPU energy and its electricity's dollars split by the same "
           "shares (estimated: the cell kept one CPU busy with Python)")
    parts = tuple(energy * e.self_share for e in hot.entries)
    return Shares(parts, tuple(None if usd_per_j is None else j * usd_per_j for j in parts), how)


def share_words(energy_j: float, cost_usd: float | None) -> str:
    """``~1.20 J, ~$0.0000003`` (``~``: estimated, as the reports mark estimates)."""
    words = f"~{format_energy(energy_j)}"
    return words if cost_usd is None else f"{words}, ~{format_usd(cost_usd)}"
