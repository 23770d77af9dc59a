"""The GPU meters' logic against a fake NVML and a fake torch (no GPU needed).

The fakes sit at the library boundary (``sys.modules["pynvml"]`` and
``sys.modules["torch"]``) and share one fake clock with the meters, so energy,
samples, queued kernels and window lengths are exact and the tests run in
milliseconds.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from importlib.machinery import ModuleSpec
from pathlib import Path
from typing import Any

import pytest

from nbprofile.derive.vram import derive_vram_peak
from nbprofile.engine.profiler import Profiler
from nbprofile.meters.base import Meter
from nbprofile.meters.clock import WallClock
from nbprofile.meters.nvml import (
    COUNTER_UPDATE_PERIOD_S,
    MIG_ENERGY,
    NO_COUNTER,
    NOT_INSTALLED,
    NvmlMeter,
    sharing,
)
from nbprofile.meters.torch_cuda import CUDA_NOT_INITIALISED, TORCH_NOT_IMPORTED, TorchCudaMeter
from nbprofile.readings import Reading
from tests.fakes.fake_nvml import (
    NVML_ERROR_DRIVER_NOT_LOADED,
    NVML_ERROR_FUNCTION_NOT_FOUND,
    NVML_ERROR_GPU_IS_LOST,
    NVML_ERROR_LIBRARY_NOT_FOUND,
    NVML_ERROR_NO_PERMISSION,
    NVML_ERROR_NOT_SUPPORTED,
    NVML_ERROR_UNKNOWN,
    FakeClock,
    FakeGpu,
    FakeMig,
    FakeNvml,
    GiB,
)
from tests.fakes.fake_torch import FakeTorch
from tests.support import machine

UUIDS = ["GPU-aaaa1111-0000-4000-8000-000000000000", "GPU-bbbb2222-0000-4000-8000-000000000001",
         "GPU-cccc3333-0000-4000-8000-000000000002"]
MiB = 1024**2


pytestmark = pytest.mark.usefixtures("no_gpu_environment")


@pytest.fixture
def log() -> list[str]:
    return []


@pytest.fixture
def install_nvml(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, log: list[str]) -> Callable[..., FakeNvml]:
    def install(*gpus: FakeGpu, **kwargs: Any) -> FakeNvml:
        fake = FakeNvml(list(gpus), clock, log=log, **kwargs)
        monkeypatch.setitem(sys.modules, "pynvml", fake.module)
        return fake

    return install


@pytest.fixture
def install_torch(monkeypatch: pytest.MonkeyPatch, clock: FakeClock, log: list[str]) -> Callable[..., FakeTorch]:
    def install(devices: int = 1, **kwargs: Any) -> FakeTorch:
        fake = FakeTorch(devices, clock, log, **kwargs)
        monkeypatch.setitem(sys.modules, "torch", fake.module)
        return fake

    return install


def nvml_on(clock: FakeClock, **kwargs: Any) -> NvmlMeter:
    meter = NvmlMeter(poll_interval_s=None, clock_ns=clock.now_ns, epoch_us=clock.epoch_us, **kwargs)
    availability = meter.probe()
    assert availability.available, availability
    return meter


def window(meter: Meter, run: Callable[[], None], key: object = "cell") -> dict[str, Reading]:
    meter.begin(key)
    run()
    return meter.end(key)


# -- NVML: unavailable ----------------------------------------------------------

def test_nvml_not_installed_every_key_unavailable_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` raises ImportError
    meter = NvmlMeter()
    availability = meter.probe()
    assert not availability.available
    assert availability.detail == NOT_INSTALLED
    assert availability.fix == "pip install nvidia-ml-py"
    meter.begin("c")
    readings = meter.end("c")
    assert set(readings) == set(meter.keys) == {"gpu_energy_j"}
    assert all(r.value is None and r.method == "unavailable" and r.note == NOT_INSTALLED
               for r in readings.values())


@pytest.mark.parametrize("code, text", [(NVML_ERROR_DRIVER_NOT_LOADED, "Driver Not Loaded"),
                                        (NVML_ERROR_LIBRARY_NOT_FOUND, "NVML Shared Library Not Found")])
def test_nvml_init_failure_is_no_driver(install_nvml: Callable[..., FakeNvml], code: int, text: str) -> None:
    install_nvml(FakeGpu(UUIDS[0]), init_error=code)
    meter = NvmlMeter()
    availability = meter.probe()
    assert not availability.available
    assert availability.detail == f"no NVIDIA driver (NVML: {text})"
    assert availability.fix
    reading = window(meter, lambda: None)["gpu_energy_j"]
    assert reading.value is None and reading.note == availability.detail


@pytest.mark.parametrize("code, note", [
    (NVML_ERROR_NOT_SUPPORTED, NO_COUNTER),  # a pre-Volta board: no counter at all
    (NVML_ERROR_FUNCTION_NOT_FOUND, NO_COUNTER),  # a driver too old to have the call
    (NVML_ERROR_NO_PERMISSION, "the energy counter cannot be read: Insufficient Permissions"),
    (NVML_ERROR_UNKNOWN, "the energy counter cannot be read: Unknown Error"),
])
def test_an_unreadable_energy_counter_says_which_problem_and_estimates(install_nvml: Callable[..., FakeNvml],
                                                                      clock: FakeClock, code: int,
                                                                      note: str) -> None:
    """pynvml raises one error class per code: a board without the counter and a counter that failed
    (in pynvml's words) read differently, and both estimate 200 W x 2 s from the power samples."""
    fake = install_nvml(FakeGpu(UUIDS[0], fail={"nvmlDeviceGetTotalEnergyConsumption": code}))
    meter = nvml_on(clock)
    assert meter.probe().fix == f"gpu0: {note}; energy is mean power x time"
    r = window(meter, lambda: fake.run(2.0, 200))
    energy = r["gpu0_energy_j"]
    assert (energy.method, energy.source, energy.note) == ("estimated", "mean sampled power x time", note)
    assert energy.value == pytest.approx(400, rel=0.01) and r["gpu_energy_j"].value == pytest.approx(400, rel=0.01)


def test_mig_mode_not_supported_is_a_whole_gpu_and_other_errors_say_why(install_nvml: Callable[..., FakeNvml],
                                                                       clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], mig_capable=False))  # NotSupported: a board without MIG
    meter = nvml_on(clock)
    assert [(g.uuid, g.mig) for g in meter.gpus] == [(UUIDS[0], False)]
    energy = window(meter, lambda: fake.run(1.0, 250))["gpu0_energy_j"]
    assert energy.method == "measured" and energy.value == pytest.approx(250, abs=1)

    install_nvml(FakeGpu(UUIDS[0], fail={"nvmlDeviceGetMigMode": NVML_ERROR_NO_PERMISSION}))
    refused = NvmlMeter(poll_interval_s=None, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    availability = refused.probe()
    assert not availability.available
    assert availability.detail == "NVML could not list the GPUs: Insufficient Permissions" and availability.fix
    assert window(refused, lambda: None)["gpu_energy_j"].note == availability.detail


def test_real_pynvml_imports_without_the_deprecation_warning_and_reports_why() -> None:
    """PyPI ``pynvml`` 13's redirector warns on import; probing must filter it (fresh process, -W error)."""
    code = ("import sys; from nbprofile.meters.nvml import NvmlMeter; "
            "assert 'pynvml' not in sys.modules and 'torch' not in sys.modules; "
            "a = NvmlMeter().probe(); print(a.available, a.detail)")
    out = subprocess.run([sys.executable, "-W", "error::FutureWarning", "-c", code],
                         check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    if not machine.pynvml_installed():
        assert out.stdout == f"False {NOT_INSTALLED}\n"
    elif not machine.has_nvidia_gpu():
        assert out.stdout.startswith("False no NVIDIA driver (NVML: "), out.stdout
    else:
        assert out.stdout.startswith("True NVML, driver "), out.stdout


def test_end_of_a_window_never_opened(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    install_nvml(FakeGpu(UUIDS[0]))
    readings = nvml_on(clock).end("never")
    assert readings and all(r.value is None and r.note == "the window was never opened" for r in readings.values())


# -- NVML: energy -------------------------------------------------------------

def test_energy_is_the_counter_delta_with_power_and_utilisation(install_nvml: Callable[..., FakeNvml],
                                                                clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = nvml_on(clock)
    fake.idle(1.0)

    def work() -> None:
        fake.run(1.0, 200, util=80)
        fake.run(1.0, 400, util=100)

    r = window(meter, work)
    assert r["gpu0_energy_j"].method == "measured" and r["gpu0_energy_j"].value == pytest.approx(600, abs=1)
    assert r["gpu0_energy_j"].source == "nvmlDeviceGetTotalEnergyConsumption"
    assert r["gpu_energy_j"] == r["gpu0_energy_j"]  # one device: the total is that device
    assert r["gpu0_power_mean_w"].value == pytest.approx(300, abs=1)
    assert r["gpu0_power_peak_w"].value == pytest.approx(400)
    assert r["gpu0_power_mean_w"].method == "sampled"
    assert r["gpu0_util_pct"].value == pytest.approx(90, abs=1)
    assert r["gpu0_mem_used_bytes"].value == 1 * GiB  # total - free, not v1's used (which adds reserved)
    assert set(r) == set(meter.keys)


def test_energy_error_is_at_most_one_counter_period(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = nvml_on(clock)
    fake.idle(0.05)  # the window starts half-way between two counter updates
    r = window(meter, lambda: fake.run(2.0, 300))
    assert r["gpu0_energy_j"].method == "measured"
    assert abs(r["gpu0_energy_j"].value - 600) <= 300 * COUNTER_UPDATE_PERIOD_S


def test_nested_windows_each_get_their_own_energy(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = nvml_on(clock)
    meter.begin("outer")
    fake.run(1.0, 200)
    meter.begin("inner")
    fake.run(1.0, 400)
    inner = meter.end("inner")
    fake.run(1.0, 200)
    outer = meter.end("outer")
    assert inner["gpu_energy_j"].value == pytest.approx(400, abs=1)
    assert outer["gpu_energy_j"].value == pytest.approx(800, abs=1)
    assert inner["gpu0_power_mean_w"].value == pytest.approx(400)


def test_short_cell_gets_an_estimate_labelled_as_such(install_nvml: Callable[..., FakeNvml],
                                                      clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = nvml_on(clock)
    fake.idle(1.02)
    calls = fake.calls.copy()
    r = window(meter, lambda: fake.run(0.05, 250))  # no driver sample (every 1/6 s) falls in here
    calls = fake.calls - calls
    # the reads that cannot help so short a window are not made (3 ms and 2.1 ms each on an H200)
    assert calls["nvmlDeviceGetTotalEnergyConsumption"] == 1  # at the begin only
    assert calls["nvmlDeviceGetSamples"] == 1  # power's: utilisation's buffer is not read
    energy = r["gpu0_energy_j"]
    assert energy.method == "estimated"
    assert energy.value == pytest.approx(250 * 0.05)
    assert "shorter than the energy counter's ~100 ms update period" in energy.note
    assert energy.source == "instant power x time"
    assert r["gpu0_power_mean_w"].value == pytest.approx(250) and "one reading at its end" in r[
        "gpu0_power_mean_w"].note
    assert r["gpu0_power_peak_w"].value is None and "no power sample fell" in r["gpu0_power_peak_w"].note
    assert r["gpu0_util_pct"].value is None
    assert r["gpu0_util_pct"].note.startswith("not read for a 50 ms window: the driver's utilisation samples")


def test_short_cell_estimate_uses_the_samples_when_there_are_some(install_nvml: Callable[..., FakeNvml],
                                                                  clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], sample_period_s=0.01))
    meter = nvml_on(clock)
    r = window(meter, lambda: fake.run(0.08, 300))
    assert r["gpu0_energy_j"].method == "estimated"
    assert r["gpu0_energy_j"].source == "mean sampled power x time"
    assert r["gpu0_energy_j"].value == pytest.approx(300 * 0.08)


def test_counter_that_did_not_move_while_the_gpu_drew_power(install_nvml: Callable[..., FakeNvml],
                                                            clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], counter_period_s=10.0))
    meter = nvml_on(clock)
    r = window(meter, lambda: fake.run(1.0, 300))
    energy = r["gpu0_energy_j"]
    assert energy.method == "estimated" and energy.value == pytest.approx(300, rel=0.01)
    assert "did not advance in 1000 ms" in energy.note


def test_counter_going_backwards_is_unavailable(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = nvml_on(clock)
    meter.begin("c")
    fake.run(1.0, 300)
    fake.gpus[0].counter_mj = 5  # the driver was reloaded
    energy = meter.end("c")["gpu0_energy_j"]
    assert energy.value is None and "went backwards" in energy.note


def test_counter_absent_is_estimated_from_the_samples(install_nvml: Callable[..., FakeNvml],
                                                      clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], name="Tesla P100", energy_counter=False))
    meter = nvml_on(clock)
    availability = meter.probe()
    assert "energy estimated from power" in availability.detail and "Volta" in availability.fix
    r = window(meter, lambda: fake.run(2.0, 200))
    energy = r["gpu0_energy_j"]
    assert energy.method == "estimated" and energy.value == pytest.approx(400, rel=0.01)
    assert NO_COUNTER in energy.note


def test_counter_absent_and_no_power_reading_is_unavailable(install_nvml: Callable[..., FakeNvml],
                                                            clock: FakeClock) -> None:
    gpu = FakeGpu(UUIDS[0], energy_counter=False, samples=False, instant_power=False,
                  fail={"nvmlDeviceGetPowerUsage": NVML_ERROR_NOT_SUPPORTED})
    fake = install_nvml(gpu)
    meter = nvml_on(clock, sample_memory=False)
    r = window(meter, lambda: fake.run(1.0, 200))
    assert r["gpu0_energy_j"].value is None
    assert NO_COUNTER in r["gpu0_energy_j"].note and "Not Supported" in r["gpu0_energy_j"].note
    assert r["gpu_energy_j"].value is None
    assert r["gpu0_power_mean_w"].value is None and r["gpu0_util_pct"].value is None


def test_counter_and_samples_far_apart_get_a_note(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = nvml_on(clock)
    meter.begin("c")
    fake.run(2.0, 300)
    buffer = fake.gpus[0].power_buffer
    kept = list(buffer)
    buffer.clear()
    buffer.extend(kept[:-6] + [(t, 100_000) for t, _ in kept[-6:]])
    energy = meter.end("c")["gpu0_energy_j"]
    assert energy.method == "measured" and "the counter is the primary figure" in energy.note


# -- NVML: devices ------------------------------------------------------------

def three_gpus(install_nvml: Callable[..., FakeNvml]) -> FakeNvml:
    return install_nvml(*(FakeGpu(u) for u in UUIDS))


@pytest.mark.parametrize("visible", ["2,0", "GPU-cccc,GPU-aaaa", " 2 , 0 ", "2gpu,0"])
def test_cuda_visible_devices_reorders_by_uuid(install_nvml: Callable[..., FakeNvml], clock: FakeClock,
                                               monkeypatch: pytest.MonkeyPatch, visible: str) -> None:
    fake = three_gpus(install_nvml)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    meter = nvml_on(clock)
    assert [(g.index, g.nvml_index, g.uuid) for g in meter.gpus] == [(0, 2, UUIDS[2]), (1, 0, UUIDS[0])]
    r = window(meter, lambda: fake.run(1.0, [100, 200, 300]))
    assert r["gpu0_energy_j"].value == pytest.approx(300, abs=1)  # CUDA device 0 is NVML device 2
    assert r["gpu1_energy_j"].value == pytest.approx(100, abs=1)
    assert r["gpu_energy_j"].value == pytest.approx(400, abs=2) and r["gpu_energy_j"].method == "measured"
    assert not any(k.startswith("gpu2_") for k in r)
    assert "CUDA_VISIBLE_DEVICES=" in meter.probe().detail


@pytest.mark.parametrize("visible, nvml_indices", [
    ("1,foo,0", [1]),  # parsing stops at the first invalid entry
    ("0,7,1", [0]),  # ... and at an ordinal out of range
    ("GPU-bbbb,0", [1]),  # a list of UUIDs ends where the UUIDs end
    ("GPU-cccc,GPU-zzzz,GPU-aaaa", [2]),
])
def test_cuda_visible_devices_parsing_rules(install_nvml: Callable[..., FakeNvml], clock: FakeClock,
                                            monkeypatch: pytest.MonkeyPatch, visible: str,
                                            nvml_indices: list[int]) -> None:
    three_gpus(install_nvml)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert [g.nvml_index for g in nvml_on(clock).gpus] == nvml_indices


@pytest.mark.parametrize("visible", ["", "0,0", "GPU-", "-1", "GPU-aaaa,GPU-aaaa"])
def test_cuda_visible_devices_that_hide_every_gpu(install_nvml: Callable[..., FakeNvml], clock: FakeClock,
                                                  monkeypatch: pytest.MonkeyPatch, visible: str) -> None:
    three_gpus(install_nvml)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    meter = NvmlMeter(poll_interval_s=None, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    availability = meter.probe()
    assert not availability.available
    assert availability.detail == f"no NVIDIA GPU visible (CUDA_VISIBLE_DEVICES={visible!r})"
    assert window(meter, lambda: None)["gpu_energy_j"].note == availability.detail


def test_multi_gpu_sum_and_per_device_keys(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1], mem_used=5 * GiB))
    meter = nvml_on(clock)
    r = window(meter, lambda: fake.run(2.0, [250, 150], util=[100, 50]))
    assert r["gpu0_energy_j"].value == pytest.approx(500, abs=1)
    assert r["gpu1_energy_j"].value == pytest.approx(300, abs=1)
    total = r["gpu_energy_j"]
    assert total.value == pytest.approx(800, abs=2) and total.method == "measured"
    # no sign of which GPUs this process uses (no torch, no PID of ours): every visible one, said so
    assert total.source == "all 2 visible GPUs: which ones this process uses is not known"
    assert total.note is None
    assert r["gpu_energy_other_j"].value is None
    assert r["gpu1_util_pct"].value == pytest.approx(50)
    assert r["gpu1_mem_used_bytes"].value == 5 * GiB
    assert len(meter.keys) == 2 + 2 * 9  # the two totals; 6 NVML readings, reserved memory, 2 GPM per device


def test_multi_gpu_sum_weakest_method_and_missing_devices(install_nvml: Callable[..., FakeNvml],
                                                          clock: FakeClock) -> None:
    # (a MIG device cannot be the third: CUDA shows no whole GPU beside a MIG device, see test_gpu_mig.py)
    fake = install_nvml(FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1], energy_counter=False))
    meter = nvml_on(clock)
    r = window(meter, lambda: fake.run(1.0, 100))
    total = r["gpu_energy_j"]
    assert r["gpu1_energy_j"].method == "estimated"
    assert r["gpu0_energy_j"].value == pytest.approx(100, abs=1)  # 100 W for 1 s, from the counter
    assert r["gpu1_energy_j"].value == pytest.approx(100, rel=0.01)  # the same, from the power samples
    assert total.method == "estimated"
    assert total.value == pytest.approx(200, abs=2)  # gpu0 + gpu1
    assert f"gpu1: {NO_COUNTER}" in total.note


