"""Where nbprofile's per-cell time goes: every stage of its two hooks, timed in place.

Each stage (a method or module function on the hooks' path) is wrapped with a
``perf_counter_ns`` timer at class or module level before ``%load_ext``, so the
hooks call the timed versions. Trivial ``pass`` cells, footer compact, output to
a StringIO, as in ``cell_overhead.py``. Blocks of plain, nbprofile and
nbprofile-with-timers cells alternate, so the table can be set against the
latency nbprofile adds without timers.

A wrapper costs a fraction of a microsecond (measured and printed); an outer
stage's time includes its inner wrappers'. ``--cprofile`` also prints a cProfile
of the hook bodies only (the profiler is switched on inside the hooks), whose
own overhead inflates small functions: use it for the call graph, the timers
for the numbers.

Back-to-back ``pass`` cells keep the hooks' code and data in the CPU caches: a
best case. ``--code`` runs another cell, e.g. a ~20 ms loop, after which the
hooks run cold, as they do in a notebook; the "building blocks" table shows the
same effect on single system calls.

    python bench/hook_breakdown.py [--rounds 3] [--cells 2000] [--cprofile]
    python bench/hook_breakdown.py --cells 100 --result hook_breakdown_cold \
        --code $'s = 0\nfor i in range(400_000):\n    s += i'
"""

from __future__ import annotations

import argparse
import cProfile
import functools
import io
import pstats
import statistics
import sys
from collections import defaultdict
from contextlib import redirect_stdout
from time import perf_counter_ns
from typing import TYPE_CHECKING, Any, Callable

from _common import make_shell, print_table, summary, temp_store, write_result

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

WARMUP_CELLS = 100

# (label, module, owner attribute path). Order is display order; indent shows nesting.
# Each meter's begin/end and each deriver are added once the profiler exists
# (Timers.add_profiler), under open_window / close_window. A stage the code no
# longer has is skipped and named in the output.
STAGES: list[tuple[str, str, str]] = [
    ("pre_run_cell (hook)", "nbprofile.ipython.hooks", "CellHooks.pre_run_cell"),
    ("  open_window", "nbprofile.engine.windows", "MeterSet.open_window"),
    ("    HangGuard.arm", "nbprofile.engine.hang_guard", "HangGuard.arm"),
    ("    HangGuard.disarm", "nbprofile.engine.hang_guard", "HangGuard.disarm"),
    ("  cell_started (journal line, OOM guard armed)", "nbprofile.engine.profiler", "Profiler.cell_started"),
    ("    OomGuard.arm", "nbprofile.engine.oom_guard", "OomGuard.arm"),
    ("post_run_cell (hook)", "nbprofile.ipython.hooks", "CellHooks.post_run_cell"),
    ("  cell_ended (OOM guard disarmed)", "nbprofile.engine.profiler", "Profiler.cell_ended"),
    ("  _finish", "nbprofile.ipython.hooks", "CellHooks._finish"),
    ("    close_window", "nbprofile.engine.windows", "MeterSet.close_window"),
    ("    make_record", "nbprofile.engine.recorder", "Recorder.make_record"),
    ("      code_hash (sha1)", "nbprofile.engine.recorder", "code_hash"),
    ("  save", "nbprofile.engine.recorder", "Recorder.save"),
    ("    JournalWriter.append (encode + write)", "nbprofile.store.journal", "JournalWriter.append"),
    ("    StoreWriter.wake", "nbprofile.engine.writer", "StoreWriter.wake"),
    ("  show_footer", "nbprofile.ipython.hooks", "CellHooks.show_footer"),
    ("    footer_text", "nbprofile.ipython.display", "footer_text"),
    ("    footer_html", "nbprofile.report.footer", "footer_html"),
    ("    publish_bundle (IPython display)", "nbprofile.ipython.display", "publish_bundle"),
]
# In a real kernel (kernel_roundtrip.py --breakdown), also ipykernel's side of the footer.
KERNEL_STAGES: list[tuple[str, str, str]] = [
    ("      ipykernel ZMQDisplayPublisher.publish", "ipykernel.zmqshell", "ZMQDisplayPublisher.publish"),
    ("        _flush_streams (stdout+stderr flush: waits for the IOPub thread)", "ipykernel.zmqshell",
     "ZMQDisplayPublisher._flush_streams"),
    ("        json_clean", "ipykernel.zmqshell", "json_clean"),
    ("        Session.msg (build the message)", "jupyter_client.session", "Session.msg"),
    ("        Session.send (any message: serialise, sign, hand to IOPub)", "jupyter_client.session",
     "Session.send"),
]


