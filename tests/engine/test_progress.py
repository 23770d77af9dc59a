"""The projection from a cell's own progress bar: real tqdm and rich bars driven by a loop of known
per-step cost are found from a watcher thread and project the final time within 15 % by 30 % done;
a budget it will break is named before it breaks; no bar, no projection; a bar of an earlier cell is
not this cell's. The projection's arithmetic and words are checked without time, table-driven."""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import pytest

from nbprofile.budgets.evaluate import LimitVerdict
from nbprofile.budgets.grammar import parse_limit
from nbprofile.engine.progress import (
    Bar,
    ProgressWatcher,
    Projection,
    Range,
    choose,
    describe,
    project,
    will_break,
)
from nbprofile.format import format_duration

tqdm = pytest.importorskip("tqdm")
pytest.importorskip("tqdm.auto")  # the forms are modules of their own
rich_progress = pytest.importorskip("rich.progress")

STEPS, STEP_S = 100, 0.02  # a 2 s loop


@dataclass
class Seen:
    """What the watcher thread saw: (cell elapsed, fraction, projection, limits it says will break)."""

    polls: list[tuple[float, float | None, Projection | None, list[str]]] = field(default_factory=list)
    actual_s: float = 0.0

    def first_at(self, fraction: float) -> tuple[float, float | None, Projection | None, list[str]]:
        return next(p for p in self.polls if p[1] is not None and p[1] >= fraction)


def watched(loop: Callable[[], Any], limits: Iterable[Any] = (), interval_s: float = 0.05,
            watcher: ProgressWatcher | None = None) -> Seen:
    """Run ``loop`` as a cell's body while a thread polls, as the live view's thread will."""
    w = watcher or ProgressWatcher()
    seen, stop = Seen(), threading.Event()
    limits = list(limits)

    def poll() -> None:
        while not stop.wait(interval_s):
            fraction = w.poll()
            p = w.projection(energy_j=30.0 * (time.monotonic() - t0))  # a steady 30 W
            seen.polls.append((time.monotonic() - t0, fraction, p, [] if p is None else will_break(p, limits)))

    t0 = time.monotonic()
    w.begin()
    thread = threading.Thread(target=poll)
    thread.start()
    try:
        loop()
        seen.actual_s = time.monotonic() - t0
    finally:
        stop.set()
        thread.join()
        w.end()
    return seen


def tqdm_loop() -> None:
    for _ in tqdm.tqdm(range(STEPS), file=io.StringIO()):
        time.sleep(STEP_S)


def global_rich_loop() -> None:
    for _ in rich_progress.track(range(STEPS)):
        time.sleep(STEP_S)


@pytest.mark.parametrize("loop", [tqdm_loop, global_rich_loop], ids=["tqdm", "rich-track"])
def test_by_30_percent_the_final_time_is_within_15_percent(loop: Callable[[], None],
                                                           capsys: pytest.CaptureFixture[str]) -> None:
    seen = watched(loop, [parse_limit("time<=1.5s"), parse_limit("energy<=40J")])
    elapsed, fraction, p, breaks = seen.first_at(0.3)
    assert p is not None and fraction is not None and fraction < 0.45, seen.polls
    assert p.final_s.mid == pytest.approx(seen.actual_s, rel=0.15)
    assert p.final_s.low <= p.final_s.mid <= p.final_s.high
    assert p.energy_j is not None and p.energy_j.mid == pytest.approx(30 * seen.actual_s, rel=0.15)
    # named before they break: at 30 % (~0.6 s in) the cell is under both, 0.6 s of 1.5 s, 18 J of 40 J
    assert elapsed < 1.5 and 30 * elapsed < 40
    assert breaks[0] == f"time<=1.5s will be exceeded at ≈ {format_duration(p.final_s.mid)}"
    assert breaks[1].startswith("energy<=40J will be exceeded at ≈ 1.") and "J by the end" in breaks[1]
    late = [q for _, f, q, _ in seen.polls if q is not None and f is not None and f > 0.8]
    assert late and late[-1].final_s.high - late[-1].final_s.low <= p.final_s.high - p.final_s.low  # narrows