def test_mig_energy_and_utilisation_unavailable_memory_per_instance(install_nvml: Callable[..., FakeNvml],
                                                                    clock: FakeClock,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    migs = [FakeMig("MIG-1111aaaa-0000-4000-8000-000000000000", mem_used=2 * GiB),
            FakeMig("MIG-2222bbbb-0000-4000-8000-000000000000", mem_used=3 * GiB)]
    fake = install_nvml(FakeGpu(UUIDS[0], migs=migs))
    meter = nvml_on(clock)
    assert [(g.uuid, g.mig) for g in meter.gpus] == [(migs[0].uuid, True)]  # CUDA enumerates one MIG device
    availability = meter.probe()
    assert "no energy (MIG)" in availability.detail and "-mig 0" in availability.fix
    r = window(meter, lambda: fake.run(1.0, 300))
    assert r["gpu0_energy_j"].value is None and r["gpu0_energy_j"].note == MIG_ENERGY
    assert r["gpu0_power_mean_w"].value is None and r["gpu0_util_pct"].value is None
    assert r["gpu_energy_j"].value is None and MIG_ENERGY in r["gpu_energy_j"].note
    assert r["gpu0_mem_used_bytes"].value == 2 * GiB  # the instance's memory, not the whole GPU's

    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "MIG-2222")
    only = nvml_on(clock)
    assert [g.uuid for g in only.gpus] == [migs[1].uuid]
    assert window(only, lambda: None)["gpu0_mem_used_bytes"].value == 3 * GiB


