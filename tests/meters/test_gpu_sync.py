"""Waiting for the GPU is work, not a hang: a cell that leaves queued kernels keeps its GPU time.

The engine's hang guard runs on real time, so the fake torch here sleeps for its
queued seconds (``real_time``) or blocks like a wedged GPU (``hang``); the guard's
deadline is made short so the tests stay quick.
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Iterator

import pytest

from nbprofile.engine import hang_guard
from nbprofile.engine.hang_guard import HangGuard
from nbprofile.engine.profiler import Profiler
from nbprofile.errors import NbprofileWarning
from nbprofile.meters.clock import WallClock
from nbprofile.meters.cuda_sync import DEFAULT_SYNC_TIMEOUT_S, STILL_WAITING, SYNC_TIMEOUT_ENV
from nbprofile.meters.torch_cuda import GUARD_MARGIN_S, TorchCudaMeter
from tests.fakes.fake_torch import FakeTorch

GUARD_S = 0.3  # the engine's deadline for one phase, shortened from 2 s


@pytest.fixture
def torch(monkeypatch: pytest.MonkeyPatch) -> FakeTorch:
    fake = FakeTorch(real_time=True)
    fake.init(0)
    monkeypatch.setitem(sys.modules, "torch", fake.module)
    return fake


def profiler_with(meter: TorchCudaMeter, monkeypatch: pytest.MonkeyPatch) -> Iterator[Profiler]:
    monkeypatch.setattr(hang_guard, "CHECK_INTERVAL_S", 0.05)
    profiler = Profiler(meters=[meter, WallClock()])
    profiler.windows.guard = HangGuard(timeout_s=GUARD_S)
    yield profiler
    profiler.close()


@pytest.fixture
def profiler(monkeypatch: pytest.MonkeyPatch) -> Iterator[Profiler]:
    yield from profiler_with(TorchCudaMeter(), monkeypatch)


def test_queued_work_longer_than_the_guard_deadline_is_measured_and_the_meter_stays_on(
        torch: FakeTorch, profiler: Profiler) -> None:
    window = profiler.windows.open_window("cell 1")
    torch.launch(0, 1.0)  # the cell returns leaving a second of kernels queued: over three guard deadlines
    r = profiler.windows.close_window(window)
    assert r["gpu_time_s"].method == "measured" and r["gpu_time_s"].value >= 1.0
    assert r["wall_s"].value < 1.0  # the clock ended before the wait: the cell's own time stays its own
    assert profiler.windows.disabled == {} and window.faults == []
    assert torch.log.count("torch.sync(0)") == 2  # both edges synchronised

    window = profiler.windows.open_window("cell 2")
    torch.launch(0, 0.05)
    r = profiler.windows.close_window(window)
    assert r["gpu_time_s"].method == "measured" and r["gpu_time_s"].value >= 0.05
    assert "torch_cuda" in profiler.windows.measuring()


def test_the_guard_still_stops_a_meter_without_its_own_deadline(torch: FakeTorch,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """The long deadline is the torch meter's alone: the meters after it get the usual time again."""

    class SlowClock(WallClock):
        def end(self, key: object) -> dict:  # type: ignore[type-arg]
            threading.Event().wait(2.0)
            return super().end(key)

    monkeypatch.setattr(hang_guard, "CHECK_INTERVAL_S", 0.05)
    profiler = Profiler(meters=[TorchCudaMeter(), SlowClock()])
    profiler.windows.guard = HangGuard(timeout_s=GUARD_S)
    try:
        window = profiler.windows.open_window("cell")
        torch.launch(0, 0.6)
        with pytest.warns(NbprofileWarning, match="wall meter failed in end"):
            r = profiler.windows.close_window(window)
        assert r["gpu_time_s"].method == "measured"
        assert set(profiler.windows.disabled) == {"wall"}
        assert "did not answer within 0.3 s" in profiler.windows.disabled["wall"]
    finally:
        profiler.close()


