"""Slowdown of a long CPU-bound cell under the hot-spot sampler plus progress polling, next to pyinstrument.

The "cell" is a pure-Python loop of ``--seconds`` (10 s by default) driven through a tqdm bar
(1,000 steps, writing to a StringIO), run in this process's main thread. Variants:

* ``off``: the loop alone;
* ``nbprofile``: :class:`~nbprofile.engine.hotspots.HotSpotSampler` armed at its defaults (100 Hz
  once the cell has run 1 s) and a thread polling :class:`~nbprofile.engine.progress.ProgressWatcher`
  and computing the projection every ``1 / --poll-hz`` s (1 Hz: the live view's tick);
* ``pyinstrument``: ``pyinstrument.Profiler()`` at its defaults (1 ms interval), started before and
  stopped after the loop, as ``%%pyinstrument`` does; its report rendering is timed apart.
  Left out if pyinstrument is not installed (``pip install pyinstrument``).

Variants alternate (off, nbprofile, pyinstrument, then a new order each round) in one run, so
other work on the machine hits them alike; the table gives each variant's loop time as a ratio
to ``off`` in the same round (median and range over rounds), in wall time and in main-thread
CPU time (``thread_time``: the GIL hand-overs to the sampler show in wall time only).

    python bench/long_cell_overhead.py [--seconds 10] [--rounds 3] [--poll-hz 1]
"""

from __future__ import annotations

import argparse
import functools
import io
import statistics
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

from _common import print_table, rotated, write_result

from nbprofile.engine.hotspots import HotSpotSampler, describe
from nbprofile.engine.progress import ProgressWatcher

STEPS = 1000


def work(n: int) -> int:
    s = 0
    for i in range(n):
        s += i % 7
    return s


def cell(n: int) -> None:
    import tqdm

    for _ in tqdm.tqdm(range(STEPS), file=io.StringIO()):
        work(n)


def calibrate(seconds: float) -> int:
    """Iterations of ``work`` per step so that the loop takes about ``seconds`` (fastest of 3)."""
    n = 1000
    for _ in range(3):
        best = min(_timed(functools.partial(_steps, 50, n)) for _ in range(3))
        n = max(100, int(n * (seconds / STEPS * 50) / best))
    return n


def _steps(steps: int, n: int) -> None:
    for _ in range(steps):
        work(n)