def test_nested_bars_count_the_inner_loops_share_of_an_outer_step() -> None:
    def nested() -> None:
        for _ in tqdm.trange(4, file=io.StringIO()):
            for _ in tqdm.auto.tqdm(range(25), file=io.StringIO(), leave=False):
                time.sleep(STEP_S)

    seen = watched(nested)
    _, fraction, p, _ = seen.first_at(0.3)
    assert fraction is not None and fraction < 0.45  # not stuck at 0.25 for a whole outer step
    assert p is not None and p.final_s.mid == pytest.approx(seen.actual_s, rel=0.15)


@pytest.mark.parametrize("make", [
    lambda: tqdm.tqdm(total=10, file=io.StringIO()),
    lambda: tqdm.std.tqdm(total=10, file=io.StringIO()),
    lambda: tqdm.auto.tqdm(total=10, file=io.StringIO()),
    lambda: tqdm.trange(10, file=io.StringIO()),
], ids=["tqdm", "std", "auto", "trange"])
def test_every_tqdm_form_is_found(make: Callable[[], Any]) -> None:
    w = ProgressWatcher()
    w.begin()
    bar = make()
    try:
        bar.update(4)
        assert w.poll() == pytest.approx(0.4)
        assert w.projection() is None  # too early, but observed
        assert w.observations
    finally:
        bar.close()
    assert w.poll() is None  # closed: gone, and with it what was observed: no stale projection
    assert w.observations == []


def test_tqdm_notebook_is_found_where_it_works() -> None:
    pytest.importorskip("ipywidgets")  # tqdm.notebook needs them to make a bar at all
    import tqdm.notebook

    w = ProgressWatcher()
    w.begin()
    bar = tqdm.notebook.tqdm(total=10)
    try:
        bar.update(3)
        assert w.poll() == pytest.approx(0.3)
    finally:
        bar.close()


def test_a_rich_progress_with_several_tasks_is_read_by_its_outer_task() -> None:
    w = ProgressWatcher()
    w.begin()
    with rich_progress.Progress(console=rich_progress.get_console(), auto_refresh=False) as progress:
        outer = progress.add_task("epochs", total=4)
        progress.advance(outer, 1)
        inner = progress.add_task("batches", total=10)
        progress.advance(inner, 5)
        assert w.poll() == pytest.approx((1 + 0.5) / 4)
    assert w.poll() is None  # stopped: gone from the console's live stack


@pytest.mark.parametrize("made", ["console = Console(file=io.StringIO())\n"
                                  "with Progress(console=console, auto_refresh=False) as progress:\n",
                                  "progress = Progress(console=Console(file=io.StringIO()),"
                                  " auto_refresh=False)\n"
                                  "with progress:\n"],
                         ids=["console-in-a-name", "progress-in-a-name"])
def test_a_rich_progress_on_a_console_a_cell_made_is_found(made: str) -> None:
    # a cell runs as module-level code in the notebook's ``__main__`` namespace: run it the same way
    w = ProgressWatcher()
    w.begin()
    cell = ("import io\nfrom rich.console import Console\nfrom rich.progress import Progress\n" + made
            + "    progress.advance(progress.add_task('work', total=4), 1)\n"
            "    seen = poll()\n"
            "after = poll()\n")
    namespace: dict[str, Any] = {"__name__": "__main__", "poll": w.poll}
    exec(compile(cell, "<cell>", "exec"), namespace)
    assert namespace["seen"] == pytest.approx(0.25)
    assert namespace["after"] is None  # stopped: gone from its console's live stack


def test_a_rich_progress_whose_console_only_a_function_holds_is_not_found() -> None:
    # a documented limit: a running function's locals are not read from another thread
    w = ProgressWatcher()
    w.begin()
    console = rich_progress.Console(file=io.StringIO())
    with rich_progress.Progress(console=console, auto_refresh=False) as progress:
        progress.advance(progress.add_task("work", total=4), 1)
        assert w.poll() is None


