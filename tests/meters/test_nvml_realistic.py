"""The NVML meter against a fake NVML that behaves like a real driver where the product could go wrong.

The fake (``tests/fakes/fake_nvml.py``) keeps only the last ~120 samples of each
sample buffer, reserves driver memory that v1's ``used`` counts and v2's does not,
lists host PIDs, and raises ``NoPermission``, ``InsufficientSize``, ``GpuIsLost``,
``ArgumentVersionMismatch`` where a test scripts them. Each test asserts the readings
a user sees: values, methods and notes.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from typing import Any

import pytest

from nbprofile.meters.nvml import NvmlMeter, sharing
from nbprofile.meters.nvml.buffers import DRAIN_INTERVAL_S
from nbprofile.readings import Reading
from tests.fakes.fake_nvml import (
    NVML_ERROR_ARGUMENT_VERSION_MISMATCH,
    NVML_ERROR_GPU_IS_LOST,
    NVML_ERROR_INSUFFICIENT_SIZE,
    NVML_ERROR_NO_PERMISSION,
    FakeClock,
    FakeGpu,
    FakeNvml,
    GiB,
    MiB,
)
from tests.fakes.fake_torch import FakeTorch

UUIDS = [f"GPU-{i:04x}aaaa-0000-4000-8000-00000000000{i}" for i in range(4)]
PID_IN_HOST = 2_345_678  # a host PID a container cannot match to its own


pytestmark = pytest.mark.usefixtures("no_gpu_environment")


def meter_on(clock: FakeClock, **kwargs: Any) -> NvmlMeter:
    meter = NvmlMeter(clock_ns=clock.now_ns, epoch_us=clock.epoch_us, **{"poll_interval_s": None, **kwargs})
    assert meter.probe().available
    return meter


def long_cell(fake: FakeNvml, meter: NvmlMeter, every_s: float | None,
              look: Callable[[], object]) -> dict[str, Reading]:
    """30 s at 400 W and 100 % busy, then 30 s at 100 W and 20 %: mean 250 W, peak 400 W, 60 %.
    ``look`` is called every ``every_s`` seconds of the cell (None: never)."""
    meter.begin("cell")
    for watts, util in ((400.0, 100.0), (100.0, 20.0)):
        step = every_s or 30.0
        for _ in range(round(30.0 / step)):
            fake.run(step, watts, util, step_s=0.01)
            if every_s is not None:
                look()
    return meter.end("cell")


# -- long cells: the driver keeps only the last ~20 s of samples ------------------------------------

def test_the_fake_buffer_keeps_only_its_last_samples(install: Callable[..., FakeNvml]) -> None:
    fake = install(FakeGpu(UUIDS[0]))
    fake.run(60.0, 300, step_s=0.01)
    stamps = [t for t, _ in fake.gpus[0].power_buffer]
    assert len(stamps) == 120 and (stamps[-1] - stamps[0]) / 1e6 == pytest.approx(119 / 6, abs=0.02)


#: the driver's buffers as seen: an H100's ~120 samples 1/6 s apart of each kind (20 s); an H200's (driver
#: 580) 119 power samples 20 ms apart (2.4 s) and 71 utilisation samples ~0.2 s apart (14 s)
BOARDS = {"H100": {}, "H200": {"name": "NVIDIA H200", "sample_period_s": 0.02, "buffer_len": 119,
                              "util_period_s": 0.197, "util_buffer_len": 71}}


@pytest.mark.parametrize("board", sorted(BOARDS))
@pytest.mark.parametrize("how", ["polling thread's tick", "live view's look"])
def test_a_60s_cell_drained_during_the_cell_gets_the_whole_cells_power(install: Callable[..., FakeNvml],
                                                                       clock: FakeClock, how: str,
                                                                       board: str) -> None:
    fake = install(FakeGpu(UUIDS[0], **BOARDS[board]))  # type: ignore[arg-type]
    meter = meter_on(clock)
    # the polling thread ticks every 0.1 s and drains what DRAIN_INTERVAL_S says is due; the live view
    # looks once a second
    def look() -> object:
        return meter.poll_once() if how == "polling thread's tick" else meter.live_energy_j("cell")

    r = long_cell(fake, meter, 1.0, look)
    assert max(DRAIN_INTERVAL_S.values()) < 14  # drains come inside the span each buffer keeps
    assert r["gpu0_power_mean_w"].value == pytest.approx(250, abs=3)
    assert r["gpu0_power_peak_w"].value == pytest.approx(400)
    assert r["gpu0_util_pct"].value == pytest.approx(60, abs=1)
    assert r["gpu0_power_mean_w"].note is None and r["gpu0_util_pct"].note is None
    energy = r["gpu0_energy_j"]
    assert energy.value == pytest.approx(15_000, abs=40) and energy.note is None  # no false disagreement


def test_a_60s_cell_never_drained_says_its_samples_cover_only_the_tail(install: Callable[..., FakeNvml],
                                                                       clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0]))
    meter = meter_on(clock)
    r = long_cell(fake, meter, None, lambda: None)  # no thread, no live view: one read at the end
    mean = r["gpu0_power_mean_w"]
    assert mean.value == pytest.approx(100)  # the last 20 s only: what the driver still had
    assert mean.note is not None and "covers only 20 s of this 60 s window" in mean.note
    assert "covers only 20 s" in (r["gpu0_util_pct"].note or "")
    # the counter is the whole cell's, and the tail's power x 60 s is not offered as a disagreement
    energy = r["gpu0_energy_j"]
    assert energy.value == pytest.approx(15_000, abs=40)
    assert energy.method == "measured" and energy.note is None


def test_a_short_cell_is_not_labelled_partial(install: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0]))
    meter = meter_on(clock)
    fake.idle(30.0)  # a full buffer of older samples before the cell
    meter.begin("cell")
    fake.run(3.0, 300)
    r = meter.end("cell")
    assert r["gpu0_power_mean_w"].value == pytest.approx(300) and r["gpu0_power_mean_w"].note is None


# -- short windows carry up to one counter update of error --------------------------------------------

def test_a_200ms_window_states_the_counters_error(install: Callable[..., FakeNvml], clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0]))
    meter = meter_on(clock)
    fake.idle(1.0)
    meter.begin("cell")
    fake.run(0.2, 300)
    energy = meter.end("cell")["gpu0_energy_j"]
    assert energy.method == "measured" and energy.value == pytest.approx(60, abs=31)
    assert energy.note is not None
    assert energy.note.startswith(
        "±30.0 J (50 % of this 200 ms window): the energy counter updates every ~100 ms")
    meter.begin("long")
    fake.run(2.0, 300)
    assert meter.end("long")["gpu0_energy_j"].note is None  # from a second on, no such note


# -- device memory: v2's used leaves out the driver's reservation ------------------------------------

def test_memory_used_excludes_the_reserved_and_reports_it_apart(install: Callable[..., FakeNvml],
                                                                clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0], mem_used=0, mem_reserved=700 * MiB))  # an idle H100
    meter = meter_on(clock)
    r = _window(meter, lambda: fake.run(0.5, 70))
    assert r["gpu0_mem_used_bytes"].value == 0  # not the ~0.7 GB v1 would call used
    assert r["gpu0_mem_reserved_bytes"].value == 700 * MiB
    fake.gpus[0].mem_used = 4 * GiB
    assert _window(meter, lambda: None)["gpu0_mem_used_bytes"].value == 4 * GiB


def test_memory_v2_refused_at_probe_falls_back_to_v1_not_off(install: Callable[..., FakeNvml],
                                                             clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0], mem_used=GiB, mem_reserved=500 * MiB,
                           fail={"nvmlDeviceGetMemoryInfo_v2": NVML_ERROR_ARGUMENT_VERSION_MISMATCH}))
    meter = meter_on(clock)  # an old driver: the optional v2 query is off, the meter is on
    r = _window(meter, lambda: fake.run(1.0, 200))
    assert r["gpu0_mem_used_bytes"].value == GiB + 500 * MiB
    assert "includes" in (r["gpu0_mem_used_bytes"].note or "")
    assert r["gpu0_energy_j"].value == pytest.approx(200, abs=1)


# -- one failing call never takes the other readings with it -----------------------------------------

@pytest.mark.parametrize("code, text", [(NVML_ERROR_NO_PERMISSION, "Insufficient Permissions"),
                                        (NVML_ERROR_GPU_IS_LOST, "GPU is lost")])
def test_a_failing_sample_buffer_takes_only_power_and_utilisation(
        install: Callable[..., FakeNvml], clock: FakeClock, code: int, text: str) -> None:
    fake = install(FakeGpu(UUIDS[0]))
    meter = meter_on(clock)
    meter.begin("cell")
    fake.run(2.0, 250)
    fake.gpus[0].fail["nvmlDeviceGetSamples"] = code
    r = meter.end("cell")
    assert r["gpu0_power_mean_w"].value is None
    assert r["gpu0_power_mean_w"].note == f"nvmlDeviceGetSamples failed: {text}"
    assert r["gpu0_util_pct"].value is None
    assert r["gpu0_energy_j"].value == pytest.approx(500, abs=1) and r["gpu0_energy_j"].method == "measured"
    assert r["gpu0_mem_used_bytes"].value == GiB and r["gpu0_sm_active_pct"].value == pytest.approx(100)


def test_a_sample_landing_between_pynvmls_two_calls_is_asked_again(install: Callable[..., FakeNvml],
                                                                   clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0]))
    meter = meter_on(clock)
    meter.begin("cell")
    fake.run(2.0, 250)
    fake.gpus[0].fail["nvmlDeviceGetSamples"] = [NVML_ERROR_INSUFFICIENT_SIZE]  # once
    assert meter.end("cell")["gpu0_power_mean_w"].value == pytest.approx(250)


def test_a_refused_optional_query_at_probe_leaves_the_meter_on(install: Callable[..., FakeNvml],
                                                               clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0], fail={"nvmlGpmQueryDeviceSupport": NVML_ERROR_NO_PERMISSION,
                                           "nvmlDeviceGetComputeRunningProcesses": NVML_ERROR_NO_PERMISSION}))
    meter = meter_on(clock)
    r = _window(meter, lambda: fake.run(1.0, 200))
    assert r["gpu0_energy_j"].value == pytest.approx(200, abs=1)
    assert r["gpu0_sm_active_pct"].note == "GPM could not be queried: Insufficient Permissions"
    assert r["gpu0_energy_j"].note is None  # an unreadable process list is no sharing note


# -- which GPUs the cell is charged for -----------------------------------------------------------

def test_energy_is_charged_for_the_gpu_torch_uses_and_the_idle_ones_reported_apart(
        install: Callable[..., FakeNvml], clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = install(*(FakeGpu(u) for u in UUIDS))
    torch = FakeTorch(4, clock, uuids=[u[4:] for u in UUIDS])  # torch prints UUIDs bare
    monkeypatch.setitem(sys.modules, "torch", torch.module)
    meter = meter_on(clock)
    torch.init(0)  # the cell's first CUDA call: a context on device 0 only
    r = _window(meter, lambda: fake.run(2.0, [300.0, 70.0, 70.0, 70.0]))
    assert r["gpu_energy_j"].value == pytest.approx(600, abs=1)  # gpu0 alone, not 600 + 3 x 140
    assert r["gpu_energy_j"].source == (
        "the GPUs this process uses (gpu0); the others are in gpu_energy_other_j")
    other = r["gpu_energy_other_j"]
    assert other.value == pytest.approx(420, abs=3)
    assert other.source == "GPUs this process does not use (gpu1, gpu2, gpu3): idle, or others' work"


def test_a_gpu_used_without_torch_is_found_by_our_pid(install: Callable[..., FakeNvml], clock: FakeClock,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sharing, "pid_namespace_isolated", lambda: False)
    fake = install(FakeGpu(UUIDS[0]), FakeGpu(UUIDS[1], processes=[os.getpid()]))  # e.g. CuPy or JAX
    r = _window(meter_on(clock), lambda: fake.run(1.0, [70.0, 250.0]))
    assert r["gpu_energy_j"].value == pytest.approx(250, abs=1)
    assert r["gpu_energy_other_j"].value == pytest.approx(70, abs=1)


# -- sharing: host PIDs in a container -----------------------------------------------------------

@pytest.mark.parametrize("pids, torch_on, note", [
    ([PID_IN_HOST], True, None),  # the one process with a context is this kernel
    ([PID_IN_HOST, PID_IN_HOST + 1], True, "can't tell whether this GPU is shared: NVML lists 2 processes"),
    ([PID_IN_HOST], False, "can't tell whether this GPU is shared: NVML lists 1 process by host PID"),
    ([], False, None),
])
def test_in_a_container_host_pids_give_cant_tell_never_a_false_count(
        install: Callable[..., FakeNvml], clock: FakeClock, monkeypatch: pytest.MonkeyPatch,
        pids: list[int], torch_on: bool, note: str | None) -> None:
    monkeypatch.setattr(sharing, "pid_namespace_isolated", lambda: True)
    fake = install(FakeGpu(UUIDS[0], processes=pids))
    if torch_on:
        torch = FakeTorch(1, clock, uuids=[UUIDS[0][4:]])
        torch.init(0)
        monkeypatch.setitem(sys.modules, "torch", torch.module)
    got = _window(meter_on(clock), lambda: fake.run(1.0, 300))["gpu0_energy_j"].note
    assert (got is None) if note is None else (got is not None and got.startswith(note)), got


def test_the_process_list_stays_off_the_cells_path_with_a_polling_thread(install: Callable[..., FakeNvml],
                                                                        clock: FakeClock) -> None:
    fake = install(FakeGpu(UUIDS[0], processes=[os.getpid()]))
    meter = meter_on(clock, poll_interval_s=3600.0)  # a thread that never ticks on its own here
    try:
        assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 1  # at probe
        for _ in range(20):
            _window(meter, lambda: fake.run(1.0, 200))  # 20 s of cells
        assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 1
        fake.gpus[0].processes.append(5555)
        meter.begin("cell")
        meter.poll_once()  # the thread's tick re-reads it (due: 5 s passed)
        fake.run(1.0, 200)
        r = meter.end("cell")
        assert fake.calls["nvmlDeviceGetComputeRunningProcesses"] == 2
        assert r["gpu0_energy_j"].note == "shared GPU: 1 other process; energy is the whole GPU's"
    finally:
        meter.close()


def test_pid_namespace_is_read_from_proc() -> None:
    isolated = sharing.pid_namespace_isolated()
    if not os.path.exists("/proc/self/ns/pid"):
        assert isolated is None
    else:
        assert isolated == (os.readlink("/proc/self/ns/pid") != "pid:[4026531836]" or _nspid_depth() > 1)


def _nspid_depth() -> int:
    with open("/proc/self/status") as status:
        return next((len(line.split()) - 1 for line in status if line.startswith("NSpid:")), 1)


def _window(meter: NvmlMeter, run: Callable[[], None]) -> dict[str, Reading]:
    meter.begin("cell")
    run()
    return meter.end("cell")