def test_a_wedged_gpu_never_hangs_the_notebook(torch: FakeTorch, monkeypatch: pytest.MonkeyPatch) -> None:
    meter = TorchCudaMeter(sync_timeout_s=0.5)
    gen = profiler_with(meter, monkeypatch)
    profiler = next(gen)
    torch.hang = threading.Event()  # synchronize() blocks until the test lets it go
    try:
        window = profiler.windows.open_window("cell 1")
        r = profiler.windows.close_window(window)
        note = r["gpu_time_s"].note or ""
        assert r["gpu_time_s"].value is None
        assert "had not finished its queued work after 0.5 s" in note and SYNC_TIMEOUT_ENV in note
        assert "gpu0_vram_peak_bytes" in r  # the allocator's figures need no GPU: still read
        assert profiler.windows.disabled == {}  # not the meter's fault: it stays on

        window = profiler.windows.open_window("cell 2")  # the wait is still blocked: say so, do not queue
        r = profiler.windows.close_window(window)
        assert r["gpu_time_s"].note == STILL_WAITING

        torch.hang.set()  # the GPU comes back
        torch.hang = None
        for _ in range(100):  # the blocked call returns on the meter's thread
            if not meter._sync.busy:
                break
            threading.Event().wait(0.01)
        window = profiler.windows.open_window("cell 3")
        r = profiler.windows.close_window(window)
        assert r["gpu_time_s"].method == "measured"
    finally:
        if torch.hang is not None:
            torch.hang.set()
        gen.close()


def test_a_cuda_error_while_waiting_is_the_windows_reason(torch: FakeTorch, profiler: Profiler) -> None:
    window = profiler.windows.open_window("cell")
    torch.sync_error = "CUDA error: an illegal memory access was encountered"
    r = profiler.windows.close_window(window)
    assert r["gpu_time_s"].value is None
    assert r["gpu_time_s"].note == ("CUDA failed while synchronising: RuntimeError: "
                                    "CUDA error: an illegal memory access was encountered")
    assert profiler.windows.disabled == {}


@pytest.mark.parametrize("value, expected", [("30", 30.0), ("0.5", 0.5), ("", DEFAULT_SYNC_TIMEOUT_S)])
def test_the_wait_limit_from_the_environment(monkeypatch: pytest.MonkeyPatch, value: str,
                                             expected: float) -> None:
    monkeypatch.setenv(SYNC_TIMEOUT_ENV, value)
    meter = TorchCudaMeter()
    assert meter.guard_timeout_s == expected + GUARD_MARGIN_S


@pytest.mark.parametrize("value", ["soon", "-1", "0", "inf"])
def test_a_bad_wait_limit_is_warned_about_and_the_default_used(monkeypatch: pytest.MonkeyPatch,
                                                               value: str) -> None:
    monkeypatch.setenv(SYNC_TIMEOUT_ENV, value)
    with pytest.warns(RuntimeWarning, match=SYNC_TIMEOUT_ENV):
        meter = TorchCudaMeter()
    assert meter.guard_timeout_s == DEFAULT_SYNC_TIMEOUT_S + GUARD_MARGIN_S


@pytest.mark.gpu
def test_real_gpu_minutes_of_queue_are_not_a_hang(monkeypatch: pytest.MonkeyPatch) -> None:
    """On a real GPU: a cell leaving ~5 s of matmuls queued keeps its GPU time, and the meter stays on."""
    real = pytest.importorskip("torch", reason="torch is not installed")
    if real.version.cuda is None or not real.cuda.is_available():
        pytest.skip("no CUDA device")
    monkeypatch.setitem(sys.modules, "torch", real)
    profiler = Profiler(meters=[TorchCudaMeter(), WallClock()])  # the engine's own 2 s guard
    try:
        # few, long launches: CUDA's launch queue never fills, so the work is still queued at the end
        a = real.randn(16384, 16384, device="cuda", dtype=real.bfloat16)
        a @ a
        real.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(10):
            a @ a
        real.cuda.synchronize()
        n = max(1, int(5.0 / ((time.perf_counter() - t0) / 10)))
        window = profiler.windows.open_window("cell")
        for _ in range(n):
            a @ a
        r = profiler.windows.close_window(window)
        print(f"\nqueued {n} matmuls: wall {r['wall_s'].value:.2f} s, gpu_time {r['gpu_time_s'].value} s")
        assert r["gpu_time_s"].value - r["wall_s"].value > 2.0  # the wait itself outlasted the guard's 2 s
        assert r["gpu_time_s"].method == "measured" and r["gpu_time_s"].value > 2.0
        assert profiler.windows.disabled == {}
    finally:
        profiler.close()


def test_a_hang_elsewhere_in_the_torch_meter_is_still_stopped_in_the_guards_time(
        torch: FakeTorch, profiler: Profiler) -> None:
    """The long deadline covers the wait for the GPU alone, not the rest of the meter's call."""
    window = profiler.windows.open_window("cell")
    torch.module.cuda.memory_stats_as_nested_dict = lambda d=None: threading.Event().wait(30.0)  # wedged
    with pytest.warns(NbprofileWarning, match="torch_cuda meter failed in end"):
        r = profiler.windows.close_window(window)
    assert "did not answer within 0.3 s" in profiler.windows.disabled["torch_cuda"]
    assert r["gpu_time_s"].value is None
