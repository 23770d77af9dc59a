"""Where a long cell's time goes: a statistical sampler of the main thread's Python stack.

While a cell is armed (:meth:`HotSpotSampler.start`) and once it has run for ``threshold_s``,
one parked daemon thread reads ``sys._current_frames()[main thread]`` every ``interval_s``
(100 Hz by default) and counts, per sample, the innermost *user* function (nbprofile's own
frames, IPython/ipykernel's machinery and threading internals are stepped over, so the top
entry is the user's hot function, not ``run_code``), the line it was on, and the cell line
that led there. No tracing hook and no signal: the user's thread never runs a line of ours.

Why a thread reading frames: ``sys.setprofile`` slows every call of the cell, and a
``SIGPROF`` timer interrupts system calls the cell makes. Reading another thread's frames
needs only the GIL, which a CPU-bound main thread hands over every switch interval (5 ms),
and a thread in ``time.sleep`` or blocking I/O has released already: the sampler sees the
Python frame that called it, so waiting is attributed too.

Cheap on the cell's path: ``start`` and ``stop`` set a few fields under one lock (``start``
wakes the thread only if it is parked); the thread is started once, on the first ``start``,
and waits on a Condition between cells (no wakeups while no cell runs). A cell shorter than
the threshold is never sampled. A sample walks the stack only up to the cell's top level
(what is beyond is the kernel's). Counts live in small dicts keyed by ``id()`` of code
objects, capped at ``max_keys`` distinct keys (the rest is lumped into ``other``). Shares
come from counts, so too few samples (``min_samples``) give no answer rather than a noisy one. A forked child (a ``multiprocessing`` worker) never
samples: its main thread is not the cell, and the parent's lock may be held forever there.
"""

from __future__ import annotations

import math
import os
import re
import sys
import threading
import time
import weakref
from collections.abc import Callable
from types import CodeType, FrameType

from nbprofile.insights import HotSpot, HotSpots, describe
from nbprofile.meters.own_cpu import OwnCpu, counted

__all__ = ["HotSpot", "HotSpotSampler", "HotSpots", "describe", "is_cell_file"]

DEFAULT_INTERVAL_S = 0.01
DEFAULT_THRESHOLD_S = 1.0
DEFAULT_TOP = 5
DEFAULT_MAX_KEYS = 2000
#: below this many samples shares are noise (1/20 = 5 % a sample): no answer instead
DEFAULT_MIN_SAMPLES = 20
#: frames walked per sample: a recursion 10,000 deep would otherwise cost 10,000 steps a sample
MAX_DEPTH = 512
OTHER = "other"
OTHER_KEY = 0  # no object's id
CELL = "<cell>"

#: how IPython (``<ipython-input-3-5f1a…>``) and ipykernel (``/tmp/ipykernel_812/2741.py``) name cells
_CELL_FILE = re.compile(r"^<ipython-input-\d+-[0-9a-f]+>$|ipykernel_\d+[/\\]\d+\.py$")
#: packages whose frames are the kernel's machinery, never the user's hot function
_MACHINERY_MODULES = ("nbprofile", "IPython", "ipykernel", "traitlets", "tornado", "zmq", "jupyter_client",
                      "asyncio", "threading", "runpy", "contextlib", "concurrent")


def is_cell_file(filename: str) -> bool:
    """True for a file name IPython or ipykernel gives a cell's code."""
    return _CELL_FILE.search(filename) is not None


