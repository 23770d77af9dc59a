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


def _sum_energy(parts: list[tuple[Gpu, Reading]]) -> Reading:
    """``gpu_energy_j``: the available devices' sum, its method the weakest, the missing ones named."""
    if len(parts) == 1:
        return parts[0][1]
    have = [(g, r) for g, r in parts if r.value is not None]
    missing = [f"gpu{g.index}: {r.note}" for g, r in parts if r.value is None]
    if not have:
        return Reading.unavailable("J", "; ".join(missing), "nvml")
    method: Method = max((r.method for _, r in have), key=lambda m: _STRENGTH.get(m, 2))
    total = sum(r.value for _, r in have if r.value is not None)
    notes = [f"without {m}" for m in missing] + [f"gpu{g.index}: {r.note}" for g, r in have if r.note]
    return Reading(total, "J", method, "sum over devices", "; ".join(notes) or None)


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
