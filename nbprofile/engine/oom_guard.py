"""The OOM guard: stop a cell, as Ctrl-C would, before the system kills the kernel for memory.

A kernel killed by the OOM killer loses every variable and says only "the kernel
died" (jupyter/notebook#2429: which cell killed my kernel?). While a cell runs,
the guard's one thread compares the kernel's RSS with the memory it may really
use (:mod:`nbprofile.meters.memory_limit`: the cgroup's limit, else what the
machine has left) and, at ``fraction`` of it (90 % by default), interrupts the
main thread once: the cell stops with ``KeyboardInterrupt`` and the kernel, with
its variables, lives on. :meth:`OomGuard.disarm` returns the message that says so.

Cheap on the cell's path: :meth:`~OomGuard.arm` and :meth:`~OomGuard.disarm` set a
few fields and an Event. The thread, started on the first ``arm``, parks on that
Event between cells (no wakeups while no cell runs) and, while one runs, reads
RSS (one ``pread`` of a kept-open ``/proc/self/statm``, ~1 µs) every
``interval_s``, sooner as RSS nears the threshold fast: a cell that allocates
1 GB/s passes 100 MB in 0.1 s, two looks at the default interval. The limit
itself is re-read every :data:`LIMIT_REFRESH_S`, never per look. A call into C
code that allocates without returning to Python (one huge NumPy operation) is
interrupted only when it returns; nothing inside the process can stop it sooner.

The interrupt follows :class:`~nbprofile.engine.interrupt.Watcher`'s rule: the
decision and the signal happen under :attr:`~OomGuard.lock`, which ``disarm``
takes too, so no interrupt lands after the cell ended. A forked child (a
``multiprocessing`` worker) inherits the guard but never fires it: its RSS is
not the kernel's, and its main thread is not the cell. Nor is a signal sent to a
process that does not handle SIGINT: ignored, it would do nothing; left to the OS,
it would end the kernel. The message then says the cell could not be stopped.

What it compares is the kernel's own RSS: a cgroup also counts its page cache and
the other processes in it (a DataLoader's workers), so with those the kernel can
be killed below the threshold; the guard stops what the kernel itself allocates.
"""

from __future__ import annotations

import math
import os
import signal
import threading
import time
from collections.abc import Callable

from nbprofile.engine import interrupt
from nbprofile.engine.interrupt import Watcher, absorb_pending_interrupt
from nbprofile.format import format_bytes
from nbprofile.meters.memory import _psutil_reader, _statm_reader  # the one RSS reader the package has
from nbprofile.meters.memory_limit import MemoryLimit, discover_memory_limit
from nbprofile.meters.own_cpu import OwnCpu, counted

DEFAULT_FRACTION = 0.9
DEFAULT_INTERVAL_S = 0.05
#: the limit moves only when other processes take or free memory: seconds between re-reads
LIMIT_REFRESH_S = 5.0
#: ``on_beat`` comes at most this often, once a cell has run this long
BEAT_INTERVAL_S = 1.0
#: the shortest wait between looks, when RSS nears the threshold fast
MIN_INTERVAL_S = 0.002


def _default_rss_reader() -> Callable[[], int] | None:
    return _statm_reader() or _psutil_reader()


