"""SM and tensor-core activity per cell from NVML's GPM, against the fake NVML at the pynvml boundary.

The fake integrates each GPU's SM and tensor activity over time (``FakeNvml.run(sm=..., tensor=...)``)
and computes GPM's percentages from two snapshots, as ``nvmlGpmMetricsGet`` does; on a real Hopper
GPU the same meter reads the driver's counters (``tests/test_gpu_real.py`` when one is lent).
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from nbprofile.meters.nvml import NvmlMeter
from nbprofile.meters.nvml.gpm import GPM_MIG, NO_BINDING
from nbprofile.readings import Reading
from tests.fakes.fake_nvml import NVML_ERROR_GPU_IS_LOST, FakeClock, FakeGpu, FakeMig, FakeNvml

H100, A100 = "GPU-11111111-0000-4000-8000-000000000000", "GPU-22222222-0000-4000-8000-000000000000"


pytestmark = pytest.mark.usefixtures("no_gpu_environment")


def meter_on(clock: FakeClock) -> NvmlMeter:
    meter = NvmlMeter(poll_interval_s=None, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    assert meter.probe().available
    return meter


def cell(meter: NvmlMeter, run: Callable[[], None], key: str = "cell") -> dict[str, Reading]:
    meter.begin(key)
    run()
    return meter.end(key)


def test_a_matmul_loop_is_busy_and_a_sleep_is_not(install: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install(FakeGpu(H100))
    meter = meter_on(clock)
    matmul = cell(meter, lambda: fake.run(3.0, 650, util=100, sm=97, tensor=85))
    assert matmul["gpu0_sm_active_pct"].value == pytest.approx(97)
    assert matmul["gpu0_tensor_active_pct"].value == pytest.approx(85)
    assert matmul["gpu0_sm_active_pct"].method == "measured" and matmul["gpu0_sm_active_pct"].unit == "%"
    assert "GPM" in matmul["gpu0_sm_active_pct"].source
    sleep = cell(meter, lambda: fake.idle(3.0))  # time.sleep(3): nothing queued on the GPU
    assert sleep["gpu0_sm_active_pct"].value == pytest.approx(0, abs=0.5)
    assert sleep["gpu0_tensor_active_pct"].value == pytest.approx(0, abs=0.5)


def test_activity_is_the_cells_own_when_the_gpu_was_busy_before(install: Callable[..., FakeNvml],
                                                                clock: FakeClock) -> None:
    fake = install(FakeGpu(H100))
    meter = meter_on(clock)
    fake.run(10.0, 600, sm=100, tensor=100)  # an earlier cell's work
    half = cell(meter, lambda: (fake.run(1.0, 600, sm=80, tensor=0), fake.idle(1.0)))
    assert half["gpu0_sm_active_pct"].value == pytest.approx(40)
    assert half["gpu0_tensor_active_pct"].value == pytest.approx(0)


def test_nested_windows_each_get_their_own_activity(install: Callable[..., FakeNvml],
                                                     clock: FakeClock) -> None:
    fake = install(FakeGpu(H100))
    meter = meter_on(clock)
    meter.begin("outer")
    fake.idle(1.0)
    inner = cell(meter, lambda: fake.run(1.0, 600, sm=90), key="inner")
    outer = meter.end("outer")
    assert inner["gpu0_sm_active_pct"].value == pytest.approx(90)
    assert outer["gpu0_sm_active_pct"].value == pytest.approx(45)


def test_unsupported_devices_say_why(install: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install(FakeGpu(H100), FakeGpu(A100, name="NVIDIA A100-SXM4-80GB", gpm=False))
    r = cell(meter_on(clock), lambda: fake.run(2.0, 300, sm=90))
    assert r["gpu0_sm_active_pct"].value == pytest.approx(90)
    for key in ("gpu1_sm_active_pct", "gpu1_tensor_active_pct"):
        assert r[key].value is None and r[key].method == "unavailable"
        assert r[key].note == "GPM needs a Hopper or newer GPU (NVIDIA A100-SXM4-80GB has none)"
    assert fake.calls["nvmlGpmSampleGet"] == 2  # the H100 at both edges; the A100 never asked


def test_bindings_without_gpm_say_so(install: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install(FakeGpu(H100))
    del fake.module.nvmlGpmQueryDeviceSupport  # nvidia-ml-py 11
    r = cell(meter_on(clock), lambda: fake.run(1.0, 300))
    assert r["gpu0_sm_active_pct"].note == NO_BINDING
    assert r["gpu0_energy_j"].value == pytest.approx(300, abs=1)


def test_a_mig_instance_says_why(install: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install(FakeGpu(H100, migs=[FakeMig("MIG-33333333-0000-4000-8000-000000000000")]))
    r = cell(meter_on(clock), lambda: fake.run(1.0, 300))
    assert r["gpu0_sm_active_pct"].note == GPM_MIG and r["gpu0_tensor_active_pct"].value is None


def test_a_window_shorter_than_gpms_refresh_gets_the_reason(install: Callable[..., FakeNvml],
                                                            clock: FakeClock) -> None:
    fake = install(FakeGpu(H100))
    r = cell(meter_on(clock), lambda: fake.run(0.05, 600, sm=90))
    assert r["gpu0_sm_active_pct"].value is None
    assert r["gpu0_sm_active_pct"].note == "the 50 ms window is shorter than GPM's ~100 ms counter refresh"


def test_a_failing_snapshot_takes_only_the_gpm_readings(install: Callable[..., FakeNvml],
                                                        clock: FakeClock) -> None:
    fake = install(FakeGpu(H100))
    meter = meter_on(clock)
    meter.begin("cell")
    fake.run(1.0, 300)
    fake.gpus[0].fail["nvmlGpmSampleGet"] = NVML_ERROR_GPU_IS_LOST
    r = meter.end("cell")
    assert r["gpu0_sm_active_pct"].note == "nvmlGpmSampleGet failed: GPU is lost"
    assert r["gpu0_energy_j"].value == pytest.approx(300, abs=1)


def test_sample_buffers_are_reused_and_freed(install: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install(FakeGpu(H100))
    meter = meter_on(clock)
    for _ in range(50):
        cell(meter, lambda: fake.run(0.2, 300))
    meter.begin("discarded")
    meter.discard("discarded")
    assert fake.calls["nvmlGpmSampleAlloc"] == 2  # one per edge, allocated once
    meter.close()
    assert fake.calls["nvmlGpmSampleFree"] == 2


def test_status_says_what_gpm_can_read(install: Callable[..., FakeNvml], clock: FakeClock,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    install(FakeGpu(H100))
    assert meter_on(clock).probe().detail.endswith("; GPM SM/tensor activity")
    install(FakeGpu(A100, name="NVIDIA A100-SXM4-80GB", gpm=False))
    assert meter_on(clock).probe().detail.endswith(
        "; no GPM activity (GPM needs a Hopper or newer GPU (NVIDIA A100-SXM4-80GB has none))")
