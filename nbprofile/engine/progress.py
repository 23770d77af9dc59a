"""A projection from the cell's own progress bar: its final time, energy, CO2e and dollars.

**Finding the bar, read-only.** Nothing is imported or patched: bars are found only in modules
the cell has imported already (``sys.modules``).

* tqdm (``tqdm``, ``tqdm.auto``, ``tqdm.notebook``, ``trange``, ``tqdm.std`` and every other
  subclass) keeps its open bars in one class-level ``WeakSet``, ``tqdm.std.tqdm._instances``; a
  bar leaves it when closed (a ``for`` loop over a bar closes it at the end). tqdm updates
  ``n`` only when it redraws (every ``mininterval``, 0.1 s); ``last_print_t``/``last_print_n``
  say exactly when it was at that count, which is what the rate is measured from.
* rich: a started ``Progress`` (``track`` starts one) is the renderable of a ``Live`` that its
  console keeps on ``_live_stack``. The consoles looked at: the global one (``rich.get_console()``)
  and those the notebook's own namespace holds (``__main__``'s globals, reached through the main
  thread's frames: ``console = Console()`` or ``progress = Progress(console=...)`` in a cell). A
  ``Progress`` on a console kept only in a function's locals is not found: reading a running
  function's locals from another thread is not safe, and wrapping ``Progress.__init__`` would be a
  patch on the user's path.

The containers are copied with C-level ``list()`` calls, which run under the GIL without a
switch, so the cell's thread is never locked out and no lock of the cell's is taken.

**Which bar.** Only bars created during this cell, or older ones whose count moved during it
(a bar left open by an earlier cell is not this cell's progress). Among unfinished bars with a
known total, the one started first (the outer loop); with a bar started after it still open
(an inner loop), the fraction is ``(outer.n + inner fraction) / outer.total``.

**The method** (:func:`project`). Observations are (seconds since the cell began, fraction),
kept when the fraction rises. The rate ``mid`` is the rate over the last half of the bar's
observed time (it follows a loop that speeds up after a warm-up step); the range takes the
slowest and fastest of the rates over four equal parts of that time, the whole and the last
half (linearly interpolated between observations, so a coarse bar is not read as stalling).
Final time = time of the last observation + (1 - fraction) / rate, never before now. As the
fraction nears 1 the time left, and with it the range, shrinks. Energy, CO2e and dollars are
assumed to keep accruing at their average rate so far: projected = so far × final / elapsed.
No projection before ``min_fraction`` (5 %) and ``min_elapsed_s`` and three observations:
early numbers from one or two steps are noise. A cell that runs bars one after another
(an epoch loop without an outer bar) cannot say how many more will come: its projection is
to the end of the current bar, a lower bound (``bars_done`` says so, and the words say "at
least"); a limit broken by that lower bound is still broken, so warnings stand.
"""

from __future__ import annotations

import itertools
import math
import sys
import threading
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple, TypeGuard

from nbprofile.budgets.evaluate import LimitVerdict
from nbprofile.budgets.limits import Limit
from nbprofile.format import format_co2, format_duration, format_energy, format_usd, format_value

MIN_FRACTION = 0.05
MIN_ELAPSED_S = 0.5
MIN_OBSERVATIONS = 3
#: past this many observations every other one of the older ones is dropped
MAX_OBSERVATIONS = 256
SEGMENTS = 4
#: the quantities projected besides time, by reading key (``metrics.py``), as ``describe`` shows them
QUANTITIES: tuple[tuple[str, Callable[[float], str]], ...] = (
    ("energy_j", format_energy), ("co2_g", format_co2), ("cost_usd", format_usd))

Key = tuple[str, int, int]  # (library, id of the bar or Progress, task id)


class Bar(NamedTuple):
    """One bar read at one moment; times on the watcher's clock."""

    key: Key
    n: float
    total: float
    n0: float        # the count it started at (tqdm's ``initial``)
    started: float
    updated: float   # when it was at ``n`` (tqdm: its last redraw), else when it was read
    origin: float    # its start on its library's own clock: with ``key``, which bar this is

    @property
    def fraction(self) -> float:
        return min(1.0, self.n / self.total)


def _number(x: object) -> TypeGuard[float]:
    return isinstance(x, (int, float)) and math.isfinite(x)


