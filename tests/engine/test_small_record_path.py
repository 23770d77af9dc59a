"""Small things on the record path a user sees: a warning is one line, an enforced budget stops a
script that ignores SIGINT (nohup, &), and a window's end RSS is never above its peak."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest

import nbprofile
from nbprofile.errors import NbprofileError
from nbprofile.meters import memory
from nbprofile.meters.memory import PeakRss

MiB = 1024**2
ROOT = Path(__file__).resolve().parents[2]


def _python(script: str, tmp_path: Path, *, ignore_sigint: bool = False) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NBPROFILE_DB": str(tmp_path / "records.db"), "PYTHONPATH": str(ROOT)}

    def ignore() -> None:  # as nohup and a non-interactive shell's & start a process
        signal.signal(signal.SIGINT, signal.SIG_IGN)

    return subprocess.run([sys.executable, "-c", textwrap.dedent(script)], capture_output=True, text=True,
                          env=env, cwd=tmp_path, timeout=60, check=False,
                          preexec_fn=ignore if ignore_sigint else None)


# -- warnings ---------------------------------------------------------------------------------------

def test_a_meter_failure_warns_in_one_line(tmp_path: Path) -> None:
    """What a script's user sees on stderr: the warning, and no line of nbprofile's source under it."""
    done = _python("""
        import nbprofile
        from nbprofile.engine.current import process_profiler
        from nbprofile.meters.base import Meter
        from nbprofile.readings import Availability

        class Exploding(Meter):
            name = "exploding"
            keys = ("boom_s",)
            def probe(self):
                return Availability(True, "test meter")
            def begin(self, key):
                raise OSError("device went away")
            def end(self, key):
                return {}

        profiler = process_profiler()
        profiler.windows.meters.insert(0, Exploding())
        profiler.windows.order_meters()
        with nbprofile.measure("block", store=False):
            pass
        profiler.warn_once("store", "the record store is locked;\\nrecords are kept in memory")
        print("done")
    """, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "done"
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert len(lines) == 2, done.stderr  # two warnings, one line each
    assert "NbprofileWarning: nbprofile: exploding meter failed" in lines[0]
    assert lines[1].endswith("NbprofileWarning: nbprofile: the record store is locked; records are kept in memory")


def test_other_warnings_keep_pythons_format(capsys: pytest.CaptureFixture[str]) -> None:
    import warnings

    from nbprofile.engine.warn import OnceWarnings

    shown: list[str] = []

    def show(message: Warning | str, category: type[Warning], filename: str, lineno: int,
             file: object = None, line: str | None = None) -> None:
        shown.append(warnings.formatwarning(message, category, filename, lineno, line))

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show
        OnceWarnings().warn("k", "a meter failed")
        warnings.warn("the user's own", UserWarning, stacklevel=1)
    ours, theirs = shown
    assert ours.count("\n") == 1 and ours.endswith("NbprofileWarning: nbprofile: a meter failed\n")
    # the user's warning still quotes its source line, as Python always does
    assert theirs.count("\n") == 2 and 'warnings.warn("the user\'s own"' in theirs


# -- an enforced budget where SIGINT is ignored ---------------------------------------------------

@pytest.mark.parametrize("start", ["ignored", "default"])
def test_enforce_stops_a_block_where_sigint_is_ignored(tmp_path: Path, start: str) -> None:
    """A broken product spins for the whole 10 s and says so; a working one stops at 0.3 s."""
    done = _python(f"""
        import signal, time
        import nbprofile
        if {start == "default"}:
            signal.signal(signal.SIGINT, signal.SIG_DFL)
        before = signal.getsignal(signal.SIGINT)
        print("before", before.name)
        t0 = time.monotonic()
        try:
            with nbprofile.budget("time<=0.3s", enforce=True):
                while time.monotonic() - t0 < 10:
                    pass
            print("not stopped")
        except nbprofile.BudgetExceeded as exc:
            print("stopped:", exc)
        print("restored", signal.getsignal(signal.SIGINT) is before)
    """, tmp_path, ignore_sigint=start == "ignored")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == ("before SIG_IGN" if start == "ignored" else "before SIG_DFL")
    assert lines[1].startswith("stopped: stopped by --enforce: time "), done.stdout
    assert lines[2] == "restored True"
    assert "Traceback" not in done.stderr and "race condition" not in done.stderr


def test_enforce_off_the_main_thread_is_refused_and_changes_nothing(_isolated_store: Path) -> None:
    errors: list[BaseException] = []
    handler = signal.getsignal(signal.SIGINT)

    def block(enforce: bool) -> None:
        try:
            with nbprofile.budget("time<=5s", enforce=enforce, store=False) as b:
                pass
            assert b.verdict is not None and b.verdict.status == "pass"
        except (NbprofileError, AssertionError) as exc:  # handed to the main thread to assert on
            errors.append(exc)

    for enforce in (True, False):
        worker = threading.Thread(target=block, args=(enforce,), name="worker")
        worker.start()
        worker.join()
    (error,) = errors  # enforce=False runs fine on a thread
    assert isinstance(error, NbprofileError)
    assert str(error).startswith("nbprofile.budget(enforce=True) needs the main thread, not 'worker': ")
    assert "\n" not in str(error) and "enforce=False" in str(error)
    assert signal.getsignal(signal.SIGINT) is handler


# -- rss end <= peak ------------------------------------------------------------------------------

class GrowingProcess:
    """A process whose memory grows by a page between any two reads of it, as when another thread
    allocates while a window closes; VmHWM is the most RSS reached so far."""

    def __init__(self) -> None:
        self.rss = 100 * MiB
        self.hwm = self.rss

    def _grow(self) -> None:
        self.rss += 4096
        self.hwm = max(self.hwm, self.rss)

    def read_rss(self) -> int:
        self._grow()
        return self.rss

    def read_hwm(self) -> int:
        self._grow()
        return self.hwm


def _growing_meter(monkeypatch: pytest.MonkeyPatch, tmp_path: Path, *, exact: bool) -> PeakRss:
    fake = GrowingProcess()
    monkeypatch.setattr(memory, "_statm_reader", lambda path=memory.STATM: fake.read_rss)
    monkeypatch.setattr(memory, "_hwm_reader", lambda path=memory.STATUS: fake.read_hwm)
    clear_refs = tmp_path / "clear_refs"
    if exact:
        clear_refs.write_bytes(b"")  # writable: the exact method (the fake's HWM is not reset by it)
    meter = PeakRss(clear_refs_path=str(clear_refs), sample_interval_s=60)  # sampled: one sample
    meter.probe()
    assert meter.mode == ("exact" if exact else "sampled")
    return meter


@pytest.mark.parametrize("exact", [True, False])
def test_end_rss_never_exceeds_the_peak_while_memory_grows(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                           exact: bool) -> None:
    meter = _growing_meter(monkeypatch, tmp_path, exact=exact)
    try:
        for i in range(20):
            meter.begin(("outer", i))
            meter.begin(("inner", i))
            for key in (("inner", i), ("outer", i)):
                readings = meter.end(key)
                end, peak = readings["rss_end_bytes"].value, readings["rss_peak_bytes"].value
                assert end is not None and peak is not None
                assert readings["rss_start_bytes"].value <= end <= peak, (key, readings)
    finally:
        meter.close()


def test_end_rss_never_exceeds_the_peak_in_real_windows() -> None:
    """The same over real /proc reads, with another thread allocating while windows close."""
    meter = PeakRss()
    assert meter.probe().available
    stop = threading.Event()

    def churn() -> None:
        kept: list[bytearray] = []
        while not stop.is_set():
            kept.append(bytearray(MiB))
            if len(kept) > 64:
                kept.clear()

    thread = threading.Thread(target=churn, daemon=True)
    thread.start()
    try:
        for i in range(300):
            meter.begin(i)
            block = bytearray((i % 8) * MiB)
            readings = meter.end(i)
            del block
            end, peak = readings["rss_end_bytes"].value, readings["rss_peak_bytes"].value
            assert end is not None and peak is not None and end <= peak, (i, readings)
    finally:
        stop.set()
        thread.join()
        meter.close()