def test_memory_v1_fallback_is_total_minus_free_and_says_it_counts_the_reserved(
        install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], mem_used=7 * GiB, mem_reserved=600 * MiB))
    del fake.module.nvmlMemory_v2  # old bindings
    r = window(nvml_on(clock), lambda: None)
    assert r["gpu0_mem_used_bytes"].value == 7 * GiB + 600 * MiB  # v1 cannot take the reservation out
    assert "includes the memory the driver reserves" in r["gpu0_mem_used_bytes"].note
    assert r["gpu0_mem_reserved_bytes"].value is None


def test_a_failing_memory_call_takes_only_the_memory_readings(install_nvml: Callable[..., FakeNvml],
                                                              clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1]))
    meter = nvml_on(clock, sample_memory=False)
    meter.begin("c")
    fake.run(1.0, 200)
    fake.gpus[1].fail["nvmlDeviceGetMemoryInfo"] = NVML_ERROR_GPU_IS_LOST
    r = meter.end("c")
    assert r["gpu1_mem_used_bytes"].value is None
    assert r["gpu1_mem_used_bytes"].note == "nvmlDeviceGetMemoryInfo failed on gpu1: GPU is lost"
    # the counter, the samples and GPM of the same device still stand
    assert r["gpu1_energy_j"].value == pytest.approx(200, abs=1) and r["gpu1_energy_j"].method == "measured"
    assert r["gpu1_power_mean_w"].value == pytest.approx(200)
    assert r["gpu1_util_pct"].value == pytest.approx(100)
    assert r["gpu1_sm_active_pct"].value == pytest.approx(100)
    assert r["gpu_energy_j"].value == pytest.approx(400, abs=2) and r["gpu_energy_j"].method == "measured"


