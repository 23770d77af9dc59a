"""``%load_ext nbprofile`` time in a fresh process, and what it imports.

Each measurement is a new ``python -c`` process that first builds an IPython
shell (IPython itself is imported before the clock starts: every notebook has
it), then times ``run_line_magic("load_ext", ...)``: importing the extension,
probing the meters, registering magics and hooks. It then times the first cells,
because nbprofile opens its store (a new SQLite file here, so the schema is
created) and imports its footer code on the first cell after loading.
ipython-autotime is timed the same way, in alternation, for comparison.

The children run with bytecode caching on (``PYTHONPYCACHEPREFIX``, a temp dir
warmed by one untimed run), as an installed package has its ``.pyc`` files;
``PYTHONDONTWRITEBYTECODE`` would otherwise make every run compile nbprofile's
sources (several ms per module). Nothing is written into the source tree.

A ``python -X importtime`` run lists the modules imported during the load and
the first cell, largest first.

    python bench/load_time.py [--runs 10]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path
from typing import Any

from _common import print_table, summary, write_result

TARGET_LOAD_MS = 150.0
EXTENSIONS = ("nbprofile", "autotime")
PYCACHE = tempfile.mkdtemp(prefix="nbprofile-bench-pycache-")
LOAD_MARK, CELLS_MARK = "--- bench: load ---", "--- bench: cells ---"
CHILD = f"""
import contextlib, io, json, sys, time
from traitlets.config import Config
from IPython.core.interactiveshell import InteractiveShell
config = Config()
config.HistoryManager.hist_file = ":memory:"
shell = InteractiveShell.instance(config=config)
print({LOAD_MARK!r}, file=sys.stderr, flush=True)
t0 = time.perf_counter()
if len(sys.argv) > 2:  # -X importtime misses what importlib.import_module (IPython's way) imports itself
    __import__(sys.argv[1])
with contextlib.redirect_stdout(io.StringIO()):
    shell.run_line_magic("load_ext", sys.argv[1])
load_s = time.perf_counter() - t0
print({CELLS_MARK!r}, file=sys.stderr, flush=True)
cells_s = []
with contextlib.redirect_stdout(io.StringIO()):
    for _ in range(3):
        t0 = time.perf_counter()
        shell.run_cell("pass", store_history=True)
        cells_s.append(time.perf_counter() - t0)
print(json.dumps({{"load_s": load_s, "cells_s": cells_s}}))
"""


def child(ext: str, *flags: str, preimport: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NBPROFILE_DB": str(Path(tempfile.mkdtemp(prefix="nbprofile-bench-")) / "records.db"),
           "PYTHONPYCACHEPREFIX": PYCACHE}
    for name in ("NBPROFILE_RUN_ID", "PYTHONDONTWRITEBYTECODE"):
        env.pop(name, None)
    argv = [sys.executable, *flags, "-c", CHILD, ext] + (["preimport"] if preimport else [])
    return subprocess.run(argv, env=env, capture_output=True,
                          text=True, check=True)


def importtime(ext: str, runs: int = 3) -> dict[str, Any]:
    """Median self/cumulative µs per module imported after the shell exists, over ``runs`` processes."""
    self_us: dict[tuple[str, str], list[int]] = defaultdict(list)
    cum_us: dict[tuple[str, str], list[int]] = defaultdict(list)
    for _ in range(runs):
        stage = None
        for line in child(ext, "-X", "importtime", preimport=True).stderr.splitlines():
            if line in (LOAD_MARK, CELLS_MARK):
                stage = "load_ext" if line == LOAD_MARK else "first cell"
                continue
            if stage is None or not line.startswith("import time:") or "self [us]" in line:
                continue
            own, cumulative, name = line[len("import time:"):].split("|")
            key = (stage, name.rstrip())  # leading spaces of the name = nesting depth
            self_us[key].append(int(own))
            cum_us[key].append(int(cumulative))
    rows = [{"stage": stage, "module": name.strip(), "depth": (len(name) - len(name.lstrip())) // 2,
             "self_us": statistics.median(self_us[(stage, name)]),
             "cumulative_us": statistics.median(cum_us[(stage, name)])} for stage, name in self_us]
    top_level = [r for r in rows if r["depth"] == 0]
    return {
        "total_us": {stage: sum(r["cumulative_us"] for r in top_level if r["stage"] == stage)
                     for stage in ("load_ext", "first cell")},
        "top_level": sorted(top_level, key=lambda r: -r["cumulative_us"]),
        "by_self": sorted(rows, key=lambda r: -r["self_us"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10, help="fresh processes per extension")
    args = parser.parse_args()

    samples: dict[str, list[dict[str, Any]]] = {ext: [] for ext in EXTENSIONS}
    for ext in EXTENSIONS:
        child(ext)  # fills the bytecode cache
    for i in range(args.runs):
        for ext in EXTENSIONS if i % 2 == 0 else EXTENSIONS[::-1]:
            samples[ext].append(json.loads(child(ext).stdout.splitlines()[-1]))
    results: dict[str, Any] = {}
    rows = []
    for ext, runs in samples.items():
        load = summary([r["load_s"] * 1e3 for r in runs])
        first = summary([r["cells_s"][0] * 1e3 for r in runs])
        third = summary([r["cells_s"][2] * 1e3 for r in runs])
        results[ext] = {"load_ms": load, "first_cell_ms": first, "third_cell_ms": third, "runs": runs}
        rows.append([ext, f"{load['median']:.1f}", f"{load['q1']:.1f} … {load['q3']:.1f}",
                     f"{first['median']:.2f}", f"{third['median']:.3f}"])
    print_table(["extension", "load_ext ms (median)", "IQR ms", "1st cell ms", "3rd cell ms"], rows,
                title=f"%load_ext in a fresh process (IPython already imported): {args.runs} processes each")
    print(f"\ntarget: <= {TARGET_LOAD_MS:.0f} ms for %load_ext nbprofile — measured "
          f"{results['nbprofile']['load_ms']['median']:.1f} ms")

    for ext in EXTENSIONS:
        it = importtime(ext)
        results[ext]["importtime"] = it
        total = it["total_us"]
        print(f"\n`python -X importtime`, {ext}: {total['load_ext'] / 1e3:.1f} ms of imports in load_ext, "
              f"{total['first cell'] / 1e3:.1f} ms in the first cell (median of 3 processes)")
        top = [[r["stage"], r["module"], f"{r['cumulative_us'] / 1e3:.2f}"] for r in it["top_level"][:12]]
        print_table(["stage", "top-level import", "cumulative ms"], top)
        mods = [[r["stage"], r["module"], f"{r['self_us'] / 1e3:.2f}"] for r in it["by_self"][:12]]
        print_table(["stage", "module (any depth)", "self ms"], mods)

    write_result("load_time", {"runs": args.runs, "target_load_ms": TARGET_LOAD_MS, "extensions": results})


if __name__ == "__main__":
    sys.exit(main())
