"""A cell's CPU time leaves out what nbprofile's own threads spent during it, and says how much.

getrusage counts every thread of the kernel; nbprofile's threads (the NVML poller's drains, the
hot-spot sampler, the store's writer, the OOM guard and the live view it drives) work while cells
run. On an H200 one NVML buffer read is 2.1 ms of CPU: without this, a GPU-bound cell's `cpu_s`
would carry the profiler's work.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any

import pytest

from nbprofile.engine.profiler import Profiler
from nbprofile.meters.clock import NOT_COUNTED_APART, CpuClock, WallClock
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.meters.own_cpu import OwnCpu
from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml


def burn(seconds: float) -> None:
    """Spend ``seconds`` of this thread's CPU."""
    end = time.thread_time() + seconds
    while time.thread_time() < end:
        pass


def in_thread(work: Any) -> None:
    thread = threading.Thread(target=work)
    thread.start()
    thread.join()


def test_a_cells_cpu_leaves_out_what_nbprofiles_threads_spent_and_reports_it_apart() -> None:
    own = OwnCpu()
    clock = CpuClock(own)
    clock.begin("cell")

    def ours() -> None:
        with own.spent():
            burn(0.3)

    in_thread(ours)
    r = clock.end("cell")
    assert r["profiler_cpu_s"].value == pytest.approx(0.3, abs=0.05)
    assert r["cpu_s"].value < 0.05  # the cell's own thread only waited
    assert r["cpu_s"].source == "getrusage - nbprofile's threads"
    assert r["cpu_user_s"].value + r["cpu_sys_s"].value == pytest.approx(r["cpu_s"].value, abs=2e-6)


def test_a_users_thread_is_the_cells_cpu() -> None:
    clock = CpuClock(OwnCpu())
    clock.begin("cell")
    in_thread(lambda: burn(0.3))
    r = clock.end("cell")
    assert r["cpu_s"].value >= 0.28 and r["profiler_cpu_s"].value == 0.0


def test_without_the_profilers_count_every_thread_is_the_cells() -> None:
    own, clock = OwnCpu(), CpuClock()  # a meter used on its own: nothing to leave out

    def ours() -> None:
        with own.spent():
            burn(0.2)

    clock.begin("cell")
    in_thread(ours)
    r = clock.end("cell")
    assert r["cpu_s"].value >= 0.18 and r["cpu_s"].source == "getrusage"
    assert r["profiler_cpu_s"].value is None and r["profiler_cpu_s"].note == NOT_COUNTED_APART


def test_the_profiler_hands_its_count_to_its_threads_and_an_nvml_poll_is_not_the_cells(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Through the profiler: the NVML polling thread's drain (here a buffer read that spends 50 ms of
    CPU, as slow drivers make it) lands in profiler_cpu_s, not in cpu_s."""
    clock = FakeClock()
    fake = FakeNvml([FakeGpu("GPU-aaaa1111-0000-4000-8000-000000000000")], clock)
    real_samples = fake.module.nvmlDeviceGetSamples

    def slow_samples(*args: Any) -> Any:
        burn(0.05)
        return real_samples(*args)

    fake.module.nvmlDeviceGetSamples = slow_samples
    monkeypatch.setitem(sys.modules, "pynvml", fake.module)
    nvml = NvmlMeter(poll_interval_s=0.05, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    profiler = Profiler(meters=[nvml, CpuClock(), WallClock()])
    try:
        assert nvml.probe().available
        threads = [profiler.oom_guard, profiler.hotspots, profiler.recorder.writer, nvml,
                   profiler.windows.find(CpuClock)]
        assert all(t.own_cpu is profiler.own_cpu for t in threads)
        fake.run(6.0, 300.0, step_s=0.01)  # both kinds of buffer are due for a drain at the first tick
        window = profiler.open_window("cell")  # wakes the polling thread
        time.sleep(0.4)  # its ticks, every 50 ms
        r = profiler.close_window(window)
        assert r["profiler_cpu_s"].value >= 0.09  # two buffer reads of 50 ms
        assert r["cpu_s"].value < 0.05
    finally:
        profiler.close()
