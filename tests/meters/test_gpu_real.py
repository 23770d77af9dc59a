"""The GPU meters on a real NVIDIA GPU with real torch and NVML (``-m gpu``).

Every test here needs torch with a working CUDA device and skips cleanly
without one: torch missing, a CPU-only build, or no device. torch is imported
inside a fixture, never at collection, so the rest of the suite does not pay
for it.

Acceptance (issue 4): a matmul loop cell records GPU energy > 0 consistent with
mean power x time within 10 %, a VRAM peak equal to
``torch.cuda.max_memory_allocated``, and a GPU time at least the kernels' CUDA
event time. The tests print the figures (``pytest -s``) for the notes.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from typing import Any

import pytest
from nbprofile.engine.profiler import Profiler

from nbprofile.derive.vram import derive_vram_peak
from nbprofile.meters.clock import CpuClock, WallClock
from nbprofile.meters.memory import PeakRss
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.meters.torch_cuda import TorchCudaMeter
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
def profiler(torch: Any) -> Iterator[Profiler]:
    """The meters in the order the profiler should run them: NVML, torch, the CPU meters, the clock."""
    profiler = Profiler(meters=[NvmlMeter(), TorchCudaMeter(), PeakRss(), CpuClock(), WallClock()])
    profiler.windows.derivers.append(derive_vram_peak)
    if not profiler.windows.availability["nvml"].available:
        pytest.skip(f"NVML: {profiler.windows.availability['nvml'].detail}")
    yield profiler
    profiler.close()


def matmul_iterations(torch: Any, a: Any, b: Any, seconds: float) -> int:
    """How many ``a @ b`` keep the GPU busy for about ``seconds``."""
    for _ in range(3):
        a @ b
    torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(20):
        a @ b
    torch.cuda.synchronize()
    return max(1, int(seconds / ((time.perf_counter() - t0) / 20)))


def matmul_cell(torch: Any, profiler: Profiler, seconds: float) -> tuple[Readings, float]:
    """A cell that queues ``seconds`` of matmuls and returns without waiting for them.

    Returns its readings and the kernels' time from CUDA events around them.
    """
    n = 8192
    a = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    b = torch.randn(n, n, device="cuda", dtype=torch.bfloat16)
    iterations = matmul_iterations(torch, a, b, seconds)
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    window = profiler.open_window("cell")
    c = torch.empty(n, n, device="cuda", dtype=torch.bfloat16)  # a peak the cell owns
    start.record()
    for _ in range(iterations):
        torch.matmul(a, b, out=c)
    end.record()  # no synchronise: the meters' end edge must wait for the queue
    readings = profiler.close_window(window)
    end.synchronize()
    return readings, start.elapsed_time(end) / 1000


def test_matmul_cell_energy_vram_and_gpu_time(torch: Any, profiler: Profiler) -> None:
    readings, event_s = matmul_cell(torch, profiler, seconds=3.0)
    d = torch.cuda.current_device()
    energy, power = readings[f"gpu{d}_energy_j"], readings[f"gpu{d}_power_mean_w"]
    gpu_time, vram = readings["gpu_time_s"], readings["vram_peak_bytes"]
    print(f"\nwall {readings['wall_s'].value:.3f} s, gpu_time {gpu_time.value:.3f} s, events {event_s:.3f} s, "
          f"energy {energy.value} J ({energy.method}; {energy.note}), mean power {power.value} W "
          f"(peak {readings[f'gpu{d}_power_peak_w'].value} W), util {readings[f'gpu{d}_util_pct'].value} %, "
          f"vram peak {vram.value} B, NVML used {readings[f'gpu{d}_mem_used_bytes'].value} B")
    if readings[f"gpu{d}_energy_j"].note and "MIG" in readings[f"gpu{d}_energy_j"].note:
        pytest.skip("MIG instance: no per-cell energy by design")
    assert gpu_time.method == "measured" and gpu_time.value >= event_s
    assert profiler.windows.disabled == {}  # 3 s of queued kernels is work to wait for, not a hung meter
    device_peak = readings[f"gpu{d}_vram_peak_bytes"]
    assert device_peak.value == torch.cuda.max_memory_allocated(d) and device_peak.method == "measured"
    assert vram.value is not None and vram.value >= device_peak.value
    assert energy.method == "measured" and energy.value > 0
    assert readings["gpu_energy_j"].value >= energy.value
    assert power.value is not None, power.note
    implied = power.value * gpu_time.value
    assert abs(energy.value - implied) <= 0.10 * implied, (energy.value, implied)


def test_short_cell_energy_is_an_estimate(torch: Any, profiler: Profiler) -> None:
    torch.ones(1, device="cuda")
    torch.cuda.synchronize()
    window = profiler.open_window("short")
    torch.ones(1024, device="cuda").sum()
    readings = profiler.close_window(window)
    d = torch.cuda.current_device()
    energy = readings[f"gpu{d}_energy_j"]
    print(f"\nshort cell: gpu_time {readings['gpu_time_s'].value:.6f} s, energy {energy}")
    assert readings["gpu_time_s"].value < 0.1
    if energy.value is not None:
        assert energy.method == "estimated" and "update period" in energy.note
    else:
        assert energy.note


def test_nvml_devices_match_torch_by_uuid(torch: Any, profiler: Profiler) -> None:
    torch.ones(1, device="cuda")
    nvml = next(m for m in profiler.windows.meters if isinstance(m, NvmlMeter))
    profiler.close_window(profiler.open_window("confirm"))  # lets the meter check the order against torch
    for gpu in nvml.gpus:
        torch_uuid = str(torch.cuda.get_device_properties(gpu.index).uuid).lower()
        assert gpu.uuid.lower().removeprefix("gpu-").removeprefix("mig-") == torch_uuid.removeprefix(
            "gpu-").removeprefix("mig-")


def run_fresh(code: str) -> str:
    """Run ``code`` in a new Python process (CUDA state cannot be undone in this one)."""
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], check=False, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    return out.stdout


def test_meters_never_initialise_cuda(torch: Any) -> None:
    out = run_fresh("""
        import torch
        from nbprofile.meters.nvml import NvmlMeter
        from nbprofile.meters.torch_cuda import TorchCudaMeter
        meters = [NvmlMeter(), TorchCudaMeter()]
        for m in meters:
            m.probe()
        for m in meters:
            m.begin("c")
        x = [i * i for i in range(10000)]
        for m in reversed(meters):
            r = m.end("c")
        print(torch.cuda.is_initialized(), torch._C._cuda_hasPrimaryContext(0), r["gpu_time_s"].note)
    """)
    assert out.split()[:2] == ["False", "False"], out
    assert "CUDA is not initialised" in out


def test_cuda_initialised_during_the_cell(torch: Any) -> None:
    out = run_fresh("""
        from nbprofile.meters.torch_cuda import TorchCudaMeter
        m = TorchCudaMeter()
        m.begin("c")
        import torch
        x = torch.empty(256 * 1024**2, dtype=torch.uint8, device="cuda")
        r = m.end("c")
        print(r["gpu_time_s"].value, r["gpu0_vram_peak_bytes"].value, torch.cuda.max_memory_allocated(0))
        print(r["gpu_time_s"].note)
    """)
    first, note = out.splitlines()[:2]
    span, peak, torch_peak = first.split()
    assert float(span) > 0 and int(peak) == int(torch_peak) >= 256 * 1024**2
    assert "initialised during this cell" in note
