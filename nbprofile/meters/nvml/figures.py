"""A window's power, utilisation and memory readings, from its samples (or polls) and end read.

Pure functions on what the meter gathered; the only NVML call is the
``instant`` callable :func:`power_readings` is handed (the window's lazy
instant-power read, when no sample fell in the window).
"""

from __future__ import annotations

from collections.abc import Callable

from nbprofile.meters.nvml.buffers import Series
from nbprofile.meters.nvml.energy import _join
from nbprofile.meters.nvml.reads import Memory
from nbprofile.readings import Reading

V1_MEMORY = "v1 memory info: includes the memory the driver reserves (no v2 here)"
NO_RESERVED = "v1 memory info does not report the driver's reserved memory"
_SOURCE = "nvmlDeviceGetSamples"


def power_readings(series: Series | None, polled: tuple[float, float] | None, polled_source: str,
                   duration_s: float, instant: Callable[[], tuple[float | None, str]], shared: str | None,
                   poll_reason: str) -> tuple[Reading, Reading, float | None]:
    """(mean, peak, mean watts): from the sample buffer's series, else the polls, else one instant read."""
    if series is not None and series.error is not None:
        failed = Reading.unavailable("W", series.error, "nvml")
        return failed, failed, None
    if series is not None:
        mean_mw = series.mean()
        stats = (mean_mw / 1000, series.peak / 1000) if mean_mw is not None else None
        source, cover = _SOURCE, series.coverage(duration_s)
    else:
        stats, source, cover = polled, polled_source, None
    if stats is not None:
        mean_w, peak_w = stats
        note = _join(cover, shared)
        return (Reading(mean_w, "W", "sampled", source, note),
                Reading(peak_w, "W", "sampled", source, note), mean_w)
    none_in = f"no power sample fell in this {duration_s * 1000:.0f} ms window{poll_reason}"
    watts_now, how = instant()
    peak = Reading.unavailable("W", none_in, "nvml")
    if watts_now is None:
        return Reading.unavailable("W", f"{none_in}, and {how}", "nvml"), peak, None
    mean = Reading(watts_now, "W", "sampled", how, _join(f"{none_in}: one reading at its end", shared))
    return mean, peak, None


def util_reading(series: Series | None, polled_mean: float | None, polled_source: str, duration_s: float,
                 shared: str | None, poll_reason: str) -> Reading:
    if series is not None and series.error is not None:
        return Reading.unavailable("%", series.error, "nvml")
    if series is not None:
        mean, source, cover = series.mean(), _SOURCE, series.coverage(duration_s)
    else:
        mean, source, cover = polled_mean, polled_source, None
    if mean is None:
        reason = f"no utilisation sample fell in this {duration_s * 1000:.0f} ms window{poll_reason}"
        return Reading.unavailable("%", reason, "nvml")
    return Reading(mean, "%", "sampled", source, _join(cover, shared))


#: Shorter windows do not read the utilisation buffer at their end: its samples come ~1/6 s (H100) to
#: ~0.2 s (H200) apart, each about the time before it, and the read costs 2.1 ms of CPU (H200)
UTIL_READ_FROM_S = 0.25


def util_unread(duration_s: float) -> Reading:
    """A window too short for the meter to read the utilisation buffer at its end."""
    why = (f"not read for a {duration_s * 1000:.0f} ms window: the driver's utilisation samples come "
           "~1/6 to 1/5 s apart, each about the time before it")
    return Reading.unavailable("%", why, "nvml")


def memory_readings(memory: Memory | None, reason: str) -> tuple[Reading, Reading]:
    """(used, reserved): v2's ``used`` and ``reserved``; v1's ``total - free``, labelled, and no reserved."""
    if memory is None:
        failed = Reading.unavailable("B", reason, "nvml")
        return failed, failed
    if memory.reserved is None:
        return (Reading(memory.used, "B", "measured", memory.source, V1_MEMORY),
                Reading.unavailable("B", NO_RESERVED, "nvml"))
    return (Reading(memory.used, "B", "measured", memory.source),
            Reading(memory.reserved, "B", "measured", "nvmlDeviceGetMemoryInfo v2: reserved"))


def memory_peak(memory: Memory | None, polled_max: int, interval_s: float | None, poll_reason: str,
                reason: str) -> Reading:
    """The largest memory use the polls and the window's end saw."""
    peak = max(polled_max, memory.used if memory is not None else 0)
    if not peak:
        return Reading.unavailable("B", reason or "no memory sample", "nvml")
    note = "sampled: a peak shorter than the interval can be missed" + poll_reason
    how = "v2 used" if memory is None or memory.reserved is not None else "total-free"
    return Reading(peak, "B", "sampled", f"{how} every {interval_s or 0:g} s and at the end",
                   _join(note, reason or None))
