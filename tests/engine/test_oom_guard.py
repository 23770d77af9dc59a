"""The OOM guard in process, with a fake RSS and a fake limit: it stops the cell once, past 90 % and not
before, never after the cell ended, beats once a second of its own clock, and sleeps between cells.

Counted on the guard's own looks and clock, never on how fast this machine is: a wait below is only a
bound that a working guard meets at once and a broken one never does.
"""

from __future__ import annotations

import os
import signal
import threading
import time
from collections.abc import Callable, Iterator

import pytest

from nbprofile.engine.oom_guard import OomGuard
from nbprofile.meters.memory_limit import MemoryLimit

MiB, GiB = 1024**2, 1024**3
LIMIT = MemoryLimit(2 * GiB, "cgroup v2 memory.max", physical_bytes=16 * GiB)
UNDER = int(1.79 * GiB)  # below 90 % of 2 GiB (1.8 GiB)
OVER = int(1.84 * GiB)


class FakeRss:
    def __init__(self, value: int) -> None:
        self.value = value

    def __call__(self) -> int:
        return self.value


def wait_until(condition: Callable[[], bool], what: str, timeout_s: float = 30.0) -> None:
    """Sleep in small steps until ``condition``; the bound is for a broken guard, not a slow machine."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"no {what} within {timeout_s} s")
        time.sleep(0.002)


def more_looks(guard: OomGuard, n: int) -> None:
    start = guard.looks
    wait_until(lambda: guard.looks >= start + n, f"{n} more looks")


@pytest.fixture(autouse=True)
def _ctrl_c_handled() -> Iterator[None]:
    """Python's own SIGINT handler, as in a kernel running a cell (a shell's `cmd &` starts with it ignored)."""
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    signal.signal(signal.SIGINT, previous)


@pytest.fixture
def fired(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Interrupts counted instead of sent (each says whether the test's cell was still running)."""
    sent: list[bool] = []
    monkeypatch.setattr("nbprofile.engine.interrupt.interrupt_main_thread", lambda: sent.append(True))
    return sent


def test_it_stops_the_cell_once_past_90_percent_and_not_before() -> None:
    rss = FakeRss(100 * MiB)
    guard = OomGuard(rss, lambda: LIMIT, interval_s=0.005)
    guard.arm()
    try:
        rss.value = UNDER
        more_looks(guard, 20)  # a KeyboardInterrupt here fails the test: it fired below 90 %
        rss.value = OVER
        with pytest.raises(KeyboardInterrupt):  # a real SIGINT to this (main) thread, as Ctrl-C sends
            wait_until(lambda: False, "interrupt")
        more_looks(guard, 20)  # still over, same cell: no second interrupt
    finally:
        message = guard.disarm()
    assert message == (
        "nbprofile's OOM guard stopped this cell at 1.84 GiB, 90 % of the 2.00 GiB this kernel may use "
        "(cgroup v2 memory.max), before the system would kill the kernel; the kernel and its variables are "
        "kept. `%nbprofile oom-guard off` turns this off.")
    assert guard.peak_bytes == OVER
    guard.arm()  # the next cell starts over: no message until the guard fires in it
    assert guard.disarm() is None
    guard.stop()


def test_a_new_cell_over_the_limit_is_stopped_again(fired: list[bool]) -> None:
    guard = OomGuard(FakeRss(OVER), lambda: LIMIT, interval_s=0.002)
    for _ in range(3):
        guard.arm()
        wait_until(lambda: len(fired) > 0, "interrupt")
        more_looks(guard, 5)
        assert guard.disarm() is not None and len(fired) == 1
        fired.clear()
    guard.stop()


def test_no_interrupt_lands_after_the_cell_ended(monkeypatch: pytest.MonkeyPatch) -> None:
    """Cells that end while the guard is deciding: the decision and the signal happen under the lock that
    disarm takes, so none arrives once disarm has returned. A slow RSS read (2 ms) keeps the guard in the
    middle of a look when most cells end."""
    fired: list[bool] = []
    late: list[int] = []
    running = threading.Event()

    def slow_rss() -> int:
        time.sleep(0.002)
        return OVER

    guard = OomGuard(slow_rss, lambda: LIMIT, interval_s=0.001)

    def interrupt() -> None:
        fired.append(True)
        if not running.is_set():
            late.append(len(fired))

    monkeypatch.setattr("nbprofile.engine.interrupt.interrupt_main_thread", interrupt)
    for i in range(60):
        running.set()
        guard.arm()
        if i % 3:
            time.sleep(0.001 * (i % 5))  # some cells end before the first look, some after
        guard.disarm()
        running.clear()
        time.sleep(0.005)  # a look under way at disarm ends in here: its interrupt would be late
    guard.stop()
    assert late == [] and fired, (late, len(fired))