def _timed(fn: Callable[[], Any]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


@contextmanager
def off() -> Iterator[dict[str, Any]]:
    yield {}


class Ours:
    """The sampler and a progress-polling thread, owned for the whole run as a profiler would."""

    def __init__(self, poll_hz: float) -> None:
        self.sampler = HotSpotSampler()
        self.watcher = ProgressWatcher()
        self.poll_s = 1 / poll_hz
        # the time each sample's work takes (the thread holds the GIL for it): _sample timed in place
        self.sample_s: list[float] = []
        sample = self.sampler._sample

        def timed_sample(now: float) -> None:
            t0 = time.perf_counter()
            sample(now)
            self.sample_s.append(time.perf_counter() - t0)

        self.sampler._sample = timed_sample  # type: ignore[method-assign]

    def _sampler_cpu(self) -> float:
        thread = self.sampler._thread  # the bench reads the thread's CPU clock; nothing else uses it
        if thread is None or thread.ident is None or not hasattr(time, "pthread_getcpuclockid"):
            return 0.0
        return time.clock_gettime(time.pthread_getcpuclockid(thread.ident))

    @contextmanager
    def on(self) -> Iterator[dict[str, Any]]:
        info: dict[str, Any] = {}
        stop = threading.Event()
        polls: list[str] = []

        def poll() -> None:
            while not stop.wait(self.poll_s):
                self.watcher.poll()
                p = self.watcher.projection()
                polls.append("" if p is None else f"{p.fraction:.2f}")

        self.sampler.start()
        sampler_cpu0, first_sample = self._sampler_cpu(), len(self.sample_s)
        self.watcher.begin()
        thread = threading.Thread(target=poll, name="bench-progress-poll", daemon=True)
        thread.start()
        try:
            yield info
        finally:
            stop.set()
            spots = self.sampler.stop()
            # the sampler's own work, on its thread's CPU clock: the time it holds the GIL, at most
            info["sampler_cpu_s"] = self._sampler_cpu() - sampler_cpu0
            info["sampling_s"] = sum(self.sample_s[first_sample:])
            self.watcher.end()
            thread.join()
            info["samples"] = 0 if spots is None else spots.samples
            info["top"] = None if spots is None or not spots.entries else describe(spots.entries[0])
            info["projections"] = sum(1 for x in polls if x)


@contextmanager
def pyinstrument_on() -> Iterator[dict[str, Any]]:
    from pyinstrument import Profiler

    info: dict[str, Any] = {}
    profiler = Profiler()
    profiler.start()
    try:
        yield info
    finally:
        profiler.stop()
        info["render_s"] = _timed(lambda: profiler.output_text())
        info["samples"] = profiler.last_session.sample_count if profiler.last_session else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the plain loop")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--poll-hz", type=float, default=1.0, help="progress polls a second")
    parser.add_argument("--no-pyinstrument", action="store_true", help="leave the peer out")
    args = parser.parse_args()

    ours = Ours(args.poll_hz)
    variants: dict[str, Callable[[], AbstractContextManager[dict[str, Any]]]] = {"off": off, "nbprofile": ours.on}
    try:
        import pyinstrument

        peer = f"pyinstrument {pyinstrument.__version__}"
        if not args.no_pyinstrument:
            variants["pyinstrument"] = pyinstrument_on
    except ImportError:
        peer = "pyinstrument not installed: pip install pyinstrument"
    n = calibrate(args.seconds)
    print(f"cell: {STEPS} tqdm steps of work({n}), ~{args.seconds:g} s; {peer}", flush=True)
    cell(max(100, n // 20))  # warm: tqdm imported, caches filled
    wall: dict[str, list[float]] = {name: [] for name in variants}
    cpu: dict[str, list[float]] = {name: [] for name in variants}
    infos: dict[str, list[dict[str, Any]]] = {name: [] for name in variants}
    for r in range(args.rounds):
        for name in rotated(list(variants), r):
            with variants[name]() as info:
                t0, c0 = time.perf_counter(), time.thread_time()
                cell(n)
                wall[name].append(time.perf_counter() - t0)
                cpu[name].append(time.thread_time() - c0)
            infos[name].append(info)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(f"{k} {v[-1]:.3f} s" for k, v in wall.items()),
              flush=True)
    ours.sampler.close()

    results: dict[str, Any] = {}
    rows = []
    for name in variants:
        w = [a / b for a, b in zip(wall[name], wall["off"])]
        c = [a / b for a, b in zip(cpu[name], cpu["off"])]
        results[name] = {"wall_s": wall[name], "cpu_s": cpu[name], "wall_ratio": w, "cpu_ratio": c,
                         "info": infos[name]}
        rows.append([name, f"{statistics.median(wall[name]):.3f}",
                     f"{statistics.median(w):.4f} ({min(w):.4f} … {max(w):.4f})",
                     f"{statistics.median(c):.4f} ({min(c):.4f} … {max(c):.4f})",
                     str(infos[name][-1].get("samples", "—"))])
    print_table(["variant", "loop s", "wall ratio (min … max)", "CPU ratio (min … max)", "samples"], rows,
                title=f"{args.rounds} rounds; ratio = loop time / off's in the same round, median over rounds")
    last = infos["nbprofile"][-1]
    runs = list(zip(infos["nbprofile"], wall["nbprofile"]))
    sampler_pct = statistics.median(i["sampler_cpu_s"] / w * 100 for i, w in runs)
    holding_pct = statistics.median(i["sampling_s"] / w * 100 for i, w in runs)
    print(f"\nnbprofile: top hot spot {last['top']!r}; {last['projections']} projections at {args.poll_hz:g} Hz; "
          f"the sampler thread's own CPU: {sampler_pct:.2f} % of the loop's wall time (median; "
          f"{last['samples']} samples, {last['sampler_cpu_s'] / max(1, last['samples']) * 1e6:.0f} µs each, "
          f"of which reading and counting the stack {statistics.median(ours.sample_s) * 1e6:.0f} µs)\n"
          f"the sampler holds the GIL (reading and counting) {holding_pct:.2f} % of the loop's wall time "
          f"(median over rounds): the part of the slowdown that no machine noise makes")
    if "pyinstrument" in infos:
        print(f"pyinstrument: rendering its report took {infos['pyinstrument'][-1]['render_s'] * 1e3:.0f} ms more")
    print("target: nbprofile <= 1.01 (issue 16)")
    write_result("long_cell_overhead", {"seconds": args.seconds, "rounds": args.rounds, "poll_hz": args.poll_hz,
                                        "loop_n": n, "steps": STEPS, "variants": results,
                                        "sampler_thread_cpu_pct": sampler_pct, "gil_held_pct": holding_pct})
    return 0


if __name__ == "__main__":
    sys.exit(main())
