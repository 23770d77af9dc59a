"""Per-window cost of the GPU meters (``begin`` + ``end``), in µs.

Variants, each a block of windows, taking turns over the rounds:

- ``torch_cuda`` with torch not imported, and with torch imported but CUDA not
  initialised (when torch is installed): what every cell pays on a machine or
  in a kernel that uses no GPU;
- ``nvml`` where NVML cannot be used (this machine: not installed, or no
  driver): the prebuilt unavailable readings;
- ``nvml`` and ``torch_cuda`` against the test fakes (``tests/fake_nvml.py``,
  ``tests/fake_torch.py``) with 1 and 8 GPUs: the meters' own Python with the
  driver taken out (the fakes' Python is in it, so it is an upper bound of the
  meters' share);
- on a machine with a GPU, real NVML and, when torch has CUDA, the real torch
  meter with CUDA initialised and the GPU idle;
- the profiler's whole window (``open_window`` + ``close_window``): the
  foundation's CPU meters (RSS peak, CPU time, wall clock) alone, next to the
  same plus the GPU meters and the ``vram_peak_bytes`` deriver, as they are
  on this machine (torch not imported, NVML unusable).

    python bench/gpu_overhead.py [--rounds 20] [--windows 2000]

Writes ``bench/results/gpu_overhead.json``.
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path
from time import perf_counter_ns
from typing import Any

from _common import print_table, rotated, summary, write_result
from nbprofile.engine.profiler import Profiler

from nbprofile.derive.vram import derive_vram_peak
from nbprofile.meters.base import Meter
from nbprofile.meters.clock import CpuClock, WallClock
from nbprofile.meters.memory import PeakRss
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.meters.torch_cuda import TorchCudaMeter

TESTS = Path(__file__).resolve().parent.parent / "tests" / "fakes"  # fake_nvml.py, fake_torch.py

Setup = Callable[[], Callable[[int], None]]  # prepares a variant; returns "run n windows"


def meter_windows(make: Callable[[], Meter]) -> Setup:
    def setup() -> Callable[[int], None]:
        meter = make()
        meter.probe()

        def run(n: int) -> None:
            begin, end = meter.begin, meter.end
            for _ in range(n):
                begin("k")
                end("k")

        return run

    return setup


def profiler_windows(gpu: bool) -> Setup:
    def setup() -> Callable[[int], None]:
        meters: list[Meter] = [PeakRss(), CpuClock(), WallClock()]  # the foundation's CPU meters
        if gpu:
            meters = [NvmlMeter(), TorchCudaMeter(), *meters]  # the order the profiler should use
        profiler = Profiler(meters=meters)
        if gpu:
            profiler.windows.derivers.append(derive_vram_peak)

        def run(n: int) -> None:
            for _ in range(n):
                profiler.close_window(profiler.open_window("k"))

        return run

    return setup


class Modules:
    """Swap modules in ``sys.modules`` around a variant (the fakes, or nothing)."""

    def __init__(self, **modules: Any) -> None:
        self.modules = modules
        self.saved: dict[str, Any] = {}

    def __enter__(self) -> None:
        for name, module in self.modules.items():
            self.saved[name] = sys.modules.get(name)
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module

    def __exit__(self, *exc: object) -> None:
        for name, module in self.saved.items():
            if module is None:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def fake_nvml(gpus: int) -> Any:
    _fakes_importable()
    from fake_nvml import FakeGpu, FakeNvml

    return FakeNvml([FakeGpu(f"GPU-{i:08x}-0000-4000-8000-000000000000") for i in range(gpus)]).module


def fake_torch(gpus: int) -> Any:
    _fakes_importable()
    from fake_torch import FakeTorch

    torch = FakeTorch(gpus)
    torch.init(*range(gpus))
    return torch.module


def _fakes_importable() -> None:
    if str(TESTS) not in sys.path:
        sys.path.insert(0, str(TESTS))


def variants() -> dict[str, tuple[Setup, Modules]]:
    """name -> (setup, the sys.modules it runs with)."""
    out: dict[str, tuple[Setup, Modules]] = {
        "torch_cuda: torch not imported": (meter_windows(TorchCudaMeter), Modules(torch=None)),
        _real_nvml_label(): (meter_windows(NvmlMeter), Modules()),
        "nvml: fake NVML, 1 GPU": (meter_windows(NvmlMeter), Modules(pynvml=fake_nvml(1))),
        "nvml: fake NVML, 8 GPUs": (meter_windows(NvmlMeter), Modules(pynvml=fake_nvml(8))),
        "torch_cuda: fake torch, 1 GPU": (meter_windows(TorchCudaMeter), Modules(torch=fake_torch(1))),
        "torch_cuda: fake torch, 8 GPUs": (meter_windows(TorchCudaMeter), Modules(torch=fake_torch(8))),
        "profiler window: CPU meters": (profiler_windows(False), Modules(torch=None)),
        "profiler window: CPU + GPU meters (as here)": (profiler_windows(True), Modules(torch=None)),
    }
    torch = _real_torch()
    if torch is not None:
        if torch.cuda.is_available():  # the variants share a process: once CUDA is up it stays up
            out["torch_cuda: real CUDA, 1 idle GPU in use"] = (_real_cuda_setup(torch), Modules())
        else:
            idle = "torch_cuda: torch imported, CUDA not initialised"
            out[idle] = (meter_windows(TorchCudaMeter), Modules())
    return out


def _real_nvml_label() -> str:
    meter = NvmlMeter(poll_interval_s=None)
    try:
        found = meter.probe()
        return f"nvml: real NVML, {len(meter.gpus)} GPU(s)" if found.available else "nvml: unavailable here"
    finally:
        meter.close()


def _real_torch() -> Any | None:
    if importlib.util.find_spec("torch") is None:
        return None
    import torch

    return torch


def _real_cuda_setup(torch: Any) -> Setup:
    def setup() -> Callable[[int], None]:
        torch.ones(1, device="cuda")  # initialise CUDA on purpose: this variant measures it in use
        return meter_windows(TorchCudaMeter)()

    return setup


def measure(rounds: int, windows: int) -> dict[str, dict[str, float]]:
    table = variants()
    runners: dict[str, Callable[[int], None]] = {}
    for name, (setup, modules) in table.items():
        with modules:
            runners[name] = setup()
            runners[name](min(windows, 200))  # warm-up
    per_window: dict[str, list[float]] = {name: [] for name in table}
    for r in range(rounds):
        for name in rotated(list(table), r):
            with table[name][1]:
                t0 = perf_counter_ns()
                runners[name](windows)
                per_window[name].append((perf_counter_ns() - t0) / windows / 1000)
    return {name: summary(values) for name, values in per_window.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--windows", type=int, default=2000, help="windows per variant per round")
    args = parser.parse_args()
    results = measure(args.rounds, args.windows)
    rows = [[name, f"{s['median']:.2f}", f"{s['iqr']:.2f}"] for name, s in results.items()]
    print_table(["variant", "µs/window (median)", "IQR"], rows,
                title=f"GPU meters, begin + end per window ({args.rounds} rounds x {args.windows} windows)")
    availability = {m.name: m.probe().detail for m in (NvmlMeter(), TorchCudaMeter())}
    write_result("gpu_overhead", {"rounds": args.rounds, "windows_per_round": args.windows,
                                  "us_per_window": results, "availability_here": availability})


if __name__ == "__main__":
    main()