def test_per_window_nvml_calls_stay_few(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1]))
    meter = nvml_on(clock)
    window(meter, lambda: fake.run(1.0, 200))  # the first window allocates the GPM sample buffers
    fake.calls.clear()
    meter.begin("c")
    assert sum(fake.calls.values()) == 2 * 2, fake.calls  # per device: the energy counter, a GPM sample
    fake.run(1.0, 200)
    meter.end("c")
    # per device: energy, power samples, utilisation samples, memory, a GPM sample and its metrics;
    # no process list (it is re-read off the cells' path)
    assert sum(fake.calls.values()) == 2 * 2 + 2 * 6, fake.calls
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 0


# -- NVML: shared GPUs -----------------------------------------------------------

def test_shared_gpu_note(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], processes=[os.getpid(), 4242, 4343]))
    r = window(nvml_on(clock), lambda: fake.run(1.0, 300))
    note = "shared GPU: 2 other processes; energy is the whole GPU's"
    assert r["gpu0_energy_j"].note == note and r["gpu0_power_mean_w"].note == note
    assert r["gpu_energy_j"].note == note


def test_only_this_process_is_not_shared(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], processes=[os.getpid()]))
    r = window(nvml_on(clock), lambda: fake.run(1.0, 300))
    assert r["gpu0_energy_j"].note is None