class OomGuard(Watcher):
    """One per profiler: watches RSS while a cell is armed, interrupts it once near the limit."""

    def __init__(self, read_rss: Callable[[], int] | None = None,
                 limits: Callable[[], MemoryLimit] | None = None, *, fraction: float = DEFAULT_FRACTION,
                 interval_s: float = DEFAULT_INTERVAL_S, on_beat: Callable[[int, int], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__("nbprofile-oom-guard", interval_s)
        #: off: never interrupts (RSS is still followed for ``on_beat``)
        self.enabled = True
        self.fraction = fraction
        #: bytes set by ``%nbprofile oom-guard limit=SIZE``; None: the discovered limit
        self.limit_override: int | None = None
        self.on_beat = on_beat
        #: why the guard stopped working (RSS unreadable, its thread failed); None while it works
        self.failure: str | None = None
        #: why ``on_beat`` was switched off (it raised); the guard itself goes on
        self.beat_failure: str | None = None
        #: the highest RSS seen in the cell armed last (None before its first look)
        self.peak_bytes: int | None = None
        self.looks = 0  # RSS reads, for tests and the doctor
        self.wakeups = 0  # times the thread woke up, armed or not: none while parked
        self._read_rss = read_rss if read_rss is not None else _default_rss_reader()
        if self._read_rss is None:
            self.failure = "cannot read this process's RSS (no /proc/self/statm, no psutil)"
        self._limits = limits if limits is not None else discover_memory_limit
        self._clock = clock
        self._pid = os.getpid()
        self._armed = threading.Event()
        self._cell = 0  # bumped by each arm(): which cell the fields below belong to
        self._fired: int | None = None  # the cell the guard interrupted
        self._message: str | None = None
        self._armed_at = self._last_beat = 0.0
        self._now_bytes = 0
        self._limit: MemoryLimit | None = None
        self._limit_read_at = 0.0
        self._wait_s = interval_s
        #: the profiler's count of its own threads' CPU (set by the profiler; :mod:`nbprofile.meters.own_cpu`)
        self.own_cpu: OwnCpu | None = None

    # -- the cell's path -----------------------------------------------------
    def arm(self) -> None:
        """A cell starts: watch it. A few µs; the thread is started on the first call only."""
        if (self.failure is not None or os.getpid() != self._pid or self._stopped.is_set()
                or not (self.enabled or self.on_beat)):
            return
        with self.lock:
            self._cell += 1
            self._fired = self._message = self.peak_bytes = None
            self._armed_at = self._last_beat = self._clock()
            self._wait_s = self.interval_s
        self.start()
        self._armed.set()

    def disarm(self) -> str | None:
        """The cell ended: stop watching. The message, if the guard interrupted this cell;
        its peak RSS is :attr:`peak_bytes`. No interrupt is sent once this returns."""
        with self.lock:
            self._armed.clear()
            message = self._message if self._fired == self._cell else None
        if message is not None and threading.current_thread() is threading.main_thread():
            absorb_pending_interrupt()  # one sent as the cell ended surfaces here, not in the next line
        return message

    def stop(self) -> None:
        """End the thread (the profiler closes); no interrupt is sent once this returns."""
        with self.lock:
            self._stopped.set()
        self._armed.set()  # wake the parked thread so that it sees the stop

    # -- settings and status ---------------------------------------------------
    def limit(self) -> MemoryLimit:
        """The limit in force: the override, or the discovered one (re-read every LIMIT_REFRESH_S)."""
        if self.limit_override is not None:
            return MemoryLimit(self.limit_override, "set with %nbprofile oom-guard limit")
        now = self._clock()
        known = self._limit
        if known is None or now - self._limit_read_at >= LIMIT_REFRESH_S:
            known = self._limits()
            self._limit, self._limit_read_at = known, now
        return known

    def threshold(self) -> int | None:
        """The RSS at which a cell is stopped, in bytes; None without a limit."""
        limit = self.limit().limit_bytes
        return None if limit is None else int(limit * self.fraction)

    def describe(self) -> str:
        """One line for ``%nbprofile status`` and ``%nbprofile oom-guard``."""
        if self.failure is not None:
            return f"not working: {self.failure}"
        limit = self.limit()
        state = "on" if self.enabled else "off (%nbprofile oom-guard on to resume)"
        if limit.limit_bytes is None:
            return (f"{state}; {limit.describe()}: it stops nothing until one is set with "
                    "%nbprofile oom-guard limit=SIZE")
        at = int(limit.limit_bytes * self.fraction)
        stops = "stops" if self.enabled else "would stop"
        beat = f" ({self.beat_failure})" if self.beat_failure else ""
        return (f"{state}; {stops} a cell at {format_bytes(at)} of RSS, {_percent(self.fraction)} of "
                f"{limit.describe()}{beat}")

    def configure(self, words: list[str]) -> None:
        """Apply ``on``, ``off``, ``limit=SIZE`` (``limit=auto``: the discovered one) and ``at=PCT%``.

        Every word is checked before any applies, so a bad one (a ValueError that says
        what would be right) changes nothing.
        """
        enabled, limit, fraction = self.enabled, self.limit_override, self.fraction
        seen: set[str] = set()
        for word in words:
            key, eq, value = word.partition("=")
            key = word if word in ("on", "off") else key
            if key in seen or (key in ("on", "off") and {"on", "off"} & seen):
                raise ValueError(f"{word!r}: give each setting once")
            seen.add(key)
            if key in ("on", "off"):
                enabled = key == "on"
            elif key == "limit" and eq:
                limit = None if value == "auto" else _parse_size(value)
            elif key == "at" and eq:
                fraction = _parse_percent(value)
            else:
                raise ValueError(f"{word!r} is not a setting; use on, off, limit=SIZE (e.g. limit=8GiB, "
                                 "or limit=auto for the discovered one) or at=PCT% (e.g. at=85%)")
        rss = self.rss_now()
        if limit is not None and rss is not None and limit * fraction <= rss:
            raise ValueError(f"a limit of {format_bytes(limit)} at {_percent(fraction)} is below the "
                             f"{format_bytes(rss)} this kernel holds already: every cell would be stopped; "
                             "choose a larger limit, or limit=auto")
        self.enabled, self.limit_override, self.fraction = enabled, limit, fraction

    def rss_now(self) -> int | None:
        """The process's RSS now, in bytes; None where it cannot be read."""
        return None if self._read_rss is None else self._read_rss()

    # -- the thread --------------------------------------------------------------
    def look(self) -> bool:
        """One look, with :attr:`lock` held and a cell armed: True to interrupt it now."""
        assert self._read_rss is not None
        rss = self._read_rss()
        self.looks += 1
        self.peak_bytes = rss if self.peak_bytes is None else max(self.peak_bytes, rss)
        before, self._now_bytes = self._now_bytes, rss
        if not self.enabled or self._fired == self._cell or os.getpid() != self._pid:
            self._wait_s = self.interval_s
            return False
        limit = self._limit if self.limit_override is None else self.limit()
        if limit is None or limit.limit_bytes is None:
            return False
        threshold = int(limit.limit_bytes * self.fraction)
        if rss < threshold:
            self._wait_s = self._next_wait(rss - before, threshold - rss)
            return False
        self._fired = self._cell
        where = (f"at {format_bytes(rss)}, {_percent(self.fraction)} of the {format_bytes(limit.limit_bytes)} "
                 f"this kernel may use ({limit.source})")
        # SIGINT ignored (SIG_IGN) would do nothing, and left to the OS (SIG_DFL) would end the
        # process: the very thing the guard is there to prevent
        if not callable(signal.getsignal(signal.SIGINT)):
            self._message = (f"nbprofile's OOM guard could not stop this cell {where}: this process does not "
                             "handle SIGINT (Ctrl-C), so the system may kill the kernel.")
            return False
        self._message = (f"nbprofile's OOM guard stopped this cell {where}, before the system would kill "
                         "the kernel; the kernel and its variables are kept. "
                         "`%nbprofile oom-guard off` turns this off.")
        return True

    def _next_wait(self, grew: int, headroom: int) -> float:
        """Look sooner when, at the last wait's pace, RSS would pass the threshold before the next look."""
        if grew <= 0:
            return self.interval_s
        wait = self._wait_s * headroom / grew / 2  # half the time it would take, at this pace
        return max(MIN_INTERVAL_S, min(self.interval_s, wait))

    def _run(self) -> None:
        try:
            self._watch()
        except Exception as exc:  # a broken reader or limit source: say so in describe(), stop watching
            self.failure = f"its thread failed: {type(exc).__name__}: {exc}"
            self._armed.clear()

    def _watch(self) -> None:
        while True:
            # each turn's CPU is nbprofile's, not the cell's: the wakeup, the look, the beat and the
            # live view it drives (a turn parked between cells spends next to none)
            with counted(self.own_cpu):
                self._armed.wait()  # parked between cells: no wakeups
                if self._stopped.wait(self._wait_s):
                    return
                self.wakeups += 1
                if self._wake_once():
                    return

    def _wake_once(self) -> bool:
        """One wakeup's work; True once the guard is stopped."""
        if not self._armed.is_set():
            return False  # the cell ended during the wait
        if self.limit_override is None and (
                self._limit is None or self._clock() - self._limit_read_at >= LIMIT_REFRESH_S):
            self.limit()  # file reads (~100 µs): outside the lock, so disarm never waits on them
        beat: tuple[int, int] | None = None
        with self.lock:
            if self._stopped.is_set():
                return True
            if not self._armed.is_set():
                return False
            if self.look():
                interrupt.interrupt_main_thread()
            now = self._clock()
            if (self.on_beat is not None and now - self._armed_at >= BEAT_INTERVAL_S
                    and now - self._last_beat >= BEAT_INTERVAL_S):
                self._last_beat = now
                beat = (self.peak_bytes or 0, self._now_bytes)
        if beat is not None:
            self._beat(*beat)  # outside the lock: the journal's write must not delay disarm
        return False

    def _beat(self, high: int, now: int) -> None:
        assert self.on_beat is not None
        try:
            self.on_beat(high, now)
        except Exception as exc:  # the journal's fault, not the cell's: stop beating, keep guarding
            self.on_beat = None
            self.beat_failure = f"on_beat failed and was switched off: {type(exc).__name__}: {exc}"


def _percent(fraction: float) -> str:
    return f"{fraction * 100:.4g} %"


def _parse_size(text: str) -> int:
    """``8GiB`` / ``512MB`` → bytes, in the budget grammar's units (what ``ram<=`` takes)."""
    from nbprofile.budgets.grammar import (
        parse_limit,  # the grammar loads with the first setting, not the kernel
    )
    from nbprofile.budgets.limits import BudgetSyntaxError

    try:
        size = int(parse_limit(f"ram<={text}").value)
    except BudgetSyntaxError as exc:
        raise ValueError(f"limit={text}: {str(exc).split(': ', 1)[-1]}") from None
    if size <= 0:
        raise ValueError(f"limit={text}: a limit must be above 0 (use e.g. limit=8GiB)")
    return size


def _parse_percent(text: str) -> float:
    try:
        percent = float(text.removesuffix("%").strip())
    except ValueError:
        percent = math.nan
    if not 0 < percent < 100:  # NaN fails this too
        raise ValueError(f"at={text} is not a percentage above 0 and below 100 (use e.g. at=85%)")
    return percent / 100