class _Tally:
    """The counts of one cell's samples, keyed by ``id()`` of code objects: a code object's own hash
    digests its bytecode on every call, an int's is free. ``codes`` keeps the counted ones alive,
    so an id is not reused within the cell. No string is built per sample."""

    def __init__(self, max_keys: int) -> None:
        self.max_keys = max_keys
        self.samples = 0
        self.first_t = 0.0
        self.last_t = 0.0
        self.codes: dict[int, CodeType] = {}
        self.own: dict[int, int] = {}                    # innermost user function
        self.total: dict[int, int] = {}                  # anywhere on the stack
        self.lines: dict[tuple[int, int], int] = {}      # (innermost function, its line)
        self.cell_lines: dict[tuple[int, int], int] = {}  # (innermost function, cell line)

    def _key(self, key: int, code: CodeType) -> int:
        if key in self.codes:
            return key
        if len(self.codes) >= self.max_keys:
            return OTHER_KEY
        self.codes[key] = code
        return key

    def add(self, code: CodeType, line: int, cell_line: int | None, on_stack: dict[int, CodeType],
            t: float) -> None:
        if self.samples == 0:
            self.first_t = t
        self.samples += 1
        self.last_t = t
        key = self._key(id(code), code)
        self.own[key] = self.own.get(key, 0) + 1
        for k, c in on_stack.items():
            k = self._key(k, c)
            self.total[k] = self.total.get(k, 0) + 1
        if len(self.lines) < self.max_keys or (key, line) in self.lines:
            self.lines[key, line] = self.lines.get((key, line), 0) + 1
        if cell_line is not None and (len(self.cell_lines) < self.max_keys or (key, cell_line) in self.cell_lines):
            self.cell_lines[key, cell_line] = self.cell_lines.get((key, cell_line), 0) + 1


def _label(code: CodeType | None, cell_file: str | None) -> tuple[str, str]:
    """(function label, file basename) of a counted code object; the cell itself reads ``<cell>``."""
    if code is None:
        return OTHER, OTHER
    name = getattr(code, "co_qualname", code.co_name)  # co_qualname: 3.11+ (``Model.forward``)
    if cell_file is not None and code.co_filename == cell_file:
        return (CELL if code.co_name == "<module>" else f"{CELL}:{name}"), CELL
    base = os.path.basename(code.co_filename)
    return f"{base}:{name}", base


def summarise(tally: _Tally, interval_s: float, cell_file: str | None, top: int) -> HotSpots:
    """The ``top`` functions of ``tally`` by self share."""
    n = tally.samples
    best_line: dict[int, tuple[int, int]] = {}
    for (key, line), count in tally.lines.items():
        if count > best_line.get(key, (-1, 0))[0]:
            best_line[key] = (count, line)
    best_cell: dict[int, tuple[int, int]] = {}
    for (key, line), count in tally.cell_lines.items():
        if count > best_cell.get(key, (-1, 0))[0]:
            best_cell[key] = (count, line)
    entries = []
    for key, count in sorted(tally.own.items(), key=lambda kv: -kv[1])[:top]:
        function, base = _label(tally.codes.get(key), cell_file)
        hot_line = best_line.get(key)
        where = base if hot_line is None else f"{base}:{hot_line[1]}"
        cell = best_cell.get(key)
        entries.append(HotSpot(function, where, count / n, tally.total.get(key, count) / n,
                               None if cell is None else cell[1]))
    covered = tally.last_t - tally.first_t + interval_s
    return HotSpots(n, interval_s, covered, tuple(entries))


def _machinery_dirs() -> tuple[str, ...]:
    """Where the kernel's machinery lives, from what is imported already (nothing is imported here)."""
    found = []
    for name in _MACHINERY_MODULES:
        module = sys.modules.get(name)
        path = getattr(module, "__file__", None)
        if isinstance(path, str):
            # a package: its directory; a module (threading.py): the file itself
            found.append(os.path.dirname(path) + os.sep if path.endswith("__init__.py") else path)
    return tuple(found)


def _at_fork_in_child(sampler: HotSpotSampler) -> None:
    """Mark ``sampler`` as a forked child's copy in the child, without keeping it alive."""
    if not hasattr(os, "register_at_fork"):  # pragma: no cover - Windows: no fork
        return
    ref = weakref.ref(sampler)

    def in_child() -> None:
        found = ref()
        if found is not None:
            found._forked = True

    os.register_at_fork(after_in_child=in_child)


