"""Helpers shared by the benchmarks: an in-process shell, a temp store, statistics, output.

The scripts import this as ``_common`` (``python bench/<name>.py`` puts ``bench/``
first on ``sys.path``).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
import tempfile
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

RESULTS_DIR = Path(__file__).resolve().parent / "results"
TARGET_ADDED_US = 60.0  # per trivial cell, nbprofile with every CPU meter, the store write and the footer


def make_shell() -> InteractiveShell:
    """The process's in-process IPython shell, with history kept in memory.

    With a history file on disk, IPython's history thread commits after every
    cell and any file I/O in a post-run hook waits ~1.4 ms for it: IPython's
    cost, not the hook's. ``:memory:`` takes that out of every variant alike.
    """
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    return InteractiveShell.instance(config=config)


def temp_store() -> Path:
    """Point ``NBPROFILE_DB`` at a new SQLite file in a temp dir (a real file, WAL and all)."""
    path = Path(tempfile.mkdtemp(prefix="nbprofile-bench-")) / "records.db"
    os.environ["NBPROFILE_DB"] = str(path)
    os.environ.pop("NBPROFILE_RUN_ID", None)
    os.environ.pop("JPY_SESSION_NAME", None)
    return path


def quiet_codecarbon_tracker() -> Any:
    """An offline, silent codecarbon tracker whose slow first ``start_task`` (~1.7 s) is done."""
    import logging

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # codecarbon imports the deprecated pynvml
        from codecarbon import OfflineEmissionsTracker

        # codecarbon sets its logger's level on import and logs "offline tracker init"
        # before applying log_level: silence it between the two.
        logging.getLogger("codecarbon").setLevel(logging.ERROR)
        tracker = OfflineEmissionsTracker(
            country_iso_code="USA", save_to_file=False, save_to_api=False, log_level="error",
            allow_multiple_runs=True,  # no lock file in /tmp
        )
        for _ in range(3):
            tracker.start_task("warm-up")
            tracker.stop_task()
    return tracker


class HookPair:
    """A ``pre_run_cell``/``post_run_cell`` pair that registers and unregisters itself."""

    name = ""  # as the benchmarks' tables show it

    def pre_run_cell(self, info: Any) -> None:
        raise NotImplementedError

    def post_run_cell(self, result: Any) -> None:
        raise NotImplementedError

    def register(self, shell: InteractiveShell) -> None:
        shell.events.register("pre_run_cell", self.pre_run_cell)
        shell.events.register("post_run_cell", self.post_run_cell)

    def unregister(self, shell: InteractiveShell) -> None:
        shell.events.unregister("pre_run_cell", self.pre_run_cell)
        shell.events.unregister("post_run_cell", self.post_run_cell)


class CodecarbonHooks(HookPair):
    """codecarbon's task API driven per cell from hooks, as a user would wire it up."""

    name = "codecarbon task API"

    def __init__(self) -> None:
        self.tracker = quiet_codecarbon_tracker()

    def pre_run_cell(self, info: Any) -> None:
        self.tracker.start_task()

    def post_run_cell(self, result: Any) -> None:
        self.tracker.stop_task()


def quartiles(values: Sequence[float]) -> tuple[float, float, float]:
    """(Q1, median, Q3); with one value all three are that value."""
    if len(values) < 2:
        v = float(values[0])
        return v, v, v
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def summary(values: Sequence[float]) -> dict[str, float]:
    q1, med, q3 = quartiles(values)
    return {"median": med, "q1": q1, "q3": q3, "iqr": q3 - q1, "n": len(values)}


def rotated(items: Sequence[Any], k: int) -> list[Any]:
    """``items`` started at position ``k``: each round runs the variants in a new order."""
    k %= len(items)
    return list(items[k:]) + list(items[:k])


def print_table(headers: Sequence[str], rows: Sequence[Sequence[str]], title: str = "") -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(headers, *rows)]
    if title:
        print(f"\n{title}")
    line = "  ".join(f"{h:<{w}}" if i == 0 else f"{h:>{w}}" for i, (h, w) in enumerate(zip(headers, widths)))
    print(line)
    print("-" * len(line))
    for row in rows:
        print("  ".join(f"{c:<{w}}" if i == 0 else f"{c:>{w}}" for i, (c, w) in enumerate(zip(row, widths))))


def machine() -> dict[str, Any]:
    from importlib import metadata

    versions: dict[str, str | None] = {}
    for dist in ("nbprofile", "ipython", "ipykernel", "jupyter_client", "ipython-autotime", "codecarbon",
                 "ipyexperiments"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = None
    return {"python": sys.version.split()[0], "platform": platform.platform(), "cpus": os.cpu_count(),
            "nbprofile_tree": _git_state(),
            "processor": _cpu_model(), "versions": versions,
            # other work on the machine shows up as noise: judge the spreads with this
            "loadavg_at_end": os.getloadavg()}


def _git_state() -> str | None:
    """The commit measured, and whether nbprofile/ had uncommitted changes on top of it."""
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    try:
        head = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(repo), "status", "--porcelain", "--", "nbprofile"],
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return f"{head}+uncommitted" if dirty else head


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **data}, indent=2) + "\n")
    print(f"\nwrote {path}")
    return path


def us(seconds: float) -> str:
    return f"{seconds * 1e6:.1f}"

