"""Energy arithmetic on readings: estimates from power, the sum over devices, the notes.

Pure functions: no NVML call here except through the ``instant`` callable
:func:`_estimate` is handed (the window's lazy instant-power read).
"""

from __future__ import annotations

from collections.abc import Callable

from nbprofile.meters.nvml.discovery import Gpu
from nbprofile.readings import Method, Reading

#: Counter energy and sampled power x time further apart than this get a note (windows >= 1 s).
DISAGREEMENT = 0.25
_STRENGTH: dict[str, int] = {"measured": 0, "sampled": 1, "estimated": 2}


def _estimate(reason: str, duration_s: float, mean_w: float | None,
              instant: Callable[[], tuple[float | None, str]], shared: str | None) -> Reading:
    """Mean power x duration, labelled as an estimate; unavailable without any power figure."""
    if mean_w is not None:
        return Reading(mean_w * duration_s, "J", "estimated", "mean sampled power x time",
                       _join(reason, shared))
    watts, how = instant()
    if watts is None:
        return Reading.unavailable("J", f"{reason}, and no power reading was available ({how})", "nvml")
    return Reading(watts * duration_s, "J", "estimated", f"{how} x time", _join(reason, shared))


def _sum_energy(parts: list[tuple[Gpu, Reading]], source: str = "sum over devices") -> Reading:
    """The available devices' sum, its method the weakest, the missing ones named."""
    if len(parts) == 1 and source == "sum over devices":
        return parts[0][1]
    have = [(g, r) for g, r in parts if r.value is not None]
    missing = [f"gpu{g.index}: {r.note}" for g, r in parts if r.value is None]
    if not have:
        return Reading.unavailable("J", "; ".join(missing), "nvml")
    method: Method = max((r.method for _, r in have), key=lambda m: _STRENGTH.get(m, 2))
    total = sum(r.value for _, r in have if r.value is not None)
    notes = [f"without {m}" for m in missing] + [f"gpu{g.index}: {r.note}" for g, r in have if r.note]
    return Reading(total, "J", method, source, "; ".join(notes) or None)


def _charge(parts: list[tuple[Gpu, Reading]], used: set[str]) -> tuple[Reading, Reading | None]:
    """(``gpu_energy_j``, ``gpu_energy_other_j``): the GPUs this process uses (by UUID), and the rest.

    When no GPU is known to be used (no torch context, no PID match), every
    visible GPU is charged, and the reading says so: never less than the cell's.
    """
    if len(parts) == 1:
        return parts[0][1], None
    mine = [(g, r) for g, r in parts if g.uuid in used]
    rest = [(g, r) for g, r in parts if g.uuid not in used]
    if not mine:
        unknown = f"all {len(parts)} visible GPUs: which ones this process uses is not known"
        total = _sum_energy(parts, unknown)
        return total, Reading.unavailable("J", "every visible GPU is charged to the cell", "nvml")
    names = ", ".join(f"gpu{g.index}" for g, _ in mine)
    charged = _sum_energy(mine, f"the GPUs this process uses ({names}); the others are in gpu_energy_other_j")
    if not rest:
        return charged, Reading.unavailable("J", "this process uses every visible GPU", "nvml")
    others = ", ".join(f"gpu{g.index}" for g, _ in rest)
    return charged, _sum_energy(rest, f"GPUs this process does not use ({others}): idle, or others' work")


def _tick_error(joules: float, duration_s: float, mean_w: float | None, period_s: float) -> str:
    """A short window's counter error: up to one counter update of energy at its edges."""
    watts = mean_w if mean_w is not None else joules / duration_s
    return (f"±{watts * period_s:.1f} J ({period_s * 100 / duration_s:.0f} % of this "
            f"{duration_s * 1000:.0f} ms window): the energy counter updates every ~{period_s * 1000:.0f} ms")


def _disagreement(joules: float, mean_w: float | None, duration_s: float) -> str | None:
    """A note when the counter and sampled power x time disagree (windows of 1 s or more)."""
    if mean_w is None or duration_s < 1.0 or joules <= 0:
        return None
    sampled = mean_w * duration_s
    if abs(joules - sampled) <= DISAGREEMENT * max(joules, sampled):
        return None
    return f"power samples x time give {sampled:.1f} J; the counter is the primary figure"


def _join(*notes: str | None) -> str | None:
    kept = [n for n in notes if n]
    return "; ".join(kept) if kept else None