def test_nothing_after_disarm_and_no_wakeups_between_cells(fired: list[bool]) -> None:
    rss = FakeRss(UNDER)
    guard = OomGuard(rss, lambda: LIMIT, interval_s=0.005)
    assert guard.looks == 0 and guard._thread is None  # no thread until a cell runs
    guard.arm()
    more_looks(guard, 3)
    guard.disarm()
    rss.value = 10 * GiB  # over the limit, but no cell is running
    looks, wakeups = guard.looks, guard.wakeups
    time.sleep(0.5)  # 100 intervals: a guard polling while idle would wake up ~100 times
    assert guard.looks == looks and guard.wakeups <= wakeups + 1  # at most the wait that was under way
    assert fired == []
    guard.stop()


def test_one_thread_for_every_cell() -> None:
    def guards() -> set[threading.Thread]:  # other tests' guards may still be ending: compare sets
        return {t for t in threading.enumerate() if t.name == "nbprofile-oom-guard"}

    before = guards()
    guard = OomGuard(FakeRss(UNDER), lambda: LIMIT, interval_s=0.005)
    for _ in range(50):
        guard.arm()
        guard.disarm()
    assert guards() - before == {guard._thread}
    guard.stop()
    assert guard._thread is not None
    guard._thread.join(timeout=30)
    assert not guard._thread.is_alive()


