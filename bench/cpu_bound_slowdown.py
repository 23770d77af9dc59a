"""Slowdown of a CPU-bound cell (~20 ms of pure Python) under each profiler.

In-process IPython shell, history in memory. The cell sums ints in a Python
loop and times its own body; the benchmark times the whole ``run_cell`` around
it. Four numbers per variant, each as % slowdown vs the plain shell in the same
round (median over rounds, with the IQR of the first two):

* cell: wall time of the whole cell, what the user waits for, hooks included;
* body: wall time of the loop alone, i.e. how much the profiler slows the
  user's code while it runs (a sampling thread competing for the GIL shows here);
* cell CPU / body CPU: the same in CPU time of the main thread
  (``thread_time``), which other processes on the machine hardly disturb, but
  which does not see time lost waiting for the GIL.

Variants take turns in many short rounds, a new order each round. Output goes
to a StringIO. ipyexperiments runs its ``CellLogger`` alone
(``IPyExperimentsCPU(exp_enable=False)``, its defaults otherwise: a busy-loop
thread samples RSS while the cell runs, ``gc.collect()`` after each cell).
The hand-written floor of nbprofile's work (``_reference_hooks.py``) runs too.

    python bench/cpu_bound_slowdown.py [--rounds 30] [--cells 3] [--target-ms 20]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
from contextlib import redirect_stdout
from time import perf_counter_ns, thread_time_ns
from typing import TYPE_CHECKING, Any

from _common import make_shell, print_table, rotated, summary, temp_store, write_result
from _reference_hooks import FloorHook
from cell_overhead import AUTOTIME, PLAIN, Variant, codecarbon_variant, hooks_variant, nbprofile_variant
from hook_breakdown import STAGES, Timers

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

WARMUP_CELLS = 2  # per block: nbprofile opens its store in the first cell after loading
CELL = """\
from time import perf_counter as _bench_clock, thread_time as _bench_cpu
_bench_t0, _bench_c0 = _bench_clock(), _bench_cpu()
s = 0
for i in range({n}):
    s += i