def test_bars_one_after_another_project_a_floor_to_the_end_of_the_current_bar() -> None:
    clock = [0.0]
    w = ProgressWatcher(clock=lambda: clock[0], min_elapsed_s=0.0)
    w.begin()
    for epoch in range(2):
        bar = tqdm.tqdm(total=10, file=io.StringIO(), mininterval=0)
        try:
            for _ in range(5):
                clock[0] += 1.0
                bar.update(1)
                bar.last_print_t, bar.last_print_n = time.time(), bar.n  # redrawn now, on the test's clock
                w.poll()
        finally:
            bar.close()
        if epoch == 0:
            first = w.projection()
            assert first is not None and first.bars_done == 0
            w.poll()  # the first bar closed: nothing to follow until the next one
    p = w.projection()
    assert p is not None and p.bars_done == 1
    assert describe(p).startswith("bar 2: ") and "≥" in describe(p) and "≈" not in describe(p)
    assert Projection.from_json(p.to_json()).bars_done == 1


def test_without_a_bar_there_is_no_projection() -> None:
    seen = watched(lambda: time.sleep(0.8))
    assert seen.polls and all(f is None and p is None for _, f, p, _ in seen.polls)


def test_a_bar_left_open_by_an_earlier_cell_is_not_this_cells() -> None:
    for _ in tqdm.tqdm(range(10), file=io.StringIO()):  # an earlier cell's finished loop: closed
        pass
    left_open = tqdm.tqdm(total=10, file=io.StringIO())  # an earlier cell's bar, never closed
    left_open.update(7)
    try:
        w = ProgressWatcher()
        w.begin()
        assert w.poll() is None
        left_open.update(1)  # ...until this cell moves it
        assert w.poll() == pytest.approx(0.8)
        assert w.observations[0] == (0.0, pytest.approx(0.7))  # measured from where it was at the start
    finally:
        left_open.close()


def test_the_watcher_is_idle_outside_a_cell() -> None:
    w = ProgressWatcher()
    bar = tqdm.tqdm(total=10, file=io.StringIO())
    try:
        bar.update(5)
        assert w.poll() is None and w.projection() is None
    finally:
        bar.close()


# --- the arithmetic and the words, no time involved ---------------------------------------------


def steady(rate: float, until: float, every: float = 0.1, start: float = 0.0) -> list[tuple[float, float]]:
    """Observations of a bar that does ``rate`` of its work a second from ``start``."""
    n = round((until - start) / every)
    return [(start + i * every, rate * i * every) for i in range(n + 1)]


@pytest.mark.parametrize(("elapsed", "obs", "expected"), [
    (0.4, steady(0.25, 0.4), None),                    # under min_elapsed_s
    (2.0, steady(0.01, 2.0), None),                    # 2 %: under min_fraction
    (2.0, [(0.0, 0.0), (1.9, 0.4)], None),             # two observations: one step's worth
    (2.0, [(0.0, 0.0), (1.0, 0.5), (1.9, 1.0)], None),  # done: nothing left to project
    (2.0, steady(0.25, 2.0), 4.0),                     # half done in 2 s at a steady rate
    (3.0, steady(0.25, 2.0, start=1.0), 5.0),          # a second of setup before the bar: kept
    (10.0, steady(0.25, 2.0), 10.0),                   # stalled past its projection: never before now
])
def test_project(elapsed: float, obs: list[tuple[float, float]], expected: float | None) -> None:
    p = project(elapsed, obs, energy_j=100.0)
    if expected is None:
        assert p is None
        return
    assert p is not None and p.final_s.mid == pytest.approx(expected)
    assert p.left_s == pytest.approx(expected - elapsed)
    assert p.energy_j is not None and p.energy_j.mid == pytest.approx(100.0 * expected / elapsed)
    assert p.co2_g is None and p.cost_usd is None