def _tqdm_bars(now: float) -> list[Bar]:
    cls = getattr(sys.modules.get("tqdm.std"), "tqdm", None)
    refs = list(getattr(getattr(cls, "_instances", None), "data", ()))  # the WeakSet's own set of weakrefs
    offset = now - time.time()  # tqdm's clock is time.time(): onto the watcher's
    bars = []
    for ref in refs:
        bar = ref()
        n, total = getattr(bar, "n", None), getattr(bar, "total", None)
        start = getattr(bar, "start_t", None)  # set last in __init__: without it the bar is half made
        if not (_number(n) and _number(total) and _number(start)) or total <= 0 or getattr(bar, "disable", True):
            continue
        last_t, last_n = getattr(bar, "last_print_t", None), getattr(bar, "last_print_n", None)
        updated = last_t + offset if last_n == n and _number(last_t) else now
        initial = getattr(bar, "initial", 0)
        bars.append(Bar(("tqdm", id(bar), 0), float(n), float(total), float(initial) if _number(initial) else 0.0,
                        start + offset, updated, start))
    return bars


def _main_namespaces() -> list[dict[str, Any]]:
    """The ``__main__`` globals on the main thread's stack (IPython's user namespace is one):
    plain dicts, safe to copy from another thread, unlike a running function's locals."""
    frame = sys._current_frames().get(threading.main_thread().ident or -1)
    found: dict[int, dict[str, Any]] = {}
    while frame is not None:
        space = frame.f_globals
        if space.get("__name__") == "__main__":
            found.setdefault(id(space), space)
        frame = frame.f_back
    return list(found.values())


def _rich_consoles(module: Any) -> list[Any]:
    """The global console, then those a cell made and keeps in the notebook's namespace."""
    consoles: dict[int, Any] = {}
    default = getattr(sys.modules.get("rich"), "_console", None)  # get_console()'s, once made
    if default is not None:
        consoles[id(default)] = default
    console_type = getattr(sys.modules.get("rich.console"), "Console", None)
    for space in _main_namespaces():
        for value in list(space.values()):  # one C-level copy: the cell may add names meanwhile
            if isinstance(value, module.Progress):
                value = getattr(getattr(value, "live", None), "console", None)
            if console_type is not None and isinstance(value, console_type):
                consoles.setdefault(id(value), value)
    return list(consoles.values())


def _rich_bars(now: float) -> list[Bar]:
    module = sys.modules.get("rich.progress")
    if module is None:
        return []
    lives = [live for console in _rich_consoles(module) for live in list(getattr(console, "_live_stack", ()))]
    offset = now - time.monotonic()  # rich's clock (Console.get_time) is time.monotonic()
    bars = []
    for live in lives:
        progress = getattr(getattr(live, "_get_renderable", None), "__self__", None)
        if not isinstance(progress, module.Progress):
            continue
        for task in list(getattr(progress, "_tasks", {}).values()):
            n, total, start = task.completed, task.total, task.start_time
            if not (_number(n) and _number(total) and _number(start)) or total <= 0:
                continue
            started = min(start + offset, now)  # a get_time of the user's own: its clock is unknown
            updated = now
            samples = getattr(task, "_progress", None)  # (timestamp, advance) of its recent updates
            try:
                if samples:
                    updated = min(samples[-1].timestamp + offset, now)
            except IndexError:  # emptied by the cell's thread (a reset) between the check and the read
                pass
            bars.append(Bar(("rich", id(progress), int(task.id)), float(n), float(total), 0.0, started, updated,
                            start))
    return bars


def read_bars(now: float) -> list[Bar]:
    """Every open tqdm bar and started rich task, with a known total, read at ``now`` (monotonic)."""
    return _tqdm_bars(now) + _rich_bars(now)


def choose(bars: Sequence[Bar]) -> tuple[Bar, float, float] | None:
    """(the outer bar, fraction done, when it was there): the outer loop, plus an inner one's share."""
    running = [b for b in bars if b.n < b.total]
    if not running:
        return (max(bars, key=lambda b: b.started), 1.0, max(b.updated for b in bars)) if bars else None
    outer = min(running, key=lambda b: b.started)
    inner = [b for b in running if b is not outer and b.started >= outer.started]
    if not inner:
        return outer, outer.fraction, outer.updated
    last = max(inner, key=lambda b: b.started)
    return outer, min(1.0, (outer.n + last.fraction) / outer.total), max(outer.updated, last.updated)


class Range(NamedTuple):
    low: float
    mid: float
    high: float


