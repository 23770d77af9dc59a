"""Total energy: ``energy_j`` is the sum of the GPU, CPU and DRAM energies obtained."""

from __future__ import annotations

from nbprofile.derive.needs import NEEDS, needs, reason
from nbprofile.readings import Method, Reading, Readings, weakest

J_PER_KWH = 3.6e6
ENERGY_PARTS = ("gpu_energy_j", "cpu_energy_j", "dram_energy_j")


def derive_energy(readings: Readings) -> Readings:
    """``energy_j`` = the sum of the available gpu/cpu/dram energies.

    Its method is the weakest of the parts summed; its note names each part left
    out and why. None available: unavailable, with every part's reason once (see :mod:`.needs`).
    """
    total = 0.0
    methods: list[Method] = []
    summed: list[str] = []
    missing: list[str] = []
    unavailable: dict[str, Reading | None] = {}
    for key in ENERGY_PARTS:
        r = readings.get(key)
        part = key[:-len("_energy_j")]
        if r is None or r.value is None:
            unavailable[key] = r
            missing.append(f"{part} ({reason(r)})")
        else:
            total += r.value
            methods.append(r.method)
            summed.append(part)
    if not methods:
        return {"energy_j": Reading.unavailable("J", _needs_any(unavailable))}
    note = "+".join(summed) + (f"; excludes {'; '.join(missing)}" if missing else "")
    return {"energy_j": Reading(total, "J", weakest(*methods), "sum", note)}


def _needs_any(parts: dict[str, Reading | None]) -> str:
    """Each metered part's reason once: a CPU meter without RAPL gives cpu and dram the same one."""
    by_reason: dict[str, list[str]] = {}
    for key, reading in parts.items():
        if reading is not None:  # a part no meter measures here is no reason: it was never expected
            by_reason.setdefault(reason(reading), []).append(key)
    if not by_reason:
        return f"{NEEDS}an energy meter: none of {', '.join(parts)} is measured here"
    if len(by_reason) == 1:
        (why, keys), = by_reason.items()
        return needs(keys[0], parts[keys[0]]) if len(keys) == 1 else f"{NEEDS}{' or '.join(keys)}: {why}"
    return f"{NEEDS}an energy reading: " + "; ".join(f"{' or '.join(keys)}: {why}" for why, keys in by_reason.items())
