"""Per-cell cost of the NVML meter (``begin`` + ``end``) against the test's fake NVML, in µs.

The fake (``tests/fakes/fake_nvml.py``) answers in Python with no driver behind
it, so this is the meter's own Python plus the fake's, an upper bound of the
meter's share; the driver's time per call is not in it (to measure on a GPU).
Each window spans ``--window-s`` seconds of the fake's clock (samples in the
buffers, GPM computed), advanced outside the timed calls; variants with 1 and
8 GPUs, and with a zero-length window (no sample, no GPM metrics). Timed in
the thread's CPU time (``thread_time_ns``), so that a busy neighbour's
preemptions stay out of it.

    python bench/nvml_cell_cost.py [--rounds 10] [--windows 300] [--window-s 0.5]

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


def setup(root: Path, gpus: int, window_s: float) -> tuple[Any, Any]:
    """A probed meter and its fake, imported from ``root``."""
    if str(root) not in sys.path:
        sys.path.insert(0, str(root))
    from nbprofile.meters.nvml import NvmlMeter
    from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml

    clock = FakeClock()
    fake = FakeNvml([FakeGpu(f"GPU-{i:08x}-0000-4000-8000-000000000000") for i in range(gpus)], clock)
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
    args = parser.parse_args()
    variants = {f"fake NVML, {g} GPU{'s' if g > 1 else ''}, {w:g} s window": (g, w)
                for g in (1, 8) for w in (args.window_s, 0.0)}
    made = {name: setup(args.root.resolve(), g, w) for name, (g, w) in variants.items()}
    per: dict[str, list[float]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in rotated(list(variants), r):
            meter, fake = made[name]
            sys.modules["pynvml"] = fake.module
            per[name].append(run(meter, fake, args.windows, variants[name][1]))
    results = {name: summary(values) for name, values in per.items()}
    print_table(["variant (fake NVML: Python only, no driver)", "µs/window (median)", "IQR"],
                [[n, f"{s['median']:.1f}", f"{s['iqr']:.1f}"] for n, s in results.items()],
                title=f"NVML meter, begin + end ({args.rounds} rounds x {args.windows} windows, {args.root})")
    write_result("nvml_cell_cost", {"root": str(args.root), "rounds": args.rounds, "windows": args.windows,
                                    "us_per_window": results})


if __name__ == "__main__":
    main()
