"""A running cell's GPU energy so far, and the power of its last second, for the live numbers: mean
power so far x time, from the power samples the drains fold in (the energy counter only where there is
none: its read costs 3 ms of CPU on an H200), at the library boundary (a fake NVML here)."""

from __future__ import annotations

import re
import sys
from time import perf_counter_ns

import pytest

from nbprofile.engine.live import LiveView
from nbprofile.engine.windows import Window
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.record import LiveNumbers
from nbprofile.report.footer import live_text
from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeMig, FakeNvml

UUIDS = ["GPU-a1", "GPU-b2", "GPU-c3"]


def meter_with(monkeypatch: pytest.MonkeyPatch, *gpus: FakeGpu) -> tuple[NvmlMeter, FakeNvml]:
    clock = FakeClock()
    fake = FakeNvml(list(gpus), clock)
    monkeypatch.setitem(sys.modules, "pynvml", fake.module)
    meter = NvmlMeter(poll_interval_s=None, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    assert meter.probe().available
    return meter, fake


def test_energy_so_far_per_device_from_the_power_samples_without_a_counter_read(
        monkeypatch: pytest.MonkeyPatch) -> None:
    meter, fake = meter_with(monkeypatch, FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1]))
    meter.begin("cell")
    fake.run(2.0, watts=[300.0, 100.0])
    counter_reads = fake.calls["nvmlDeviceGetTotalEnergyConsumption"]
    so_far = meter.live_energy_j("cell")
    assert so_far[0] == pytest.approx(600.0, rel=0.05) and so_far[1] == pytest.approx(200.0, rel=0.05)
    assert fake.calls["nvmlDeviceGetTotalEnergyConsumption"] == counter_reads  # none in the live look
    assert meter.live_energy_j("no such window") == {}
    meter.end("cell")
    assert meter.live_energy_j("cell") == {}  # the window is over


def test_the_counter_only_where_there_is_no_sample_and_a_device_that_cannot_say_is_left_out(
        monkeypatch: pytest.MonkeyPatch) -> None:
    meter, fake = meter_with(monkeypatch, FakeGpu(UUIDS[0], samples=False, energy_counter=False),
                             FakeGpu(UUIDS[1], samples=False), FakeGpu(UUIDS[2], energy_counter=False))
    meter.begin("cell")
    fake.run(1.0, watts=250.0)
    so_far = meter.live_energy_j("cell")
    assert sorted(so_far) == [1, 2]  # the counter's; the samples' (no counter); gpu0 has neither
    assert so_far[1] == pytest.approx(250.0, rel=0.15) and so_far[2] == pytest.approx(250.0, rel=0.05)


def test_the_live_line_shows_each_gpus_power_and_energy(monkeypatch: pytest.MonkeyPatch) -> None:
    meter, fake = meter_with(monkeypatch, FakeGpu(UUIDS[0]))
    seen: list[LiveNumbers] = []
    live = LiveView()
    live.listener = seen.append
    live.gpu_energy = lambda window: meter.live_energy_j(window.key)
    window = Window(key="cell", started_at=0.0, began_ns=perf_counter_ns() - 3 * 10**9)  # 3 s in
    meter.begin("cell")
    live.begin(window)
    fake.run(1.0, watts=300.0)
    live.tick(None, 100 * 2**20)
    fake.run(1.0, watts=300.0)
    live._last = (live._last[0], perf_counter_ns() - 10**9)  # the second look, one second after the first
    live.tick(None, 100 * 2**20)
    live.end()
    first, second = seen
    assert first.gpus[0][0] == 0 and first.gpus[0][2] is None  # no power before a second look
    index, joules, watts = second.gpus[0]
    assert joules == pytest.approx(600.0, rel=0.05) and watts == pytest.approx(300.0, rel=0.1)
    assert re.search(r" · GPU0 (29\d|30\d) W (59\d|60\d) J\b", live_text(second)), live_text(second)


def test_mig_slices_have_no_counter_of_their_own(monkeypatch: pytest.MonkeyPatch) -> None:
    meter, fake = meter_with(monkeypatch, FakeGpu(UUIDS[2], migs=[FakeMig("MIG-1")]))
    meter.begin("cell")
    fake.run(1.0, watts=200.0)
    assert meter.live_energy_j("cell") == {}
