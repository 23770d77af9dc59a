"""Latency added to a trivial cell (``pass``) by nbprofile and by its peers.

In-process IPython shell, history in memory (see ``_common.make_shell``). Every
variant is switched on, runs a block of cells, and is switched off again; the
variants take turns in several rounds (a new order each round) so that drift of
the machine hits them alike. A variant's *added* latency is its median cell time
minus the plain shell's median in the same round; the table shows the median and
the interquartile range of that over the rounds.

Four reference hook pairs (``_reference_hooks.py``) run alongside: the issue's
naive hook, which calibrates this machine against the one the target was set on,
and a hand-written floor of nbprofile's own work with and without the store
write and the footer.

    python bench/cell_overhead.py [--rounds 30] [--cells 300] [--no-references]
"""

from __future__ import annotations

import argparse
import io
import sqlite3
import statistics
import sys
from contextlib import redirect_stdout
from dataclasses import dataclass
from time import perf_counter_ns
from typing import TYPE_CHECKING, Callable

from _common import (
    TARGET_ADDED_US,
    CodecarbonHooks,
    HookPair,
    make_shell,
    print_table,
    rotated,
    summary,
    temp_store,
    us,
    write_result,
)
from _reference_hooks import FloorHook, NaiveHook

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

# Per block, untimed: nbprofile opens its store (a new SQLite connection, cold page cache)
# in the first cell after loading; the next few dozen cells still run a little slower.
WARMUP_CELLS = 100


@dataclass
class Variant:
    name: str
    on: Callable[[InteractiveShell], None]
    off: Callable[[InteractiveShell], None]


def nbprofile_variant(footer: str) -> Variant:
    def on(shell: InteractiveShell) -> None:
        shell.run_line_magic("load_ext", "nbprofile")
        shell.run_line_magic("nbprofile", f"footer {footer}")

    return Variant(f"nbprofile (footer {footer})", on, lambda s: s.run_line_magic("unload_ext", "nbprofile"))


PLAIN = Variant("plain", lambda s: None, lambda s: None)
AUTOTIME = Variant("ipython-autotime", lambda s: s.run_line_magic("load_ext", "autotime"),
                   lambda s: s.run_line_magic("unload_ext", "autotime"))


def hooks_variant(hooks: HookPair) -> Variant:
    return Variant(hooks.name, hooks.register, hooks.unregister)


def codecarbon_variant() -> Variant:
    return hooks_variant(CodecarbonHooks())  # warms the tracker up now, outside any timing


def variants(references: bool) -> list[Variant]:
    found = [PLAIN, nbprofile_variant("off"), nbprofile_variant("compact"), AUTOTIME, codecarbon_variant()]
    if references:
        reference_hooks = (NaiveHook(), FloorHook(store=False, footer=False), FloorHook(store=True, footer=False),
                       FloorHook(store=True, footer=True))
        found += [hooks_variant(hooks) for hooks in reference_hooks]
    return found


def run_block(shell: InteractiveShell, variant: Variant, cells: int) -> tuple[float, float]:
    """(median, mean) seconds per ``pass`` cell with ``variant`` on.

    The mean is reported too because it carries the rare slow cells (SQLite's
    WAL checkpoints, codecarbon's thread starts) that the median hides.

    Output (nbprofile's footer, autotime's line) goes to a StringIO: the print is
    paid for, a terminal's scrolling is not.
    """
    out = io.StringIO()
    times = [0] * cells
    with redirect_stdout(out):
        variant.on(shell)
        for _ in range(WARMUP_CELLS):
            shell.run_cell("pass", store_history=True)
        for i in range(cells):
            t0 = perf_counter_ns()
            shell.run_cell("pass", store_history=True)
            times[i] = perf_counter_ns() - t0
        variant.off(shell)
    return statistics.median(times) / 1e9, statistics.fmean(times) / 1e9


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    # Many short rounds (~0.6 s) rather than a few long ones: other work on the machine
    # comes and goes over seconds, and a short round's variants all see the same conditions.
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--cells", type=int, default=300, help="timed cells per variant per round")
    parser.add_argument("--no-references", dest="references", action="store_false",
                        help="leave out the hand-written reference hooks (bench/_reference_hooks.py)")
    args = parser.parse_args()

    db = temp_store()
    shell = make_shell()
    print("warming up codecarbon (its first task takes ~1.7 s) ...", flush=True)
    all_variants = variants(args.references)
    medians: dict[str, list[float]] = {v.name: [] for v in all_variants}
    means: dict[str, list[float]] = {v.name: [] for v in all_variants}
    for r in range(args.rounds):
        for variant in rotated(all_variants, r):
            median, mean = run_block(shell, variant, args.cells)
            medians[variant.name].append(median)
            means[variant.name].append(mean)
        if (r + 1) % 10 == 0 or r + 1 == args.rounds:
            print(f"round {r + 1}/{args.rounds}: "
                  + ", ".join(f"{name} {us(m[-1])} µs" for name, m in medians.items()), flush=True)

    plain, plain_mean = medians["plain"], means["plain"]
    results = {}
    rows = []
    for name, per_round in medians.items():
        added = [m - p for m, p in zip(per_round, plain)]
        added_mean = [m - p for m, p in zip(means[name], plain_mean)]
        cell, extra, extra_mean = summary(per_round), summary(added), summary(added_mean)
        results[name] = {"cell_s": cell, "added_s": extra, "added_mean_s": extra_mean,
                         "per_round_cell_median_s": per_round, "per_round_cell_mean_s": means[name]}
        dash = name == "plain"
        rows.append([name, us(cell["median"]), "—" if dash else us(extra["median"]),
                     "—" if dash else f"{us(extra['q1'])} … {us(extra['q3'])}",
                     "—" if dash else us(extra_mean["median"])])
    print_table(["variant", "cell µs (median)", "added µs (median)", "added IQR µs", "added µs (mean)"], rows,
                title=f"Trivial cell (`pass`), in-process shell: {args.rounds} rounds × {args.cells} cells "
                      f"per variant; per round the median (or mean) cell, then median/IQR over rounds")

    with sqlite3.connect(db) as conn:
        stored = conn.execute("SELECT COUNT(*) FROM cells").fetchone()[0]
    print(f"\nstore: {stored} records committed to {db}")

    ours = results["nbprofile (footer compact)"]["added_s"]["median"]
    theirs = results["codecarbon task API"]["added_s"]["median"]
    if ours > 0:
        print(f"nbprofile is {theirs / ours:.1f}x below codecarbon's task API "
              f"({us(ours)} µs vs {us(theirs)} µs added per cell)")
    print(f"target: <= {TARGET_ADDED_US:.0f} µs added by nbprofile with every CPU meter, the store write "
          f"and the footer — measured {us(ours)} µs (footer compact)")

    write_result("cell_overhead", {
        "rounds": args.rounds, "cells_per_block": args.cells, "warmup_cells": WARMUP_CELLS,
        "store": str(db), "stored_records": stored, "variants": results,
        "target_added_us": TARGET_ADDED_US, "nbprofile_added_us": ours * 1e6,
        "codecarbon_over_nbprofile": theirs / ours if ours > 0 else None,
    })


if __name__ == "__main__":
    sys.exit(main())
