"""GPM activity, buffer drains and charged energy on a real NVIDIA GPU with real torch and NVML (``-m gpu``).

Skips cleanly without torch with CUDA, without NVML, and (for GPM) on GPUs older
than Hopper. The figures are printed (``pytest -s``) for the notes.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import pytest

from nbprofile.meters.nvml import NvmlMeter
from nbprofile.readings import Readings

pytestmark = pytest.mark.gpu


@pytest.fixture(scope="module")
def torch() -> Any:
    torch = pytest.importorskip("torch", reason="torch is not installed")
    if torch.version.cuda is None:
        pytest.skip(f"torch {torch.__version__} is a CPU-only build")
    if not torch.cuda.is_available():
        pytest.skip("no CUDA device (torch.cuda.is_available() is False)")
    return torch


@pytest.fixture
def meter(torch: Any) -> Iterator[NvmlMeter]:
    meter = NvmlMeter()
    availability = meter.probe()
    if not availability.available:
        pytest.skip(f"NVML: {availability.detail}")
    yield meter
    meter.close()


def busy(torch: Any, seconds: float) -> None:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(20):
            a @ a
        torch.cuda.synchronize()


def cell(meter: NvmlMeter, run: Any) -> Readings:
    meter.begin("cell")
    run()
    return meter.end("cell")


def test_gpm_matmul_is_busy_and_sleep_is_not(torch: Any, meter: NvmlMeter) -> None:
    busy(torch, 0.5)  # the context and the kernels' first launch outside the measured cells
    matmul = cell(meter, lambda: busy(torch, 3.0))
    if matmul["gpu0_sm_active_pct"].value is None:
        pytest.skip(f"GPM: {matmul['gpu0_sm_active_pct'].note}")
    sleep = cell(meter, lambda: time.sleep(3.0))
    print(f"\nGPM matmul: SM {matmul['gpu0_sm_active_pct'].value:.1f} %, tensor "
          f"{matmul['gpu0_tensor_active_pct'].value} %; sleep: SM {sleep['gpu0_sm_active_pct'].value:.1f} %")
    assert matmul["gpu0_sm_active_pct"].value > 50
    assert (matmul["gpu0_tensor_active_pct"].value or 0) > 10
    assert sleep["gpu0_sm_active_pct"].value < 5


def test_a_30s_cell_gets_the_whole_cells_power_from_drained_buffers(torch: Any, meter: NvmlMeter) -> None:
    r = cell(meter, lambda: (busy(torch, 15.0), time.sleep(15.0)))
    mean, energy = r["gpu0_power_mean_w"], r["gpu0_energy_j"]
    print(f"\n30 s cell: counter {energy.value} J, mean sampled power {mean.value} W x 30 s, notes "
          f"{mean.note!r} / {energy.note!r}")
    assert mean.note is None or "covers only" not in mean.note
    assert energy.value is not None and mean.value is not None
    assert abs(energy.value - mean.value * 30) < 0.15 * energy.value


def test_idle_memory_used_leaves_out_the_reserved(torch: Any, meter: NvmlMeter) -> None:
    r = cell(meter, lambda: None)
    print(f"\nmemory used {r['gpu0_mem_used_bytes']}, reserved {r['gpu0_mem_reserved_bytes']}")
    assert r["gpu0_mem_reserved_bytes"].value is None or r["gpu0_mem_reserved_bytes"].value > 0
