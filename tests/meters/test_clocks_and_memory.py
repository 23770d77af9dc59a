"""The CPU-side meters on their own: windows, nesting, the sampled fallback."""

from __future__ import annotations

import time

from nbprofile.meters.clock import CpuClock, WallClock
from nbprofile.meters.memory import PeakRss

MiB = 1024**2


def test_wall_and_cpu_clocks() -> None:
    wall, cpu = WallClock(), CpuClock()
    assert wall.probe().available and cpu.probe().available
    cpu.begin("k"); wall.begin("k")
    t0, c0 = time.perf_counter(), time.process_time()
    time.sleep(0.05)
    while time.process_time() - c0 < 0.05:
        pass
    seen_wall, seen_cpu = time.perf_counter() - t0, time.process_time() - c0
    w = wall.end("k")["wall_s"]; c = cpu.end("k")
    # the meters agree with what the block itself saw, however busy the machine
    assert seen_wall <= w.value < seen_wall + 0.05 and w.method == "measured"
    assert seen_cpu - 0.002 <= c["cpu_s"].value < seen_cpu + 0.02 and c["cpu_s"].value < w.value
    assert abs(c["cpu_s"].value - c["cpu_user_s"].value - c["cpu_sys_s"].value) < 1e-9
    # whole microseconds, as getrusage counts them: no float noise in records and exports
    assert all(c[k].value == round(c[k].value, 6) for k in ("cpu_s", "cpu_user_s", "cpu_sys_s"))


def test_ending_an_unopened_window_is_unavailable_not_zero() -> None:
    reading = WallClock().end("never")["wall_s"]
    assert reading.value is None and reading.method == "unavailable"


def test_exact_peak_of_nested_windows() -> None:
    meter = PeakRss()
    assert meter.probe().available and meter.mode == "exact"
    meter.begin("outer")
    big = bytearray(300 * MiB)
    del big
    meter.begin("inner")  # resets the high-water mark: the outer window must keep its 300 MiB
    small = bytearray(100 * MiB)
    del small
    inner = meter.end("inner")
    outer = meter.end("outer")
    assert inner["rss_peak_bytes"].value - inner["rss_start_bytes"].value >= 99 * MiB
    assert inner["rss_peak_bytes"].value - inner["rss_start_bytes"].value < 200 * MiB
    assert outer["rss_peak_bytes"].value - outer["rss_start_bytes"].value >= 299 * MiB
    assert outer["rss_peak_bytes"].source == "clear_refs+VmHWM"


def test_sampled_fallback_is_labelled(tmp_path) -> None:
    meter = PeakRss(clear_refs_path=str(tmp_path / "missing"), sample_interval_s=0.005)
    availability = meter.probe()
    assert availability.available and "sampled" in availability.detail
    assert meter.mode == "sampled"
    # first a larger peak, so that the lifetime maximum cannot explain the next one
    warm = bytearray(400 * MiB); del warm
    meter.begin("k")
    held = bytearray(200 * MiB)
    time.sleep(0.05)  # long enough for several samples
    del held
    readings = meter.end("k")
    peak = readings["rss_peak_bytes"]
    assert peak.method == "sampled" and "missed" in peak.note
    assert peak.value - readings["rss_start_bytes"].value >= 190 * MiB
    meter.close()