def test_on_beat_comes_once_a_second_of_the_guards_clock_after_the_first_second() -> None:
    """The fake clock moves 1/8 s per look: beats at looks 8, 16, 24, ..., each with the cell's RSS
    high-water mark and its RSS now."""
    now = [0.0]
    looks = [0]
    base = 500 * MiB

    def rss() -> int:
        looks[0] += 1
        now[0] = looks[0] / 8
        k = looks[0]
        return base + min(k, 4) * MiB - max(0, k - 4) * 1024  # up for 4 looks, then slowly down

    beats: list[tuple[int, int]] = []
    guard = OomGuard(rss, lambda: LIMIT, interval_s=0.001, on_beat=lambda hw, cur: beats.append((hw, cur)),
                     clock=lambda: now[0])
    guard.arm()
    more_looks(guard, 50)
    guard.disarm()
    wait_until(lambda: len(beats) == guard.looks // 8, f"{guard.looks // 8} beats (got {len(beats)})")
    assert beats[0] == (base + 4 * MiB, base + 4 * MiB - 4 * 1024)
    guard.stop()


def test_a_failing_on_beat_is_switched_off_and_the_guard_goes_on(fired: list[bool]) -> None:
    now = [0.0]
    rss = FakeRss(UNDER)

    def read() -> int:
        now[0] += 0.5
        return rss.value

    def broken(high: int, current: int) -> None:
        raise OSError("journal disk full")

    guard = OomGuard(read, lambda: LIMIT, interval_s=0.002, on_beat=broken, clock=lambda: now[0])
    guard.arm()
    wait_until(lambda: guard.beat_failure is not None, "beat failure")
    rss.value = OVER
    wait_until(lambda: len(fired) == 1, "interrupt")
    guard.disarm()
    assert "journal disk full" in guard.describe() and guard.failure is None
    guard.stop()


def test_a_forked_child_never_fires(monkeypatch: pytest.MonkeyPatch, fired: list[bool]) -> None:
    guard = OomGuard(FakeRss(OVER), lambda: LIMIT, interval_s=0.002)
    parent = os.getpid()
    monkeypatch.setattr(os, "getpid", lambda: parent + 1)  # what a multiprocessing worker sees
    guard.arm()
    assert guard._thread is None and guard.disarm() is None and fired == []


def test_a_process_that_ignores_ctrl_c_is_not_signalled_and_is_told_so(fired: list[bool]) -> None:
    """SIG_IGN would make the interrupt a no-op and SIG_DFL would end the kernel: neither is sent."""
    guard = OomGuard(FakeRss(OVER), lambda: LIMIT, interval_s=0.002)
    for handler in (signal.SIG_IGN, signal.SIG_DFL):
        signal.signal(signal.SIGINT, handler)
        guard.arm()
        more_looks(guard, 5)
        message = guard.disarm()
        assert fired == [] and message is not None
        assert message.startswith("nbprofile's OOM guard could not stop this cell at 1.84 GiB, 90 % of the "
                                  "2.00 GiB this kernel may use (cgroup v2 memory.max): this process does not "
                                  "handle SIGINT")
    guard.stop()


def test_off_never_interrupts(fired: list[bool]) -> None:
    guard = OomGuard(FakeRss(OVER), lambda: LIMIT, interval_s=0.002, on_beat=lambda hw, cur: None)
    guard.configure(["off"])
    guard.arm()  # still armed for on_beat: RSS is followed, nothing is stopped
    more_looks(guard, 10)
    assert guard.disarm() is None and fired == []
    assert guard.describe().startswith("off (%nbprofile oom-guard on to resume); would stop a cell at 1.80 GiB")
    guard.stop()


def test_without_a_limit_it_stops_nothing_and_says_how_to_set_one(fired: list[bool]) -> None:
    unknown = MemoryLimit(None, "", reason="no memory limit found: cannot read /proc/meminfo")
    rss = FakeRss(100 * GiB)
    guard = OomGuard(rss, lambda: unknown, interval_s=0.002)
    guard.arm()
    more_looks(guard, 10)
    assert guard.disarm() is None and fired == []
    assert guard.describe() == ("on; unknown (no memory limit found: cannot read /proc/meminfo): it stops "
                                "nothing until one is set with %nbprofile oom-guard limit=SIZE")
    guard.configure(["limit=200GiB"])
    rss.value = 190 * GiB
    guard.arm()
    wait_until(lambda: len(fired) == 1, "interrupt")
    assert "(set with %nbprofile oom-guard limit)" in (guard.disarm() or "")
    guard.stop()


def test_an_unreadable_rss_is_said_not_hidden() -> None:
    def gone() -> int:
        raise OSError(9, "Bad file descriptor")

    guard = OomGuard(gone, lambda: LIMIT, interval_s=0.002)
    guard.arm()
    wait_until(lambda: guard.failure is not None, "failure")
    assert guard.describe() == "not working: its thread failed: OSError: [Errno 9] Bad file descriptor"
    guard.arm()  # a broken guard stays out of the cell's way
    assert guard.disarm() is None


def test_settings() -> None:
    guard = OomGuard(FakeRss(300 * MiB), lambda: LIMIT)
    assert guard.describe() == "on; stops a cell at 1.80 GiB of RSS, 90 % of 2.00 GiB (cgroup v2 memory.max)"
    guard.configure(["limit=1GiB", "at=85%"])
    assert (guard.limit_override, guard.fraction, guard.threshold()) == (GiB, 0.85, int(0.85 * GiB))
    assert guard.describe() == ("on; stops a cell at 870 MiB of RSS, 85 % of 1.00 GiB "
                                "(set with %nbprofile oom-guard limit)")
    guard.configure(["limit=auto", "at=90"])
    assert (guard.limit_override, guard.fraction) == (None, 0.9)
    for words, says in [
        (["limit=1XB"], "limit=1XB: unknown unit 'XB' for ram"),
        (["limit=-1GiB"], "cannot be negative"),
        (["limit=0GiB"], "above 0"),
        (["limit=200MiB"], "below the 300 MiB this kernel holds already"),
        (["at=0%"], "at=0% is not a percentage above 0 and below 100"),
        (["at=100%"], "not a percentage"),
        (["at=lots"], "not a percentage"),
        (["on", "off"], "give each setting once"),
        (["at=80%", "at=70%"], "give each setting once"),
        (["sometimes"], "'sometimes' is not a setting; use on, off, limit=SIZE"),
        (["limit=8GiB", "bogus"], "'bogus' is not a setting"),  # a good word before a bad one: nothing applies
    ]:
        with pytest.raises(ValueError) as caught:
            guard.configure(words)
        assert says in str(caught.value) and "\n" not in str(caught.value), (words, str(caught.value))
    assert (guard.enabled, guard.limit_override, guard.fraction) == (True, None, 0.9)


def test_a_fast_growing_cell_is_looked_at_sooner() -> None:
    """At 50 ms between looks, a cell that grows 100 MiB per look has to be looked at sooner near the
    limit; a flat one is looked at every interval."""
    guard = OomGuard(FakeRss(0), lambda: LIMIT, interval_s=0.05)
    assert guard._next_wait(grew=0, headroom=GiB) == 0.05
    assert guard._next_wait(grew=10 * MiB, headroom=GiB) == 0.05  # far from it at this pace
    assert guard._next_wait(grew=100 * MiB, headroom=100 * MiB) == 0.025  # one more look's worth: half the wait
    assert guard._next_wait(grew=GiB, headroom=MiB) == 0.002  # never busier than 500 looks a second