def test_foreign_pids_outside_a_container_are_others(install_nvml: Callable[..., FakeNvml], clock: FakeClock,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sharing, "pid_namespace_isolated", lambda: False)  # the host's PID namespace
    fake = install_nvml(FakeGpu(UUIDS[0], processes=[987654]))
    r = window(nvml_on(clock), lambda: fake.run(1.0, 300))
    assert r["gpu0_energy_j"].note == "shared GPU: 1 other process; energy is the whole GPU's"


def test_process_list_is_checked_at_most_every_few_seconds(install_nvml: Callable[..., FakeNvml],
                                                           clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], processes=[os.getpid()]))
    meter = nvml_on(clock, process_check_interval_s=5.0)
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 1  # at probe
    for _ in range(3):
        window(meter, lambda: fake.run(0.5, 200))
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 1
    fake.gpus[0].processes.append(5555)
    fake.idle(5.0)
    r = window(meter, lambda: fake.run(0.5, 200))
    assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 2
    assert "shared GPU: 1 other process;" in r["gpu0_energy_j"].note


# -- NVML: polling --------------------------------------------------------------

def test_polling_fallback_without_a_sample_buffer(install_nvml: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], samples=False))
    meter = nvml_on(clock)
    assert "power polled" in meter.probe().detail
    meter.begin("c")
    for watts in (100, 300):
        fake.run(0.5, watts, util=watts / 10)
        meter.poll_once()
    fake.gpus[0].mem_used = 3 * GiB
    meter.poll_once()
    fake.gpus[0].mem_used = 2 * GiB
    r = meter.end("c")
    assert r["gpu0_power_mean_w"].value == pytest.approx((100 + 300 + 300) / 3)
    assert r["gpu0_power_peak_w"].value == pytest.approx(300)
    assert r["gpu0_power_mean_w"].source.startswith("polled")
    assert r["gpu0_util_pct"].value == pytest.approx((10 + 30 + 30) / 3)
    assert r["gpu0_mem_used_bytes"].value == 2 * GiB
    assert r["gpu0_mem_used_peak_bytes"].value == 3 * GiB and r["gpu0_mem_used_peak_bytes"].method == "sampled"
    assert r["gpu0_energy_j"].method == "measured"  # the counter does not need the samples


