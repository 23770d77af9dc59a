"""Peak resident memory (RSS) of the kernel process per window.

Exact method (Linux >= 4.0): writing ``5`` to ``/proc/self/clear_refs`` resets
the kernel's high-water mark (VmHWM) to the current RSS. Reset at the window's
start, read VmHWM at its end, and that is this window's exact peak, however
brief, for ~10 µs and with no thread. Both files stay open, so each read is one
``pread``/``write``.

Not ``getrusage().ru_maxrss``: it is ``max(VmHWM, signal->maxrss)``, and the
kernel sets ``signal->maxrss`` at ``exec`` from the image before it (for a
Jupyter kernel, the server that spawned it) and again whenever a thread exits;
``clear_refs`` resets neither, so after a reset ``ru_maxrss`` can read a peak
the window never had.

The reset is process-wide, so nested windows (a ``measure()`` block inside a
profiled cell) would clobber the outer window's peak. Before each reset the
meter therefore folds the high-water mark reached so far into every open window.

Fallback, where ``clear_refs`` cannot be written (some sandboxes, macOS): a
daemon thread samples the current RSS every 10 ms while a window is open and
parks between windows. Brief peaks can fall between samples, so its readings are
labelled ``sampled``, except when the process's lifetime peak (``ru_maxrss``)
rose during the window: then that new lifetime peak is this window's exact peak.
"""

from __future__ import annotations

import os
import resource
import sys
import threading
import time
from collections.abc import Callable

from nbprofile.meters.base import Meter
from nbprofile.meters.own_cpu import OwnCpu, counted
from nbprofile.readings import Availability, Reading, Readings

CLEAR_REFS = "/proc/self/clear_refs"
STATM = "/proc/self/statm"
STATUS = "/proc/self/status"
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096
# ru_maxrss is KiB on Linux and bytes on macOS.
_MAXRSS_UNIT = 1 if sys.platform == "darwin" else 1024
_RUSAGE_SELF = resource.RUSAGE_SELF
SAMPLE_INTERVAL_S = 0.01


def _maxrss() -> int:
    return resource.getrusage(_RUSAGE_SELF).ru_maxrss * _MAXRSS_UNIT


def _hwm_reader(path: str = STATUS) -> Callable[[], int] | None:
    """VmHWM (bytes) from a kept-open ``/proc/self/status``."""
    try:
        fd = os.open(path, os.O_RDONLY)
        data = os.pread(fd, 8192, 0)
    except OSError:
        return None
    if b"VmHWM:" not in data:
        os.close(fd)
        return None

    def read() -> int:
        text = os.pread(fd, 8192, 0)
        start = text.index(b"VmHWM:") + 6
        return int(text[start:text.index(b"kB", start)]) * 1024

    return read


