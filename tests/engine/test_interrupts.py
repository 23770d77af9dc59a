"""Interrupting the main thread: the user's Ctrl-C always reaches the user, the hang guard stops only a
hung meter, and the ``--enforce`` watchdog looks at its limits as often as designed.

Timed on the watchers' own clocks (how many looks in how long), not on the machine's
speed, so that a loaded machine cannot fail them and a slowed watcher cannot pass.
"""

from __future__ import annotations

import signal
import threading
import time
from typing import Any

import pytest

from nbprofile.budgets.grammar import parse_limit
from nbprofile.engine import hang_guard
from nbprofile.engine.hang_guard import HangGuard
from nbprofile.engine.warn import OnceWarnings
from nbprofile.engine.watchdog import WATCH_INTERVAL_S, Watchdog
from nbprofile.engine.windows import MeterSet
from nbprofile.meters.base import Meter
from nbprofile.readings import Availability, Readings


class Sleeper(Meter):
    """A meter whose begin takes ``seconds`` (a slow sysfs read, a wedged driver)."""

    name = "sleeper"
    keys = ("sleeper_s",)

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    def probe(self) -> Availability:
        return Availability(True, "sleeps")

    def begin(self, key: object) -> None:
        time.sleep(self.seconds)

    def end(self, key: object) -> Readings:
        return {}


def _ctrl_c_after(seconds: float) -> threading.Timer:
    """The user presses Ctrl-C ``seconds`` from now (SIGINT to the main thread, as a terminal sends it)."""
    main = threading.main_thread().ident
    timer = threading.Timer(seconds, lambda: signal.pthread_kill(main, signal.SIGINT))  # type: ignore[arg-type]
    timer.start()
    return timer


def test_a_users_ctrl_c_during_a_meter_call_is_not_swallowed() -> None:
    meters = MeterSet([Sleeper(1.0)], OnceWarnings(), HangGuard(timeout_s=30))
    _ctrl_c_after(0.2)
    with pytest.raises(KeyboardInterrupt):
        meters.open_window("cell")
    assert meters.disabled == {}  # the meter did nothing wrong: it stays on
    meters.close()


def test_the_hang_guard_stops_a_hung_meter_and_switches_it_off(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(hang_guard, "CHECK_INTERVAL_S", 0.05)
    meters = MeterSet([Sleeper(30.0)], OnceWarnings(), HangGuard(timeout_s=0.3))
    started = time.perf_counter()
    with pytest.warns(UserWarning, match="sleeper meter failed in begin: MeterHung"):
        window = meters.open_window("cell")
    assert time.perf_counter() - started < 20  # interrupted, not slept out
    assert "MeterHung" in meters.disabled["sleeper"] and window.faults
    meters.close()


def test_the_watchdog_looks_every_50_ms() -> None:
    """--enforce stops a cell within a look of its limit; a watchdog that looked 4x less often
    would stop cells 4x later. Counted on the watchdog's own thread."""
    looks: list[float] = []

    def elapsed() -> float:
        looks.append(time.perf_counter())
        return 0.0  # never over the limit: the watchdog keeps looking

    watchdog = Watchdog([(parse_limit("time<=1h"), 3600.0)], {"wall_s": elapsed})
    time.sleep(1.0)
    watchdog.stop()
    assert len(looks) >= 2, looks
    mean_gap = (looks[-1] - looks[0]) / (len(looks) - 1)
    # the gaps are the watchdog's sleep plus however late a busy machine wakes it: at least the
    # interval, and never four intervals on average
    assert WATCH_INTERVAL_S <= 0.05 and WATCH_INTERVAL_S * 0.9 <= mean_gap < 3 * WATCH_INTERVAL_S, mean_gap


def test_a_stopped_watchdog_never_interrupts(monkeypatch: pytest.MonkeyPatch) -> None:
    fired: list[Any] = []
    monkeypatch.setattr("nbprofile.engine.interrupt.interrupt_main_thread", lambda: fired.append(1))
    over = threading.Event()
    watchdog = Watchdog([(parse_limit("time<=1ms"), 0.001)], {"wall_s": lambda: 1.0 if over.is_set() else 0.0})
    watchdog.stop()
    over.set()  # the limit is crossed only after the watch ended
    time.sleep(3 * WATCH_INTERVAL_S)
    assert fired == [] and watchdog.crossed is None