@dataclass(frozen=True)
class Projection:
    """Where a running cell is heading: ``final_s`` is the cell's projected wall time."""

    fraction: float
    elapsed_s: float
    left_s: float
    final_s: Range
    energy_j: Range | None = None
    co2_g: Range | None = None
    cost_usd: Range | None = None
    #: bars this cell finished before the current one: when > 0 the cell runs bars one after
    #: another, and the projection is to the end of the current bar only, a lower bound
    bars_done: int = 0

    def projected(self, key: str) -> Range | None:
        """The projected range of a reading key (``wall_s`` is the time), None if not projected."""
        if key == "wall_s":
            return self.final_s
        return getattr(self, key, None) if key in dict(QUANTITIES) else None

    def to_json(self) -> dict[str, Any]:
        """Compact, for the record: ranges as ``[low, mid, high]``, absent quantities left out."""
        out: dict[str, Any] = {"f": round(self.fraction, 4), "t": round(self.elapsed_s, 3),
                               "left": round(self.left_s, 3), "wall_s": [round(x, 3) for x in self.final_s]}
        for key, _ in QUANTITIES:
            span = getattr(self, key)
            if span is not None:
                out[key] = [float(f"{x:.4g}") for x in span]
        if self.bars_done:
            out["bars_done"] = self.bars_done
        return out

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> Projection:
        spans = {key: Range(*map(float, d[key])) for key, _ in QUANTITIES if d.get(key) is not None}
        return cls(float(d["f"]), float(d["t"]), float(d["left"]), Range(*map(float, d["wall_s"])), **spans,
                   bars_done=int(d.get("bars_done", 0)))


def _at(observations: Sequence[tuple[float, float]], t: float) -> float:
    """The fraction at ``t``, linearly interpolated between observations."""
    prev_t, prev_f = observations[0]
    for obs_t, obs_f in observations[1:]:
        if obs_t >= t:
            return prev_f if obs_t == prev_t else prev_f + (obs_f - prev_f) * (t - prev_t) / (obs_t - prev_t)
        prev_t, prev_f = obs_t, obs_f
    return prev_f


def project(elapsed_s: float, observations: Sequence[tuple[float, float]], *,
            energy_j: float | None = None, co2_g: float | None = None, cost_usd: float | None = None,
            min_fraction: float = MIN_FRACTION, min_elapsed_s: float = MIN_ELAPSED_S,
            bars_done: int = 0) -> Projection | None:
    """Project a cell ``elapsed_s`` into its run from ``observations`` (seconds since the cell
    began, fraction done; rising) and the quantities so far; None when it is too early to say.
    ``bars_done``: bars the cell finished before this one (the projection is then a lower bound)."""
    if len(observations) < MIN_OBSERVATIONS or elapsed_s < min_elapsed_s:
        return None
    (t_first, f_first), (t_last, f_last) = observations[0], observations[-1]
    if not min_fraction <= f_last < 1 or t_last <= t_first or f_last <= f_first or elapsed_s <= 0:
        return None
    span = t_last - t_first
    bounds = [t_first + span * i / SEGMENTS for i in range(SEGMENTS + 1)]
    fractions = [_at(observations, t) for t in bounds]
    rates = [(b - a) * SEGMENTS / span for a, b in itertools.pairwise(fractions)]
    recent = (f_last - _at(observations, t_first + span / 2)) * 2 / span  # over the last half
    overall = (f_last - f_first) / span
    mid = recent if recent > 0 else overall
    candidates = [r for r in (*rates, recent, overall) if r > 0]
    left = 1.0 - f_last

    def final(rate: float) -> float:
        return max(elapsed_s, t_last + left / rate)

    final_s = Range(final(max(candidates)), final(mid), final(min(candidates)))
    spans: dict[str, Range | None] = {}
    for key, so_far in (("energy_j", energy_j), ("co2_g", co2_g), ("cost_usd", cost_usd)):
        ok = so_far is not None and math.isfinite(so_far)
        spans[key] = Range(*(so_far * f / elapsed_s for f in final_s)) if ok and so_far is not None else None
    return Projection(f_last, elapsed_s, final_s.mid - elapsed_s, final_s, **spans, bars_done=bars_done)


def describe(projection: Projection) -> str:
    """``38 % · 1 min 12 s left · ≈ 3 min 10 s, ≈ 41.0 Wh, ≈ $0.12`` (what is known, mid values).

    After bars one after another, what is known is a floor: ``bar 3: 38 % · 1 min 12 s left in
    it · ≥ 3 min 10 s, ≥ 41.0 Wh``."""
    mark = "≥" if projection.bars_done else "≈"
    parts = [f"{mark} {format_duration(projection.final_s.mid)}"]
    for key, fmt in QUANTITIES:
        span = getattr(projection, key)
        if span is not None:
            parts.append(f"{mark} {fmt(span.mid)}")
    left = format_duration(projection.left_s)
    done = f"{math.floor(projection.fraction * 100)} %"
    if projection.bars_done:
        return f"bar {projection.bars_done + 1}: {done} · {left} left in it · {', '.join(parts)}"
    return f"{done} · {left} left · {', '.join(parts)}"