class HotSpotSampler:
    """One per profiler: ``start`` at a cell's start, ``stop`` at its end returns its hot spots."""

    def __init__(self, *, interval_s: float = DEFAULT_INTERVAL_S, threshold_s: float = DEFAULT_THRESHOLD_S,
                 top: int = DEFAULT_TOP, max_keys: int = DEFAULT_MAX_KEYS,
                 min_samples: int = DEFAULT_MIN_SAMPLES, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval_s = interval_s
        self.threshold_s = threshold_s
        self.top = top
        self.max_keys = max_keys
        self.min_samples = min_samples
        #: off: ``start`` does nothing (the opt-out)
        self.enabled = True
        #: the profiler's count of its own threads' CPU: each sample is counted in it (set by the profiler)
        self.own_cpu: OwnCpu | None = None
        #: samples taken over the sampler's life (tests and the doctor read it)
        self.samples_taken = 0
        #: why the thread stopped working; None while it works
        self.failure: str | None = None
        self._clock = clock
        self._cond = threading.Condition(threading.Lock())
        self._thread: threading.Thread | None = None
        self._armed = False
        self._closed = False
        self._forked = False
        self._next_t = 0.0
        self._tally: _Tally | None = None
        #: when the thread looks next (inf: parked until notified); start() wakes it only if later
        self._waiting_until = math.inf
        self._is_cell: Callable[[str], bool] = is_cell_file
        self._cell_file: str | None = None
        self._main_id: int | None = None
        self._machinery: tuple[str, ...] = ()
        self._kind: dict[int, tuple[CodeType, bool, bool]] = {}  # see _kind_of
        _at_fork_in_child(self)

    @property
    def running(self) -> bool:
        """True while a cell is armed."""
        return self._armed

    def start(self, cell_filename_hint: str | Callable[[str], bool] | None = None) -> None:
        """Arm for a cell: sampling begins once it has run ``threshold_s``. O(1) on the cell's path.

        ``cell_filename_hint`` is the cell code's ``co_filename`` or a predicate on file names;
        None recognises IPython's and ipykernel's cell names (:func:`is_cell_file`) and takes
        the outermost such frame as the cell.
        """
        if self._forked or not self.enabled:
            return
        with self._cond:
            if self._closed:
                return
            self._tally = None  # made by the thread at the first sample: nothing for a short cell
            if isinstance(cell_filename_hint, str):
                name = cell_filename_hint
                self._is_cell, self._cell_file = (lambda f: f == name), name
            else:
                self._is_cell, self._cell_file = cell_filename_hint or is_cell_file, None
            self._main_id = threading.main_thread().ident
            self._next_t = self._clock() + self.threshold_s
            self._armed = True
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="nbprofile-hotspots", daemon=True)
                self._thread.start()
            elif self._waiting_until > self._next_t:
                # parked (or waiting past this deadline): wake it to wait for this cell's threshold. In a
                # run of short cells it is already waiting for an earlier deadline: no wakeup per cell
                self._cond.notify()

    def stop(self) -> HotSpots | None:
        """Disarm; the cell's hot spots, or None if it was not sampled enough to say."""
        if self._forked:
            return None
        with self._cond:
            if not self._armed:
                return None
            self._armed = False
            # disarmed under the lock the thread counts under: it no longer writes to this tally. Not
            # woken: it parks when its wait ends, not on the cell's path
            tally, cell_file = self._tally, self._cell_file
        if tally is None or tally.samples < max(1, self.min_samples):
            return None
        return summarise(tally, self.interval_s, cell_file, self.top)

    def close(self) -> None:
        """End the thread (at unload); the sampler does nothing afterwards."""
        with self._cond:
            self._closed, self._armed = True, False
            self._cond.notify()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        try:
            self._loop()
        # any failure, a bug of ours included, must not reach the user's cell: say why, stop sampling
        except Exception as e:  # noqa: BLE001
            self.failure = f"the hot-spot sampler stopped: {type(e).__name__}: {e}"
            with self._cond:
                self._armed, self._closed = False, True

    def _loop(self) -> None:
        # each turn's CPU is nbprofile's, its wakeup's included (most of it: ~140 µs against the
        # sample's ~40 µs on a 2-core VM); a turn parked between cells spends next to none
        while True:
            with counted(self.own_cpu):
                if self._turn():
                    return

    def _turn(self) -> bool:
        """One turn of the thread: park, wait for the threshold, or sample and sleep; True once closed."""
        with self._cond:
            if self._closed:
                return True
            if not self._armed:
                self._waiting_until = math.inf
                self._cond.wait()  # parked between cells
                return False
            now = self._clock()
            wait = self._next_t - now
            self._waiting_until = self._next_t
            if wait > self.interval_s:
                self._cond.wait(wait)  # the threshold: a new cell's earlier one or close wakes it sooner
                return False
            if wait <= 0:
                # under the lock: stop() then never returns while a sample is half counted
                self._sample(now)
                # after a long GIL wait, the next one an interval from now, not a burst of late ones
                self._next_t = max(self._next_t + self.interval_s, now + self.interval_s / 2)
                wait = self._next_t - now
                self._waiting_until = self._next_t
        # between samples a plain sleep, not a Condition wait: half the cost of a wakeup, and a
        # stop needs no waking (the next look sees it disarmed, at most one interval later)
        time.sleep(wait)
        return False

    def _sample(self, now: float) -> None:
        frame = sys._current_frames().get(self._main_id or -1)
        if frame is None:
            return
        tally = self._tally
        if tally is None:
            # once a cell: what was imported may have grown, and the cell's name has changed
            tally = self._tally = _Tally(self.max_keys)
            self._machinery = _machinery_dirs()
            self._kind = {}
        self.samples_taken += 1
        self._count(tally, frame, now)

    def _kind_of(self, code: CodeType) -> tuple[CodeType, bool, bool]:
        """(code, machinery, a cell's code), worked out once a cell per code object; by ``id()``
        (see :class:`_Tally`), checked with ``is`` since a dead code object's id can be reused."""
        kind = self._kind.get(id(code))
        if kind is None or kind[0] is not code:
            name = code.co_filename
            kind = (code, name.startswith(self._machinery) if self._machinery else False, self._is_cell(name))
            if len(self._kind) > 10 * self.max_keys:
                self._kind.clear()  # bounded: a cell that creates code objects endlessly
            self._kind[id(code)] = kind
        return kind

    def _count(self, tally: _Tally, frame: FrameType, now: float) -> None:
        user: FrameType | None = None  # the innermost frame that is not machinery
        on_stack: dict[int, CodeType] = {}
        cells: list[FrameType] = []  # cell frames, innermost first
        depth = 0
        f: FrameType | None = frame
        while f is not None and depth < MAX_DEPTH:
            code = f.f_code
            _, machinery, cell = self._kind_of(code)
            if not machinery:
                on_stack[id(code)] = code
                if user is None:
                    user = f
            if cell:
                cells.append(f)
                if code.co_name == "<module>":
                    break  # the cell's top level: what called it is the kernel's, never the user's
            f = f.f_back
            depth += 1
        if user is None:
            user = frame  # all machinery (the kernel between statements): count it as it is
            on_stack[id(frame.f_code)] = frame.f_code
        cell_file = self._cell_file
        if cell_file is None and cells:
            cell_file = self._cell_file = cells[-1].f_code.co_filename  # the outermost: the cell run
        ours = [c for c in cells if c.f_code.co_filename == cell_file]
        # the cell line that led there: the nearest cell frame outside the function itself
        # (a function defined in the cell shows its call site), else its own line
        led = next((c for c in ours if c is not user), None) or (ours[0] if ours else None)
        cell_line = None if led is None else led.f_lineno or None
        tally.add(user.f_code, user.f_lineno or 0, cell_line, on_stack, now)