def test_the_range_comes_from_the_spread_of_rates_and_narrows() -> None:
    # a first quarter at half speed (a warm-up), then steady: mid follows the recent rate
    obs = [(t / 10, 0.05 * t / 10) for t in range(11)] + [(1 + t / 10, 0.05 + 0.1 * t / 10) for t in range(1, 31)]
    early, late = project(2.0, obs[:21]), project(4.0, obs)
    assert early is not None and late is not None
    assert early.final_s.low < early.final_s.mid < early.final_s.high
    assert late.final_s.mid == pytest.approx(4.0 + (1 - 0.35) / 0.1, rel=0.02)  # the recent rate
    assert late.final_s.high - late.final_s.low < early.final_s.high - early.final_s.low


def test_a_coarse_bar_is_not_read_as_stalling() -> None:
    # four steps of 10 s each observed when they happen (tqdm's redraw times)
    p = project(31.0, [(0.0, 0.0), (10.0, 0.1), (20.0, 0.2), (30.0, 0.3)])
    assert p is not None and p.final_s == pytest.approx(Range(100.0, 100.0, 100.0))


P = Projection(0.385, 72.0, 118.0, Range(180.0, 190.0, 220.0), energy_j=Range(140_000.0, 147_600.0, 160_000.0),
               cost_usd=Range(0.1, 0.12, 0.14))


@pytest.mark.parametrize(("projection", "text"), [
    (P, "38 % · 1 min 58 s left · ≈ 3 min 10 s, ≈ 41.0 Wh, ≈ $0.12"),
    (Projection(0.05, 3.0, 57.0, Range(50.0, 60.0, 80.0)), "5 % · 57.0 s left · ≈ 1 min 00 s"),
    (Projection(0.999, 3600.0, 0.4, Range(3600.2, 3600.4, 3601.0), co2_g=Range(2.0, 2.1, 2.2)),
     "99 % · 400 ms left · ≈ 1 h 00 min, ≈ 2.10 g CO2e"),
])
def test_describe(projection: Projection, text: str) -> None:
    assert describe(projection) == text


@pytest.mark.parametrize(("limit", "basis", "expected"), [
    ("time<=3min", "mid", ["time<=3min will be exceeded at ≈ 3 min 10 s"]),
    ("time<=200s", "mid", []),
    ("time<=200s", "high", ["time<=200s will be exceeded at ≈ 3 min 40 s"]),
    ("time<190s", "mid", ["time<190s will be exceeded at ≈ 3 min 10 s"]),  # strict: equal breaks it
    ("energy<=40Wh", "mid", ["energy<=40Wh will be exceeded at ≈ 3 min 05 s (≈ 41.0 Wh by the end)"]),
    ("cost<=$0.50", "high", []),
    ("co2<=1g", "mid", []),       # not projected here: not judged
    ("time<=+10%", "mid", []),    # relative, unresolved: not judged
])
def test_will_break(limit: str, basis: Any, expected: list[str]) -> None:
    assert will_break(P, [parse_limit(limit)], basis=basis) == expected


def test_will_break_judges_a_relative_limit_once_resolved() -> None:
    verdict = LimitVerdict(parse_limit("time<=last+10%"), "pass", 60.0, 165.0, "last +10%: 2 min 30 s")
    assert will_break(P, [verdict]) == ["time<=last+10% will be exceeded at ≈ 3 min 10 s"]


def test_json_round_trip() -> None:
    assert Projection.from_json(P.to_json()) == P
    bare = Projection(0.5, 2.0, 2.0, Range(3.5, 4.0, 4.5))
    assert set(bare.to_json()) == {"f", "t", "left", "wall_s"}
    assert Projection.from_json(bare.to_json()) == bare


def test_choose_prefers_the_outer_unfinished_bar() -> None:
    def bar(k: int, n: float, total: float, started: float) -> Bar:
        return Bar(("tqdm", k, 0), n, total, 0.0, started, started + 1, started)

    assert choose([]) is None
    outer, inner, done = bar(1, 2, 10, 0.0), bar(2, 5, 10, 3.0), bar(3, 10, 10, 1.0)
    assert choose([inner, done, outer]) == (outer, pytest.approx(0.25), 4.0)
    assert choose([done]) == (done, 1.0, 2.0)
    assert math.isclose(choose([bar(4, 1, 3, 0.0)])[1], 1 / 3)  # type: ignore[index]
