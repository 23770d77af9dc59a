"""Cost per window of the CPU-energy meter and of the energy/carbon/cost/MFU derivers.

Variants, each timed as one ``begin`` + ``end`` pair (a cell's window), or one
call for a deriver:

- ``rapl (fake tree)``: CpuEnergyMeter on a fake powercap tree in a temp dir (two
  packages and a DRAM domain, regular files): the meter's own work, ``pread``
  included. A real ``energy_uj`` read goes through the kernel's MSR read (~µs
  more per domain, unmeasured here: this machine has no RAPL).
- ``estimate``: CpuEnergyMeter's estimate path (``process_time`` + ``getrusage``).
- each deriver on a typical reading set; ``all derivers`` = the five in order.

Rounds alternate the variants; the table gives the median and IQR over rounds of
the per-window mean.

    python bench/energy_overhead.py [--rounds 30] [--windows 2000]
"""

from __future__ import annotations

import argparse
import tempfile
from collections.abc import Callable
from pathlib import Path
from time import perf_counter_ns

from _common import print_table, rotated, summary, write_result

from nbprofile.derive.carbon import CarbonConfig, derive_carbon
from nbprofile.derive.cost import ComputePrices, derive_compute_cost, derive_cost
from nbprofile.derive.energy import derive_energy
from nbprofile.derive.mfu import Peak, derive_mfu
from nbprofile.meters.cpu_energy import CpuEnergyMeter
from nbprofile.readings import Reading, Readings


def fake_rapl() -> Path:
    root = Path(tempfile.mkdtemp(prefix="nbprofile-bench-rapl-"))
    for entry, name in (("intel-rapl:0", "package-0"), ("intel-rapl:1", "package-1"), ("intel-rapl:0:2", "dram")):
        d = root / entry
        d.mkdir()
        (d / "name").write_text(name + "\n")
        (d / "energy_uj").write_text("123456789\n")
        (d / "max_energy_range_uj").write_text("262143328850\n")
    return root


def meter_window(meter: CpuEnergyMeter) -> Callable[[], object]:
    def window() -> object:
        meter.begin(0)
        return meter.end(0)

    return window


def readings() -> Readings:
    r = Reading
    return {
        "wall_s": r(1.25, "s", "measured", "perf_counter"), "cpu_s": r(1.1, "s", "measured", "getrusage"),
        "gpu_time_s": r(1.2, "s", "measured", "cuda sync"), "gpu0_vram_peak_bytes": r(2**33, "B", "measured"),
        "gpu_energy_j": r(300.0, "J", "measured", "nvml"), "cpu_energy_j": r(40.0, "J", "estimated", "tdp"),
        "dram_energy_j": r.unavailable("J", "not estimated"), "llm_cost_usd": r(0.01, "USD", "measured"),
        "flops": r(5e14, "FLOP", "measured", "FlopCounterMode"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--windows", type=int, default=2000, help="windows (or deriver calls) per round")
    args = parser.parse_args()

    rapl = CpuEnergyMeter(fake_rapl(), watch=False)
    rapl.probe()
    estimate = CpuEnergyMeter("/nonexistent", tdp_w=65, threads=16)
    estimate.probe()
    assert rapl.mode == "rapl" and estimate.mode == "estimate"
    base = readings()
    derivers = [("derive_energy", derive_energy), ("derive_carbon", derive_carbon(CarbonConfig(region="FRA"))),
                ("derive_compute_cost", derive_compute_cost(ComputePrices(), "NVIDIA H100 80GB HBM3")),
                ("derive_cost", derive_cost), ("derive_mfu", derive_mfu(Peak(989.4e12, "H100")))]

    def all_derivers() -> object:
        out = dict(base)
        for _, derive in derivers:
            out.update(derive(out))
        return out

    staged = dict(base)  # each deriver alone sees what the ones before it produced
    variants: list[tuple[str, Callable[[], object]]] = [
        ("CpuEnergyMeter rapl (fake tree)", meter_window(rapl)),
        ("CpuEnergyMeter estimate", meter_window(estimate)),
    ]
    for name, derive in derivers:
        frozen = dict(staged)
        variants.append((name, lambda d=derive, f=frozen: d(f)))  # type: ignore[misc]
        staged.update(derive(staged))
    variants.append(("all derivers", all_derivers))

    for _, fn in variants:  # warm up
        for _ in range(200):
            fn()
    per_window: dict[str, list[float]] = {name: [] for name, _ in variants}
    for k in range(args.rounds):
        for name, fn in rotated(variants, k):
            t0 = perf_counter_ns()
            for _ in range(args.windows):
                fn()
            per_window[name].append((perf_counter_ns() - t0) / args.windows / 1000)
    rapl.close()
    estimate.close()

    results = {name: summary(values) for name, values in per_window.items()}
    print_table(["variant", "median µs", "IQR µs"],
                [(name, f"{s['median']:.2f}", f"{s['iqr']:.2f}") for name, s in results.items()],
                title=f"µs per window (begin+end) or per deriver call; {args.rounds} rounds x {args.windows}")
    write_result("energy_overhead", {"rounds": args.rounds, "windows": args.windows, "us_per_window": results})


if __name__ == "__main__":
    main()