_bench_body = (_bench_clock() - _bench_t0, _bench_cpu() - _bench_c0)
"""
METRICS = ("cell", "body", "cell_cpu", "body_cpu")
# nbprofile's two hooks, timed in place: their time is nearly its whole cost to a cell (its one
# thread, the store's checkpointer, runs every 100 commits and copies without the GIL), and
# timing them directly is far less noisy than a difference of two ~20 ms cells.
HOOKS = ("pre_run_cell (hook)", "post_run_cell (hook)")


def ipyexperiments_variant() -> Variant:
    state: dict[str, Any] = {}

    def on(shell: InteractiveShell) -> None:
        from ipyexperiments import IPyExperimentsCPU

        state["exp"] = IPyExperimentsCPU(exp_enable=False)  # CellLogger only; starts itself

    def off(shell: InteractiveShell) -> None:
        state.pop("exp").finish()

    return Variant("ipyexperiments CellLogger", on, off)


def variants() -> list[Variant]:
    # The hand-written floor (bench/_reference_hooks.py): nbprofile's work after a busy cell,
    # when the hooks run with cold caches, without nbprofile's structure.
    return [PLAIN, nbprofile_variant("compact"), AUTOTIME, codecarbon_variant(), ipyexperiments_variant(),
            hooks_variant(FloorHook(store=True, footer=True))]


def calibrate(shell: InteractiveShell, target_s: float) -> int:
    """Loop length whose plain cell body takes about ``target_s`` (fastest of 7: other work only slows)."""
    n = 200_000
    for _ in range(3):
        shell.run_cell(CELL.format(n=n))
        body = min(_body(shell, n) for _ in range(7))
        n = max(1000, int(n * target_s / body))
    return n


def _body(shell: InteractiveShell, n: int) -> float:
    shell.run_cell(CELL.format(n=n))
    return float(shell.user_ns["_bench_body"][0])


def run_block(shell: InteractiveShell, variant: Variant, code: str, cells: int,
              hooks: Timers) -> dict[str, float]:
    """Median seconds of each metric with ``variant`` on (and of nbprofile's hooks, if they ran)."""
    samples: dict[str, list[float]] = {m: [] for m in METRICS}
    with redirect_stdout(io.StringIO()):
        variant.on(shell)
        for _ in range(WARMUP_CELLS):
            shell.run_cell(code, store_history=True)
        seen = [len(hooks.calls[h]) for h in HOOKS]
        for _ in range(cells):
            t0, c0 = perf_counter_ns(), thread_time_ns()
            shell.run_cell(code, store_history=True)
            samples["cell_cpu"].append((thread_time_ns() - c0) / 1e9)
            samples["cell"].append((perf_counter_ns() - t0) / 1e9)
            samples["body"].append(shell.user_ns["_bench_body"][0])
            samples["body_cpu"].append(shell.user_ns["_bench_body"][1])
        variant.off(shell)
    pre, post = (hooks.calls[h][n:] for h, n in zip(HOOKS, seen))
    if pre and len(pre) == len(post):
        samples["hooks"] = [(a + b) / 1e9 for a, b in zip(pre, post)]
    return {m: statistics.median(v) for m, v in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short rounds: a round's variants then see the same load from other work.
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cells", type=int, default=3, help="timed cells per variant per round")
    parser.add_argument("--target-ms", type=float, default=20.0, help="plain cell body time to calibrate to")
    args = parser.parse_args()

    temp_store()
    shell = make_shell()
    n = calibrate(shell, args.target_ms / 1e3)
    code = CELL.format(n=n)
    print(f"cell: sum of range({n}) in a Python loop; warming up codecarbon ...", flush=True)
    all_variants = variants()
    hooks = Timers([stage for stage in STAGES if stage[0] in HOOKS])
    hooks.install()
    per_round: dict[str, dict[str, list[float]]] = {v.name: {m: [] for m in METRICS} for v in all_variants}
    for r in range(args.rounds):
        for variant in rotated(all_variants, r):
            for metric, value in run_block(shell, variant, code, args.cells, hooks).items():
                per_round[variant.name].setdefault(metric, []).append(value)
        if (r + 1) % 10 == 0 or r + 1 == args.rounds:
            print(f"round {r + 1}/{args.rounds}: " + ", ".join(
                f"{name} {m['cell'][-1] * 1e3:.2f} ms" for name, m in per_round.items()), flush=True)

    plain = per_round["plain"]
    results: dict[str, Any] = {}
    rows = []
    for name, metrics in per_round.items():
        slowdown = {m: summary([100 * (v / b - 1) for v, b in zip(metrics[m], plain[m])]) for m in METRICS}
        if "hooks" in metrics:
            slowdown["hooks"] = summary([100 * h / b for h, b in zip(metrics["hooks"], plain["cell"])])
        results[name] = {"median_s": {m: statistics.median(v) for m, v in metrics.items()},
                         "slowdown_pct": slowdown, "per_round_s": metrics}

        def pct(m: str, iqr: bool = False) -> str:
            if name == "plain":
                return "—"
            s = slowdown[m]
            return f"{s['median']:+.2f} ({s['q1']:+.1f} … {s['q3']:+.1f})" if iqr else f"{s['median']:+.2f}"

        rows.append([name, f"{statistics.median(metrics['cell']) * 1e3:.2f}", pct("cell", True),
                     pct("cell_cpu"), f"{statistics.median(metrics['body']) * 1e3:.2f}", pct("body", True),
                     pct("body_cpu")])
    print_table(["variant", "cell ms", "cell % (IQR)", "cell CPU %", "body ms", "body % (IQR)", "body CPU %"],
                rows, title=f"CPU-bound cell (~{args.target_ms:.0f} ms): {args.rounds} rounds × {args.cells} "
                            f"cells per variant; % = slowdown vs plain in the same round, median over rounds")
    ours = results["nbprofile (footer compact)"]["slowdown_pct"]
    hook_us = statistics.median(per_round["nbprofile (footer compact)"]["hooks"]) * 1e6
    print(f"\nnbprofile's hooks, timed in place: {hook_us:.0f} µs per cell (median) = "
          f"{ours['hooks']['median']:.2f} % of the plain cell (IQR {ours['hooks']['q1']:.2f} … "
          f"{ours['hooks']['q3']:.2f} %)")
    print(f"target: nbprofile within noise, <= 1 % — measured {ours['cell']['median']:+.2f} % wall "
          f"(IQR {ours['cell']['q1']:+.2f} … {ours['cell']['q3']:+.2f} %), "
          f"{ours['cell_cpu']['median']:+.2f} % main-thread CPU")
    write_result("cpu_bound_slowdown", {"rounds": args.rounds, "cells_per_block": args.cells, "loop_n": n,
                                        "target_pct": 1.0, "variants": results})


if __name__ == "__main__":
    sys.exit(main())