def _resolve(module: str, path: str) -> tuple[Any, str]:
    owner: Any = sys.modules[module] if module in sys.modules else __import__(module, fromlist=["_"])
    *parents, attr = path.split(".")
    for name in parents:
        owner = getattr(owner, name)
    if attr not in vars(owner):
        raise AttributeError(attr)
    return owner, attr


class Timers:
    """Installs and removes the stage wrappers; keeps every call's duration."""

    def __init__(self, stages: list[tuple[str, str, str]] = STAGES) -> None:
        self.stages = stages
        self.order = [label for label, _, _ in stages]  # display order, meters added later
        self.missing: list[str] = []
        self.calls: dict[str, list[int]] = defaultdict(list)
        self._originals: list[tuple[Any, str, Any]] = []
        self._kept: dict[str, int] = {}  # calls kept from earlier blocks

    def install(self) -> None:
        """Wrap the static stages; before ``%load_ext``, so that the hooks it registers are timed."""
        self.missing = []
        for label, module, path in self.stages:
            try:
                owner, attr = _resolve(module, path)
            except (ImportError, AttributeError):
                self.missing.append(f"{module}.{path}")
                continue
            self._patch(owner, attr, label)

    def add_profiler(self, profiler: Any) -> None:
        """Wrap the begin/end of each meter class of ``profiler`` and its derivers; after ``%load_ext``."""
        patched = {(owner, attr) for owner, attr, _ in self._originals}
        begins = [(type(m), "begin", f"    {m.name}.begin") for m in profiler.windows.meters]
        ends = [(type(m), "end", f"      {m.name}.end") for m in reversed(profiler.windows.meters)]
        for (owner, attr, label), anchor in zip(begins + ends, ["  open_window"] * len(begins)
                                                 + ["    close_window"] * len(ends)):
            if attr in vars(owner) and (owner, attr) not in patched:
                self._patch(owner, attr, label)
                patched.add((owner, attr))
            self._place(label, anchor)
        derivers = profiler.windows.derivers
        if isinstance(derivers, list):  # per instance: a new profiler has fresh, unwrapped ones
            for i, derive in enumerate(derivers):
                label = f"      derive {getattr(derive, '__name__', derive)}"
                derivers[i] = self._wrap(derive, self.calls[label])
                self._place(label, "    close_window")

    def _place(self, label: str, anchor: str) -> None:
        if label in self.order or anchor not in self.order:
            return
        i = self.order.index(anchor) + 1
        depth = len(label) - len(label.lstrip())
        while i < len(self.order) and len(self.order[i]) - len(self.order[i].lstrip()) >= depth:
            i += 1
        self.order.insert(i, label)

    def _patch(self, owner: Any, attr: str, label: str) -> None:
        original = vars(owner)[attr]
        self._originals.append((owner, attr, original))
        setattr(owner, attr, self._wrap(original, self.calls[label]))

    def stats(self) -> dict[str, dict[str, float]]:
        """Per stage: median, IQR and mean µs per call, and calls per measured cell."""
        cells = len(self.calls["post_run_cell (hook)"]) or 1
        out = {}
        for label in self.order:
            ns = self.calls[label]
            if ns:
                out[label] = {**summary([x / 1e3 for x in ns]), "mean": statistics.fmean(ns) / 1e3,
                              "calls_per_cell": len(ns) / cells}
        return out

    def drop_warmup(self) -> None:
        """Forget the calls made since ``install`` (the warm-up cells)."""
        for label, sink in self.calls.items():
            del sink[self._kept.get(label, 0):]

    def remove(self) -> None:
        self._kept = {label: len(sink) for label, sink in self.calls.items()}
        for owner, attr, original in reversed(self._originals):
            setattr(owner, attr, original)
        self._originals.clear()

    @staticmethod
    def _wrap(fn: Callable[..., Any], sink: list[int]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def timed(*args: Any, **kwargs: Any) -> Any:
            t0 = perf_counter_ns()
            try:
                return fn(*args, **kwargs)
            finally:
                sink.append(perf_counter_ns() - t0)

        return timed


def print_stages(stages: dict[str, dict[str, float]], title: str) -> None:
    rows = [[label, f"{s['median']:.1f}", f"{s['mean']:.1f}", f"{s['q1']:.1f} … {s['q3']:.1f}",
             f"{s['calls_per_cell']:.2f}"] for label, s in stages.items()]
    print_table(["stage", "median µs", "mean µs", "IQR µs", "calls/cell"], rows,
                title=f"{title} (per call; an outer stage includes its inner stages and their timers)")
    print()


def _busy(seconds: float) -> None:
    end = perf_counter_ns() + int(seconds * 1e9)
    while perf_counter_ns() < end:
        pass


def primitives_ns(loops: int = 20_000, cold_loops: int = 30) -> dict[str, tuple[float, float]]:
    """Median ns of the calls the meters and records are built on: (back to back, after 20 ms of other work)."""
    import hashlib
    import os
    import resource
    import time

    status = os.open("/proc/self/status", os.O_RDONLY)
    statm = os.open("/proc/self/statm", os.O_RDONLY)
    try:
        clear_refs: int | None = os.open("/proc/self/clear_refs", os.O_WRONLY)
    except OSError:
        clear_refs = None
    calls: dict[str, Callable[[], object]] = {
        "perf_counter_ns()": perf_counter_ns,
        "time.time()": time.time,
        "getrusage(RUSAGE_SELF)": lambda: resource.getrusage(resource.RUSAGE_SELF),
        "pread /proc/self/statm": lambda: os.pread(statm, 128, 0),
        "pread /proc/self/status (8 KiB)": lambda: os.pread(status, 8192, 0),
        "sha1('pass').hexdigest()": lambda: hashlib.sha1(b"pass").hexdigest(),
    }
    if clear_refs is not None:
        calls["write 5 > /proc/self/clear_refs"] = lambda: os.write(clear_refs, b"5")
    out = {}
    for name, fn in calls.items():
        hot, cold = [], []
        for _ in range(loops):
            t0 = perf_counter_ns()
            fn()
            hot.append(perf_counter_ns() - t0)
        for _ in range(cold_loops):
            _busy(0.02)
            t0 = perf_counter_ns()
            fn()
            cold.append(perf_counter_ns() - t0)
        out[name] = (statistics.median(hot), statistics.median(cold))
    for fd in (status, statm, clear_refs):
        if fd is not None:
            os.close(fd)
    return out


def wrapper_cost_ns() -> float:
    """What one timer wrapper adds to a call (median of many)."""
    def noop() -> None:
        return None

    sink: list[int] = []
    wrapped = Timers._wrap(noop, sink)
    runs = []
    for fn in (noop, wrapped) * 5:
        t0 = perf_counter_ns()
        for _ in range(20_000):
            fn()
        runs.append((fn is wrapped, (perf_counter_ns() - t0) / 20_000))
    bare = statistics.median(t for w, t in runs if not w)
    timed = statistics.median(t for w, t in runs if w)
    return timed - bare


def block(shell: InteractiveShell, cells: int, load: bool, timers: Timers | None = None,
          code: str = "pass") -> list[int]:
    """ns per cell of ``code``, with nbprofile (footer compact) loaded or not, timed stages or not."""
    times = [0] * cells
    with redirect_stdout(io.StringIO()):
        if load:
            shell.run_line_magic("load_ext", "nbprofile")
            shell.run_line_magic("nbprofile", "footer compact")
            if timers is not None:
                from nbprofile.engine import current

                timers.add_profiler(current.current())
        for _ in range(WARMUP_CELLS):
            shell.run_cell(code, store_history=True).raise_error()  # a cell that fails measures nothing
        if timers is not None:
            timers.drop_warmup()
        for i in range(cells):
            t0 = perf_counter_ns()
            shell.run_cell(code, store_history=True)
            times[i] = perf_counter_ns() - t0
        if load:
            shell.run_line_magic("unload_ext", "nbprofile")
    return times


def hook_cprofile(shell: InteractiveShell, cells: int, code: str) -> str:
    """cProfile of the two hooks' bodies only, over ``cells`` cells, top functions by own time."""
    from nbprofile.ipython.hooks import CellHooks

    prof = cProfile.Profile()
    originals = CellHooks.pre_run_cell, CellHooks.post_run_cell

    def profiled(fn: Callable[..., Any]) -> Callable[..., Any]:
        def hook(self: CellHooks, arg: Any) -> None:
            prof.enable()
            try:
                fn(self, arg)
            finally:
                prof.disable()

        return hook

    CellHooks.pre_run_cell, CellHooks.post_run_cell = map(profiled, originals)  # type: ignore[method-assign]
    try:
        block(shell, cells, load=True, code=code)
    finally:
        CellHooks.pre_run_cell, CellHooks.post_run_cell = originals  # type: ignore[method-assign]
    out = io.StringIO()
    pstats.Stats(prof, stream=out).sort_stats("tottime").print_stats(25)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cells", type=int, default=2000)
    parser.add_argument("--cprofile", action="store_true", help="also print a cProfile of the hooks")
    parser.add_argument("--code", default="pass", help="the cell to run (default: pass)")
    parser.add_argument("--result", default="hook_breakdown", help="name of the JSON result file")
    args = parser.parse_args()

    temp_store()
    shell = make_shell()
    import nbprofile.ipython.display  # noqa: F401  (wrap the footer before the first cell)

    timers = Timers()
    plain, loaded, loaded_timed, outside = [], [], [], []
    for _ in range(args.rounds):
        plain.append(statistics.median(block(shell, args.cells, load=False, code=args.code)))
        loaded.append(statistics.median(block(shell, args.cells, load=True, code=args.code)))
        timers.install()
        try:
            times = block(shell, args.cells, load=True, timers=timers, code=args.code)
        finally:
            timers.remove()
        loaded_timed.append(statistics.median(times))
        # per cell: its time minus its two hooks' = the time spent outside nbprofile's hooks
        pre = timers.calls["pre_run_cell (hook)"][-args.cells:]
        post = timers.calls["post_run_cell (hook)"][-args.cells:]
        outside.append(statistics.median(t - a - b for t, a, b in zip(times, pre, post)) - plain[-1])

    added = statistics.median(l - p for l, p in zip(loaded, plain))
    added_timed = statistics.median(l - p for l, p in zip(loaded_timed, plain))
    added_outside = statistics.median(outside)
    per_call = wrapper_cost_ns()
    cells_seen = len(timers.calls["post_run_cell (hook)"])

    stages = timers.stats()
    print_stages(stages, f"nbprofile hook stages over {cells_seen} cells of {args.code!r}, in-process shell, "
                         f"footer compact")
    if timers.missing:
        print(f"not in this version of nbprofile, not timed: {', '.join(timers.missing)}")
    hooks = stages["pre_run_cell (hook)"]["median"] + stages["post_run_cell (hook)"]["median"]
    wrapped = sum(s["calls_per_cell"] for s in stages.values())
    print(f"timer wrapper cost: {per_call:.0f} ns per wrapped call ({wrapped:.0f} timed calls per cell, "
          f"~{per_call * wrapped / 1e3:.1f} µs per cell in all)")
    print(f"added per cell, no timers:      {added / 1e3:.1f} µs (median over {args.rounds} rounds)")
    print(f"added per cell, with timers:    {added_timed / 1e3:.1f} µs, of which")
    print(f"  in the hooks (pre + post):    {hooks:.1f} µs (sum of the two medians)")
    print(f"  outside the hooks:            {added_outside / 1e3:.1f} µs (per cell: cell time - hook times, "
          f"median, minus the plain cell's median)")

    prims = primitives_ns()
    print_table(["primitive (one call, timer included)", "back to back µs", "after 20 ms busy µs"],
                [[name, f"{hot / 1e3:.2f}", f"{cold / 1e3:.2f}"] for name, (hot, cold) in prims.items()],
                title="Building blocks (medians)")

    profile_text = None
    if args.cprofile:
        profile_text = hook_cprofile(shell, args.cells, args.code)
        print("\ncProfile of the hook bodies (tottime order):")
        print(profile_text)

    write_result(args.result, {
        "rounds": args.rounds, "cells_per_block": args.cells, "footer": "compact", "code": args.code,
        "added_ns": added, "added_with_timers_ns": added_timed, "added_outside_hooks_ns": added_outside,
        "timer_wrapper_ns": per_call, "primitives_ns_hot_cold": prims,
        "stages_us": {k.strip(): v for k, v in stages.items()},
        "cprofile": profile_text,
    })


if __name__ == "__main__":
    sys.exit(main())