def test_polling_thread_catches_a_memory_peak_and_stops(install_nvml: Callable[..., FakeNvml],
                                                        clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = NvmlMeter(poll_interval_s=0.005, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    assert meter.probe().available
    meter.begin("c")
    fake.gpus[0].mem_used = 9 * GiB
    deadline = time.monotonic() + 5
    while meter._accs["c"][0].mem_max < 9 * GiB and time.monotonic() < deadline:
        time.sleep(0.005)
    fake.gpus[0].mem_used = 1 * GiB
    r = meter.end("c")
    assert r["gpu0_mem_used_peak_bytes"].value == 9 * GiB
    assert r["gpu0_mem_used_bytes"].value == 1 * GiB
    poller = meter._poller
    meter.close()
    assert poller is not None and poller._thread is not None
    poller._thread.join(timeout=2)
    assert not poller._thread.is_alive()


def test_memory_peak_without_sampling_is_unavailable(install_nvml: Callable[..., FakeNvml],
                                                     clock: FakeClock) -> None:
    install_nvml(FakeGpu(UUIDS[0]))
    r = window(nvml_on(clock, sample_memory=False), lambda: None)
    assert r["gpu0_mem_used_peak_bytes"].value is None and "sample_memory=False" in r[
        "gpu0_mem_used_peak_bytes"].note


def test_a_polling_failure_is_the_reason_not_a_silence(install_nvml: Callable[..., FakeNvml],
                                                       clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], samples=False))
    meter = nvml_on(clock)
    meter.begin("c")
    fake.gpus[0].fail["nvmlDeviceGetUtilizationRates"] = NVML_ERROR_GPU_IS_LOST
    meter.poll_once()  # what the thread does: it cannot raise to anyone
    fake.run(0.5, 200)
    r = meter.end("c")
    assert r["gpu0_util_pct"].value is None and "polling failed: GPU is lost" in r["gpu0_util_pct"].note


def test_probe_twice_keeps_one_nvml_session_and_discard_parks_the_thread(install_nvml: Callable[..., FakeNvml],
                                                                         clock: FakeClock) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0]))
    meter = NvmlMeter(poll_interval_s=0.01, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    first, second = meter.probe(), meter.probe()
    assert first == second and fake.calls["nvmlInit"] == 1
    meter.begin("c")
    assert meter._poller is not None and meter._poller._active.is_set()
    meter.discard("c")
    assert not meter._poller._active.is_set() and not meter._accs
    meter.close()
    assert window(meter, lambda: None)["gpu_energy_j"].note == "the NVML meter was closed"


# -- NVML: CUDA order ----------------------------------------------------------

def test_fastest_first_order_is_confirmed_from_torch(install_nvml: Callable[..., FakeNvml], clock: FakeClock,
                                                     install_torch: Callable[..., FakeTorch]) -> None:
    fake = install_nvml(FakeGpu(UUIDS[0], name="NVIDIA A10"), FakeGpu(UUIDS[1], name="NVIDIA H100"))
    meter = nvml_on(clock)
    assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in meter.probe().fix
    torch = install_torch(2, uuids=[UUIDS[1][4:], UUIDS[0][4:]])  # CUDA put the faster H100 first
    torch.init(0)
    window(meter, lambda: fake.run(1.0, [100, 300]))
    assert [(g.index, g.nvml_index) for g in meter.gpus] == [(0, 1), (1, 0)]
    r = window(meter, lambda: fake.run(1.0, [100, 300]))
    assert r["gpu0_energy_j"].value == pytest.approx(300, abs=1)


def test_pci_bus_id_order_needs_no_confirmation(install_nvml: Callable[..., FakeNvml], clock: FakeClock,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    install_nvml(FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1]))
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    assert nvml_on(clock).probe().fix is None


# -- torch -----------------------------------------------------------------------

def test_torch_not_imported_is_unavailable_and_cheap() -> None:
    meter = TorchCudaMeter()
    meter.begin("c")
    readings = meter.end("c")
    assert readings == {"gpu_time_s": Reading.unavailable("s", TORCH_NOT_IMPORTED, "cuda.synchronize+perf_counter")}
    assert meter.keys == ("gpu_time_s",)


def test_cuda_not_initialised_is_unavailable(install_torch: Callable[..., FakeTorch]) -> None:
    torch = install_torch()
    meter = TorchCudaMeter()
    r = window(meter, lambda: None)
    assert r["gpu_time_s"].value is None and r["gpu_time_s"].note == CUDA_NOT_INITIALISED
    assert torch.log == [] and torch.contexts_created == []  # nothing touched


def test_sync_at_both_edges_charges_queued_kernels_to_the_right_cell(install_torch: Callable[..., FakeTorch],
                                                                     clock: FakeClock, log: list[str]) -> None:
    torch = install_torch()
    torch.init(0)
    meter = TorchCudaMeter(clock_ns=clock.now_ns)
    torch.launch(0, 2.0)  # the previous cell's kernels, still queued
    meter.begin("c")
    assert log == ["torch.sync(0)", "torch.reset(0)"]
    clock.advance(0.25)  # the cell's Python code
    torch.launch(0, 0.5)  # ... which leaves kernels queued when it returns
    r = meter.end("c")
    assert log[2:] == ["torch.sync(0)", "torch.stats(0)"]
    assert r["gpu_time_s"].value == pytest.approx(0.75) and r["gpu_time_s"].method == "measured"
    assert torch.contexts_created == []