def _statm_reader(path: str = STATM) -> Callable[[], int] | None:
    """A cheap current-RSS reader: ``pread`` on a kept-open ``statm`` (~1 µs)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None

    def read() -> int:
        return int(os.pread(fd, 128, 0).split()[1]) * _PAGE

    return read


def _psutil_reader() -> Callable[[], int] | None:
    try:
        import psutil  # type: ignore[import-untyped]
    except ImportError:
        return None
    process = psutil.Process()
    return lambda: int(process.memory_info().rss)


class _Sampler:
    """One daemon thread that samples RSS while any window is open."""

    def __init__(self, read_rss: Callable[[], int], interval_s: float,
                 own_cpu: Callable[[], OwnCpu | None] = lambda: None) -> None:
        self._read = read_rss
        self._own_cpu = own_cpu  #: where each turn's CPU is counted as nbprofile's
        self._interval = interval_s
        self._peak = 0
        self._active = threading.Event()
        self._stop = False
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None

    def start_window(self) -> int:
        """Reset the running peak to the current RSS and (re)start sampling.

        The caller folds the previous running peak into the open windows first.
        """
        rss = self._read()
        with self._lock:
            self._peak = rss
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="nbprofile-rss", daemon=True)
            self._thread.start()
        self._active.set()
        return rss

    def peak(self) -> int:
        rss = self._read()
        with self._lock:
            self._peak = max(self._peak, rss)
            return self._peak

    def park(self) -> None:
        self._active.clear()

    def stop(self) -> None:
        self._stop = True
        self._active.set()

    def _run(self) -> None:
        while not self._stop:
            with counted(self._own_cpu()):
                self._active.wait()
                if self._stop:
                    return
                rss = self._read()
                with self._lock:
                    self._peak = max(self._peak, rss)
                time.sleep(self._interval)


class PeakRss(Meter):
    """Peak, start and end RSS of each window, and the peak's rise above the start (``rss_*_bytes``)."""

    name = "memory"
    keys = ("rss_peak_bytes", "rss_start_bytes", "rss_end_bytes", "rss_rise_bytes")

    def __init__(
        self,
        clear_refs_path: str = CLEAR_REFS,
        statm_path: str = STATM,
        status_path: str = STATUS,
        sample_interval_s: float = SAMPLE_INTERVAL_S,
    ) -> None:
        self._clear_refs_path = clear_refs_path
        self._statm_path = statm_path
        self._status_path = status_path
        self._read_hwm: Callable[[], int] | None = None
        self._interval = sample_interval_s
        self._clear_fd: int | None = None
        self._read_rss: Callable[[], int] | None = None
        self._sampler: _Sampler | None = None
        # key -> [rss at start, peak seen so far, lifetime maxrss at start]
        self._open: dict[object, list[int]] = {}
        self.mode = "unprobed"

    # -- probing -------------------------------------------------------------
    def probe(self) -> Availability:
        self._read_rss = _statm_reader(self._statm_path) or _psutil_reader()
        self._read_hwm = _hwm_reader(self._status_path)
        try:
            fd = os.open(self._clear_refs_path, os.O_WRONLY)
            os.write(fd, b"5")
        except OSError as exc:
            reason = f"cannot reset the peak ({self._clear_refs_path}: {exc.strerror or exc})"
        else:
            if self._read_hwm is None or self._read_rss is None:
                os.close(fd)
                reason = f"cannot read VmHWM and RSS from {self._status_path}, {self._statm_path}"
            else:
                self._clear_fd = fd
                self.mode = "exact"
                return Availability(True, "exact peak: clear_refs reset + VmHWM")
        if self._read_rss is None:
            self.mode = "unavailable"
            return Availability(
                False, f"{reason}, and no way to read current RSS here",
                "install psutil, or run on Linux >= 4.0",
            )
        self.mode = "sampled"
        self._sampler = _Sampler(self._read_rss, self._interval, lambda: self.own_cpu)
        return Availability(
            True,
            f"sampled every {self._interval * 1000:.0f} ms: {reason}",
            "Linux >= 4.0 with a writable /proc/self/clear_refs gives exact peaks",
        )

    # -- windows -------------------------------------------------------------
    def begin(self, key: object) -> None:
        if self.mode == "exact":
            self._begin_exact(key)
        elif self.mode == "sampled":
            assert self._sampler is not None
            self._fold(self._sampler.peak())
            rss = self._sampler.start_window()
            self._open[key] = [rss, rss, self._lifetime_peak()]

    def _begin_exact(self, key: object) -> None:
        if self._open:
            self._fold(self._read_hwm())  # type: ignore[misc]
        os.write(self._clear_fd, b"5")  # type: ignore[arg-type]
        rss = self._read_rss()  # type: ignore[misc]  # right after the reset, VmHWM == RSS
        self._open[key] = [rss, rss, rss]

    def _lifetime_peak(self) -> int:
        return self._read_hwm() if self._read_hwm is not None else _maxrss()

    def _fold(self, peak: int) -> None:
        for window in self._open.values():
            window[1] = max(window[1], peak)

    def end(self, key: object) -> Readings:
        if self.mode == "unavailable":
            reason = "no way to read RSS on this system"
            return {k: Reading.unavailable("B", reason) for k in self.keys}
        # the end RSS first, then the peak: memory that grows between the two reads lands in the
        # peak, never only in the end (which read after the peak could exceed it)
        end = self._read_rss() if self._read_rss is not None else None
        if self.mode == "exact":
            peak = self._read_hwm()  # type: ignore[misc]
        else:
            assert self._sampler is not None
            peak = self._sampler.peak()
        # the kernel's RSS counters are per-CPU caches folded in lazily: VmHWM and statm can
        # disagree by a few pages, and the end itself was reached inside the window
        self._fold(peak if end is None else max(peak, end))
        window = self._open.pop(key, None)
        if window is None:
            reason = "the window was never opened"
            return {k: Reading.unavailable("B", reason) for k in self.keys}
        start, window_peak, maxrss_start = window
        if self.mode == "exact":
            peak_reading = Reading(window_peak, "B", "measured", "clear_refs+VmHWM")
        else:
            if not self._open:
                self._sampler.park()  # type: ignore[union-attr]
            lifetime = self._lifetime_peak()
            if lifetime > maxrss_start and lifetime >= window_peak:
                peak_reading = Reading(
                    lifetime, "B", "measured", "VmHWM" if self._read_hwm is not None else "ru_maxrss",
                    "the process's lifetime peak rose during this window",
                )
            else:
                peak_reading = Reading(
                    window_peak, "B", "sampled", f"rss every {self._interval * 1000:.0f} ms",
                    "sampled: a peak shorter than the interval can be missed",
                )
        assert peak_reading.value is not None
        return {
            "rss_peak_bytes": peak_reading,
            # made here, not derived: the rise is exactly as good as the peak (sampled when it is)
            "rss_rise_bytes": Reading(peak_reading.value - start, "B", peak_reading.method,
                                      f"{peak_reading.source} - start rss", peak_reading.note),
            "rss_start_bytes": Reading(start, "B", "measured", "rss"),
            "rss_end_bytes": (
                Reading(end, "B", "measured", "statm")
                if end is not None
                else Reading.unavailable("B", "no way to read current RSS here")
            ),
        }

    def live_peak(self) -> int | None:
        """The peak so far in the open windows (for a watchdog); ``None`` if unmeasurable."""
        if self.mode == "exact":
            return max(self._read_hwm(), *(w[1] for w in self._open.values()))  # type: ignore[misc]
        if self.mode == "sampled":
            return self._sampler.peak()  # type: ignore[union-attr]
        return None

    def live_rise(self, key: object) -> int | None:
        """How far window ``key``'s peak so far rose above its start (for a watchdog)."""
        window = self._open.get(key)
        if window is None or self.mode not in ("exact", "sampled"):
            return None
        # this window's own peak: what was folded into it, or the high-water mark since the last
        # reset (which came at or after its start); never an outer window's earlier peak
        now = self._read_hwm() if self.mode == "exact" else self._sampler.peak()  # type: ignore[misc, union-attr]
        return max(now, window[1]) - window[0]

    def discard(self, key: object) -> None:
        self._open.pop(key, None)
        if self._sampler is not None and not self._open:
            self._sampler.park()

    def close(self) -> None:
        if self._clear_fd is not None:
            os.close(self._clear_fd)
            self._clear_fd = None
        if self._sampler is not None:
            self._sampler.stop()
