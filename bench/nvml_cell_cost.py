"""Per-cell cost of the NVML meter (``begin`` + ``end``) against the test's fake NVML, in µs.

The fake (``tests/fakes/fake_nvml.py``) answers in Python with no driver behind
it, so this is the meter's own Python plus the fake's, an upper bound of the
meter's share; the driver's time per call is not in it (to measure on a GPU).
Each window spans ``--window-s`` seconds of the fake's clock (samples in the
buffers, GPM computed), advanced outside the timed calls; variants with 1 and
8 GPUs, and with a zero-length window (no sample, no GPM metrics). Timed in
the thread's CPU time (``thread_time_ns``), so that a busy neighbour's
preemptions stay out of it.

``--driver h200`` makes each fake call also spend the CPU the same call took on a real H200
(driver 580.159.04, in a Firecracker VM: median CPU µs, read by the first-GPU check and a
probe of each call): the energy counter 3,033 µs (as a field value too), the utilisation
buffer 2,118 µs, the power buffer 289 µs, GPM's sample 36.5 µs, memory 7.3 µs, the
process list 8 µs, the instant-power field 3 µs. That gives what a window costs there,
here, for this checkout's meter and another's (``--root``).

    python bench/nvml_cell_cost.py [--rounds 10] [--windows 300] [--window-s 0.5] [--driver h200]

Writes ``bench/results/nvml_cell_cost.json``. Run it from another checkout's
root (``python /path/to/bench/nvml_cell_cost.py --root .``) to measure that
checkout's meter with its own fake.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from time import thread_time_ns
from typing import Any

from _common import print_table, rotated, summary, write_result


#: median CPU µs a call took on a real H200 (see the docstring); by NVML function, and by argument
H200_CPU_US: dict[str, float] = {
    "nvmlDeviceGetTotalEnergyConsumption": 3033.0, "nvmlGpmSampleGet": 36.5,
    "nvmlDeviceGetMemoryInfo": 7.3, "nvmlDeviceGetComputeRunningProcesses": 8.0,
    "nvmlDeviceGetPowerUsage": 1.3, "nvmlDeviceGetUtilizationRates": 1.2}
H200_SAMPLES_CPU_US = {0: 289.0, 1: 2118.0}  # nvmlDeviceGetSamples: power, utilisation
H200_FIELD_CPU_US = {83: 3007.0, 186: 3.0}  # nvmlDeviceGetFieldValues: total energy, instant power


def spin_us(us: float) -> None:
    """Spend ``us`` of this thread's CPU, as a driver call that spins does."""
    end = thread_time_ns() + int(us * 1000)
    while thread_time_ns() < end:
        pass


def with_driver_costs(module: Any) -> None:
    """Make ``module``'s NVML calls spend what they spend on an H200, around the fake's answers."""
    def costly(name: str, fn: Any) -> Any:
        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "nvmlDeviceGetSamples":
                spin_us(H200_SAMPLES_CPU_US.get(args[1], 0.0))
            elif name == "nvmlDeviceGetFieldValues":
                spin_us(sum(H200_FIELD_CPU_US.get(f, 3.0) for f in args[1]))
            else:
                spin_us(H200_CPU_US.get(name, 0.0))
            return fn(*args, **kwargs)
        return call

    for name in [*H200_CPU_US, "nvmlDeviceGetSamples", "nvmlDeviceGetFieldValues"]:
        if hasattr(module, name):
            setattr(module, name, costly(name, getattr(module, name)))


def setup(root: Path, gpus: int, window_s: float, driver: str | None = None) -> tuple[Any, Any]:
    """A probed meter and its fake, imported from ``root``."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from nbprofile.meters.nvml import NvmlMeter
    from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml

    clock = FakeClock()
    fake = FakeNvml([FakeGpu(f"GPU-{i:08x}-0000-4000-8000-000000000000") for i in range(gpus)], clock)
    if driver == "h200":
        with_driver_costs(fake.module)
    sys.modules["pynvml"] = fake.module  # type: ignore[assignment]
    meter = NvmlMeter(poll_interval_s=None, clock_ns=clock.now_ns, epoch_us=clock.epoch_us)
    assert meter.probe().available
    fake.run(5.0, 300, step_s=0.01)  # buffers with samples in them, as on a GPU in use
    return meter, fake


def run(meter: Any, fake: Any, windows: int, window_s: float) -> float:
    """µs per window, the fake's clock advanced between the edges outside the timing."""
    spent = 0
    for _ in range(windows):
        t0 = thread_time_ns()
        meter.begin("cell")
        t1 = thread_time_ns()
        if window_s:
            fake.run(window_s, 300, step_s=0.02)
        t2 = thread_time_ns()
        meter.end("cell")
        spent += (t1 - t0) + (thread_time_ns() - t2)
    return spent / windows / 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--windows", type=int, default=300)
    parser.add_argument("--window-s", type=float, default=0.5)
    parser.add_argument("--root", type=Path, default=Path(__file__).resolve().parent.parent)
    parser.add_argument("--driver", choices=["h200"], help="each call also spends what it did on that GPU")
    args = parser.parse_args()
    gpu_counts = (1,) if args.driver else (1, 8)  # with the driver's costs, one GPU says it
    variants = {f"fake NVML, {g} GPU{'s' if g > 1 else ''}, {w:g} s window": (g, w)
                for g in gpu_counts for w in (args.window_s, 0.0)}
    made = {name: setup(args.root.resolve(), g, w, args.driver) for name, (g, w) in variants.items()}
    per: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in rotated(list(variants), r):
            meter, fake = made[name]
            sys.modules["pynvml"] = fake.module
            per[name].append(run(meter, fake, args.windows, variants[name][1]))
    results = {name: summary(values) for name, values in per.items()}
    kind = f"fake NVML + {args.driver}'s CPU per call" if args.driver else "fake NVML: Python only, no driver"
    print_table([f"variant ({kind})", "µs/window (median)", "IQR"],
                [[n, f"{s['median']:.1f}", f"{s['iqr']:.1f}"] for n, s in results.items()],
                title=f"NVML meter, begin + end ({args.rounds} rounds x {args.windows} windows, {args.root})")
    write_result("nvml_cell_cost" + (f"_{args.driver}" if args.driver else ""),
                 {"root": str(args.root), "driver": args.driver, "rounds": args.rounds,
                  "windows": args.windows, "us_per_window": results})


if __name__ == "__main__":
    main()