def test_peaks_are_reset_at_begin_and_read_per_device(install_torch: Callable[..., FakeTorch]) -> None:
    torch = install_torch(2)
    torch.init(0, 1)
    torch.alloc(0, 900 * MiB)
    torch.free(0, 900 * MiB)  # an earlier cell's peak must not show
    meter = TorchCudaMeter()

    def cell() -> None:
        torch.alloc(0, 300 * MiB)
        torch.free(0, 300 * MiB)
        torch.alloc(1, 100 * MiB)

    r = window(meter, cell)
    assert r["gpu0_vram_peak_bytes"].value == 300 * MiB  # this cell's allocations, not the earlier 900 MiB
    assert r["gpu1_vram_peak_bytes"].value == 100 * MiB
    assert r["gpu0_vram_reserved_peak_bytes"].value == 900 * MiB  # the allocator kept it reserved
    assert r["gpu0_vram_peak_bytes"].method == "measured" and r["gpu0_vram_peak_bytes"].note is None
    assert set(meter.keys) == {"gpu_time_s", "gpu0_vram_peak_bytes", "gpu0_vram_reserved_peak_bytes",
                               "gpu1_vram_peak_bytes", "gpu1_vram_reserved_peak_bytes"}


def test_devices_without_a_context_are_never_touched(install_torch: Callable[..., FakeTorch],
                                                     log: list[str]) -> None:
    torch = install_torch(4)
    torch.init(1)
    r = window(TorchCudaMeter(), lambda: None)
    assert torch.contexts_created == []
    assert {e for e in log if "sync" in e} == {"torch.sync(1)"}
    assert "gpu1_vram_peak_bytes" in r and "gpu0_vram_peak_bytes" not in r


def test_without_the_context_api_only_the_current_device(install_torch: Callable[..., FakeTorch],
                                                         log: list[str]) -> None:
    torch = install_torch(2, has_context_api=False)
    torch.init(0)
    window(TorchCudaMeter(), lambda: None)
    assert torch.contexts_created == [] and {e for e in log if "sync" in e} == {"torch.sync(0)"}


def test_cuda_initialised_during_the_cell(install_torch: Callable[..., FakeTorch], clock: FakeClock,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    meter = TorchCudaMeter(clock_ns=clock.now_ns)
    meter.begin("c")  # torch not even imported yet

    clock.advance(1.0)  # `import torch; x = torch.ones(10).cuda()` ...
    torch = install_torch()
    torch.init(0)
    torch.alloc(0, 40 * MiB)
    torch.launch(0, 0.5)
    r = meter.end("c")
    assert r["gpu_time_s"].value == pytest.approx(1.5)
    assert "initialised during this cell" in r["gpu_time_s"].note
    assert r["gpu0_vram_peak_bytes"].value == 40 * MiB and r["gpu0_vram_peak_bytes"].method == "measured"
    assert "initialised during this cell" in r["gpu0_vram_peak_bytes"].note
    # the next cell starts with CUDA up: synchronised and reset as usual
    r = window(meter, lambda: torch.alloc(0, 10 * MiB))
    assert r["gpu0_vram_peak_bytes"].value == 50 * MiB and r["gpu0_vram_peak_bytes"].note is None


def test_nested_window_reset_keeps_the_outer_peak(install_torch: Callable[..., FakeTorch]) -> None:
    torch = install_torch()
    torch.init(0)
    meter = TorchCudaMeter()
    meter.begin("outer")
    torch.alloc(0, 500 * MiB)
    torch.free(0, 500 * MiB)
    meter.begin("inner")  # resets torch's peak: the outer window must keep its 500 MiB
    torch.alloc(0, 100 * MiB)
    torch.free(0, 100 * MiB)
    inner = meter.end("inner")
    outer = meter.end("outer")
    assert inner["gpu0_vram_peak_bytes"].value == 100 * MiB
    assert outer["gpu0_vram_peak_bytes"].value == 500 * MiB


def test_reset_peaks_off(install_torch: Callable[..., FakeTorch], log: list[str]) -> None:
    torch = install_torch()
    torch.init(0)
    torch.alloc(0, 800 * MiB)
    torch.free(0, 800 * MiB)
    meter = TorchCudaMeter(reset_peaks=False)
    r = window(meter, lambda: torch.alloc(0, 100 * MiB))
    assert not any("reset" in e for e in log)
    peak = r["gpu0_vram_peak_bytes"]
    assert peak.value == 800 * MiB and peak.method == "estimated" and "upper bound" in peak.note
    r = window(meter, lambda: torch.alloc(0, 900 * MiB))  # a new lifetime peak: this window's, exactly
    assert r["gpu0_vram_peak_bytes"].value == 1000 * MiB and r["gpu0_vram_peak_bytes"].method == "measured"


def test_cuda_error_while_synchronising_is_a_reason_not_a_crash(install_torch: Callable[..., FakeTorch]) -> None:
    torch = install_torch()
    torch.init(0)
    meter = TorchCudaMeter()
    meter.begin("c")
    torch.sync_error = "CUDA error: device-side assert triggered"
    r = meter.end("c")
    assert r["gpu_time_s"].value is None and "device-side assert" in r["gpu_time_s"].note


def test_end_of_a_torch_window_never_opened() -> None:
    assert TorchCudaMeter().end("x")["gpu_time_s"].note == "the window was never opened"


def fake_torch_package(tmp_path: Path, cuda: str) -> ModuleSpec:
    package = tmp_path / "torch"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "version.py").write_text(f"from typing import Optional\n__version__ = '2.13.0'\n"
                                        f"cuda: Optional[str] = {cuda}\n")
    return ModuleSpec("torch", None, origin=str(package / "__init__.py"))


