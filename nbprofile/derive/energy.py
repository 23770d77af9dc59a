"""Total energy: ``energy_j`` is the sum of the GPU, CPU and DRAM energies obtained."""

from __future__ import annotations

from nbprofile.readings import Method, Reading, Readings, weakest

J_PER_KWH = 3.6e6
ENERGY_PARTS = ("gpu_energy_j", "cpu_energy_j", "dram_energy_j")


def derive_energy(readings: Readings) -> Readings:
    """``energy_j`` = the sum of the available gpu/cpu/dram energies.

    Its method is the weakest of the parts summed; its note names each part left
    out and why. None available: unavailable, with every part's reason.
    """
    total = 0.0
    methods: list[Method] = []
    summed: list[str] = []
    missing: list[str] = []
    for key in ENERGY_PARTS:
        r = readings.get(key)
        part = key[:-len("_energy_j")]
        if r is None:
            missing.append(f"{part} (no meter for it)")
        elif r.value is None:
            missing.append(f"{part} ({r.note or 'unavailable'})")
        else:
            total += r.value
            methods.append(r.method)
            summed.append(part)
    if not methods:
        return {"energy_j": Reading.unavailable("J", "no energy reading: " + "; ".join(missing))}
    note = "+".join(summed) + (f"; excludes {'; '.join(missing)}" if missing else "")
    return {"energy_j": Reading(total, "J", weakest(*methods), "sum", note)}