def will_break(projection: Projection, limits: Iterable[Limit | LimitVerdict], *,
               basis: Literal["low", "mid", "high"] = "mid") -> list[str]:
    """The limits the ``basis`` end of the projection breaks, one line each:
    ``time<=3min will be exceeded at ≈ 3 min 10 s``, ``energy<=40Wh will be exceeded at ≈ 3 min
    05 s (≈ 41.0 Wh by the end)``. A relative limit counts only as a verdict (its threshold
    resolved against an earlier run); one not projected (no such quantity) is passed over."""
    lines = []
    for item in limits:
        if isinstance(item, LimitVerdict):
            limit, threshold = item.limit, item.threshold
        else:
            limit, threshold = item, (None if item.relative else item.value)
        span = projection.projected(limit.metric.key)
        if threshold is None or span is None:
            continue
        value: float = getattr(span, basis)
        if not (value > threshold if limit.op == "<=" else value >= threshold):
            continue
        if limit.metric.key == "wall_s":
            lines.append(f"{limit.text} will be exceeded at ≈ {format_duration(value)}")
            continue
        # it accrues at its average rate: it reaches the threshold at that share of the final time
        final: float = getattr(projection.final_s, basis)
        when = final * threshold / value if value > 0 else final
        lines.append(f"{limit.text} will be exceeded at ≈ {format_duration(when)} "
                     f"(≈ {format_value(value, limit.metric.unit)} by the end)")
    return lines


class ProgressWatcher:
    """One per profiler: ``begin`` at a cell's start, ``poll`` from a watcher thread (about once a
    second is plenty), ``projection`` when a number is wanted, ``end`` at the cell's end."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 read: Callable[[float], list[Bar]] = read_bars, min_fraction: float = MIN_FRACTION,
                 min_elapsed_s: float = MIN_ELAPSED_S) -> None:
        self.min_fraction = min_fraction
        self.min_elapsed_s = min_elapsed_s
        self._clock = clock
        self._read = read
        self._t0: float | None = None
        self._before: dict[Key, tuple[float, float]] = {}
        self._bar: Key | None = None
        self._obs: list[tuple[float, float]] = []
        self._seen: set[Key] = set()  # the bars this cell has followed, one after another

    @property
    def observations(self) -> list[tuple[float, float]]:
        """(seconds since the cell began, fraction) of this cell's bar, oldest first."""
        return self._obs

    def begin(self) -> None:
        """At a cell's start (its thread): note the bars open now, which are not this cell's unless they move."""
        now = self._clock()
        self._before = {b.key: (b.n, b.origin) for b in self._read(now)}
        self._bar, self._obs, self._seen, self._t0 = None, [], set(), now

    def end(self) -> None:
        """At a cell's end: forget its bars."""
        self._t0, self._bar, self._obs, self._before, self._seen = None, None, [], {}, set()

    def poll(self) -> float | None:
        """Read the bars (any thread; read-only); the fraction done of this cell's bar, or None."""
        t0, before = self._t0, self._before
        if t0 is None:
            return None
        now = self._clock()
        # a bar open at the start is this cell's only once it moves; a new bar with a dead one's id is new
        ours = [b for b in self._read(now) if b.key not in before or before[b.key] != (b.n, b.origin)]
        chosen = choose(ours)
        if chosen is None:
            if self._t0 == t0:  # the bar closed: what the cell does now has no progress to project
                self._bar, self._obs = None, []
            return None
        bar, fraction, when = chosen
        obs = self._obs
        if bar.key != self._bar:  # a new outer bar: its own history, from where it began
            first = before.get(bar.key)
            obs = ([(0.0, first[0] / bar.total)] if first is not None
                   else [(max(0.0, bar.started - t0), min(1.0, bar.n0 / bar.total))])
        if fraction > obs[-1][1]:
            obs = [*obs, (max(obs[-1][0], when - t0), fraction)]
            if len(obs) > MAX_OBSERVATIONS:
                obs = obs[:1] + obs[1:-1:2] + obs[-1:]
        if self._t0 == t0:  # not ended (or begun anew) meanwhile: a new list, never one being read
            self._bar, self._obs, self._seen = bar.key, obs, self._seen | {bar.key}
        return fraction

    def projection(self, *, energy_j: float | None = None, co2_g: float | None = None,
                   cost_usd: float | None = None) -> Projection | None:
        """The projection now, from the bar's observations and the quantities so far (read now)."""
        t0, obs, seen = self._t0, self._obs, self._seen
        if t0 is None:
            return None
        return project(self._clock() - t0, obs, energy_j=energy_j, co2_g=co2_g, cost_usd=cost_usd,
                       min_fraction=self.min_fraction, min_elapsed_s=self.min_elapsed_s,
                       bars_done=max(0, len(seen) - 1))