@pytest.mark.parametrize("cuda, available, words", [
    ("'12.4'", True, "built for CUDA 12.4"), ("None", False, "CPU-only build")])
def test_torch_probe_reads_the_build_without_importing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                       cuda: str, available: bool, words: str) -> None:
    spec = fake_torch_package(tmp_path, cuda)
    monkeypatch.setattr("importlib.util.find_spec", lambda name: spec if name == "torch" else None)
    availability = TorchCudaMeter().probe()
    assert availability.available is available and words in availability.detail
    assert "torch" not in sys.modules


def test_torch_probe_not_installed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("importlib.util.find_spec", lambda name: None)
    availability = TorchCudaMeter().probe()
    assert not availability.available and availability.detail == "torch is not installed" and availability.fix


def test_torch_probe_when_imported(install_torch: Callable[..., FakeTorch]) -> None:
    torch = install_torch(2)
    assert "never initialises it" in TorchCudaMeter().probe().detail
    torch.init(0, 1)
    assert "2 device(s)" in TorchCudaMeter().probe().detail


# -- vram_peak_bytes and the profiler ---------------------------------------------

def test_vram_peak_prefers_torch_then_nvml_then_says_why() -> None:
    torch_peak = {"gpu0_vram_peak_bytes": Reading(5, "B", "measured"), "gpu1_vram_peak_bytes": Reading(9, "B", "measured"),
                  "gpu0_vram_reserved_peak_bytes": Reading(99, "B", "measured"),
                  "gpu0_mem_used_peak_bytes": Reading(50, "B", "sampled")}
    assert derive_vram_peak(torch_peak)["vram_peak_bytes"].value == 9
    nvml_only = {"gpu0_mem_used_peak_bytes": Reading(50, "B", "sampled"),
                 "gpu_time_s": Reading.unavailable("s", TORCH_NOT_IMPORTED)}
    fallback = derive_vram_peak(nvml_only)["vram_peak_bytes"]
    assert fallback.value == 50 and fallback.method == "sampled" and "torch is not in use" in fallback.note
    nothing = {"gpu_time_s": Reading.unavailable("s", TORCH_NOT_IMPORTED),
               "gpu_energy_j": Reading.unavailable("J", NOT_INSTALLED)}
    missing = derive_vram_peak(nothing)["vram_peak_bytes"]
    assert missing.value is None and missing.note == f"{TORCH_NOT_IMPORTED}; {NOT_INSTALLED}"


def test_profiler_without_a_gpu_records_reasons_never_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)
    profiler = Profiler(meters=[NvmlMeter(), TorchCudaMeter(), WallClock()])
    profiler.windows.derivers.append(derive_vram_peak)
    assert profiler.windows.availability["nvml"].detail == NOT_INSTALLED
    readings = profiler.close_window(profiler.open_window("cell"))
    for key in ("gpu_energy_j", "gpu_time_s", "vram_peak_bytes"):
        assert readings[key].value is None and readings[key].method == "unavailable" and readings[key].note
    assert readings["wall_s"].value is not None
    assert not profiler.windows.disabled


def test_profiler_order_gpu_meters_enclose_the_clock(install_nvml: Callable[..., FakeNvml],
                                                     install_torch: Callable[..., FakeTorch],
                                                     clock: FakeClock, log: list[str]) -> None:
    """NVML outermost, torch inside it, the wall clock innermost: the final synchronise comes before
    the final energy read, so kernels still queued at the cell's end are in its energy."""
    fake = install_nvml(FakeGpu(UUIDS[0]))
    torch = install_torch(uuids=[UUIDS[0].removeprefix("GPU-")])  # the same device, as torch prints it
    torch.init(0)
    nvml = NvmlMeter(poll_interval_s=None, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    profiler = Profiler(meters=[nvml, TorchCudaMeter(clock_ns=clock.now_ns), WallClock()])
    profiler.windows.derivers.append(derive_vram_peak)
    log.clear()  # the probe read the counter once
    window_ = profiler.open_window("cell")
    assert log == [f"nvml.energy({UUIDS[0]})", "torch.sync(0)", "torch.reset(0)"]
    fake.run(0.5, 300)
    torch.alloc(0, 64 * MiB)
    torch.launch(0, 1.0)  # queued when the cell's code returns
    fake.gpus[0].power_w = 300
    log.clear()
    # while torch.synchronize waits, the GPU keeps drawing 300 W
    real_sync = torch.module.cuda.synchronize

    def sync(device: int | None = None) -> None:
        queued = torch.devices[0].queued_s
        torch.devices[0].queued_s = 0.0
        real_sync(device)
        fake.run(queued, 300)

    torch.module.cuda.synchronize = sync
    readings = profiler.close_window(window_)
    assert log == ["torch.sync(0)", "torch.stats(0)", f"nvml.energy({UUIDS[0]})"]
    assert readings["gpu_time_s"].value == pytest.approx(1.5)
    assert readings["gpu_energy_j"].value == pytest.approx(450, abs=31)  # 1.5 s at 300 W, ±1 counter update
    assert readings["vram_peak_bytes"].value == 64 * MiB
    assert not profiler.windows.disabled


def test_meter_modules_import_neither_torch_nor_pynvml() -> None:
    code = ("import sys, nbprofile.meters.nvml, nbprofile.meters.torch_cuda; "
            "print(sorted(m for m in ('torch', 'pynvml') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr

