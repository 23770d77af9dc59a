"""CPU package and DRAM energy per window: RAPL where readable, else a labelled estimate.

**Measured.** ``/sys/class/powercap/intel-rapl:<pkg>[:<sub>]/energy_uj`` (also
``amd-rapl``) is a cumulative µJ counter per CPU package and DRAM subdomain,
kept open and read with one ``pread``. Packages are summed; ``psys`` (contains
the packages) and ``intel-rapl-mmio`` (mirrors them) are skipped. The figure is
the whole package's, every process on it, as the note says.

**Wraps.** Each read folds the counter, modulo ``max_energy_range_uj``, into a
running total, so one read per wrap period suffices (262 kJ: ~22 min at 200 W;
AMD's 65 kJ: ~5 min). A daemon thread, started at the first window and parked
between windows, reads every third of the shortest wrap period at full power
while a window is open; with ``watch=False`` a longer window is noted instead.

**Estimated.** ``energy_uj`` is root-only since PLATYPUS (CVE-2020-8694) and VMs
rarely expose powercap. Then: this process's CPU time (threads and reaped
children) x TDP / threads per package, the TDP from CodeCarbon's
``cpu_power.csv`` (read as a file, never imported) or ``NBPROFILE_CPU_TDP_W``.
An unknown CPU, or a VM hiding the chip's thread count, gets CodeCarbon's
generic 4 W per thread, and says so. No RAPL, TDP or codecarbon: unavailable,
with the fix. DRAM is never estimated: mostly refresh, not attributable to a cell.
"""

from __future__ import annotations

import os
import platform
import resource
import threading
import time
from pathlib import Path

from nbprofile.datafiles import BUNDLED, codecarbon_data_dir
from nbprofile.meters.base import Meter
from nbprofile.meters.cpu_tdp import CPUINFO, Estimate, load_cpu_table, match_cpu, read_cpuinfo
from nbprofile.meters.own_cpu import counted
from nbprofile.meters.rapl import POWERCAP_ROOT, Domain, find_domains, open_counter, read_int
from nbprofile.readings import Availability, Reading, Readings

AUTO = "auto"  # CodeCarbon's cpu_power.csv: its installed package's, else the copy nbprofile ships
#: how estimates name the table nbprofile ships (nbprofile/data/README.md says where it is from)
BUNDLED_CPU_TABLE = "CodeCarbon 3.3.2 cpu_power.csv, as shipped with nbprofile"
TDP_ENV = "NBPROFILE_CPU_TDP_W"
THREADS_ENV = "NBPROFILE_CPU_THREADS"
#: CodeCarbon's DEFAULT_POWER_PER_CORE (codecarbon/core/cpu.py) for CPUs missing from its table
GENERIC_W_PER_THREAD = 4.0
#: when the package's max power is unreadable: high enough that the watcher reads before a wrap
ASSUMED_MAX_PACKAGE_W = 500.0
RAPL_FIX = ("RAPL needs read access: sudo chmod a+r /sys/class/powercap/intel-rapl:*/energy_uj "
            "(a udev rule keeps it across reboots)")
NO_POWERCAP_FIX = ("RAPL measures on bare-metal Linux (cloud VMs rarely expose it); in Docker add "
                   "--security-opt systempaths=unconfined (powercap is masked)")
ESTIMATE_FIX = f"or set {TDP_ENV}=<your CPU's TDP> for an estimate"
_RUSAGE_CHILDREN = resource.RUSAGE_CHILDREN


def _env_float(name: str) -> float | None:
    """A positive number from the environment; ValueError (the probe's, so the doctor shows it) if not."""
    raw = os.environ.get(name)
    if not raw:
        return None
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name}={raw!r} is not a positive number, e.g. {name}=65")
    return value


class CpuEnergyMeter(Meter):
    """``cpu_energy_j`` and ``dram_energy_j`` per window; see the module docstring."""

    name = "cpu_energy"
    keys = ("cpu_energy_j", "dram_energy_j")

    def __init__(self, root: str | os.PathLike[str] = POWERCAP_ROOT, *, tdp_w: float | None = None,
                 threads: int | None = None, cpuinfo_path: str = CPUINFO,
                 cpu_power_csv: str | os.PathLike[str] | None = AUTO, watch: bool = True,
                 watch_interval_s: float | None = None) -> None:
        """``root``: the powercap directory (a fake tree in tests); ``tdp_w``/``threads``: your CPU's
        TDP and threads per package (else ``$NBPROFILE_CPU_TDP_W``/``$NBPROFILE_CPU_THREADS``, else the
        table); ``cpu_power_csv``: None = no table; ``watch``: the wrap watcher thread."""
        self._root = str(root)
        self._tdp_w = tdp_w
        self._threads = threads
        self._cpuinfo_path = cpuinfo_path
        self._cpu_power_csv = cpu_power_csv
        self._watch = watch
        self._watch_interval_s = watch_interval_s
        self._domains: list[Domain] = []
        self._lock = threading.Lock()
        self._open: dict[object, tuple[int, float, float]] = {}  # key -> (t_ns, cpu/pkg, dram)
        self._active = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self.mode = "unprobed"  # rapl | estimate | unavailable
        self.rapl_detail = ""  # why RAPL works or not (the doctor shows it)
        self.rapl_fix: str | None = None
        self.estimate: Estimate | None = None
        self.wrap_s = float("inf")  # shortest wrap period at full power
        self._pkg_source = self._pkg_note = self._dram_source = ""
        self._dram_reason = ""
        self._unavailable_reason = ""

    # -- probing -------------------------------------------------------------
    def probe(self) -> Availability:
        self.close()
        if self._open_rapl():
            self.mode = "rapl"
            dram = f" + {self._dram_source}" if self._dram_source else f"; DRAM: {self._dram_reason}"
            return Availability(True, f"measured by RAPL ({self._pkg_source}){dram}; {self._pkg_note}")
        self._dram_reason = "not estimated: DRAM power is mostly refresh, not attributable to a cell without RAPL"
        estimate, why_not = self._setup_estimate()
        if estimate is not None:
            self.mode, self.estimate = "estimate", estimate
            return Availability(True, f"ESTIMATE: {estimate.method}; RAPL unusable: {self.rapl_detail}",
                                self.rapl_fix)
        self.mode = "unavailable"
        self._unavailable_reason = f"RAPL unusable: {self.rapl_detail}; no estimate: {why_not}"
        return Availability(False, self._unavailable_reason, f"{self.rapl_fix}; {ESTIMATE_FIX}")

    def _open_rapl(self) -> bool:
        if not os.path.isdir(self._root):
            self.rapl_detail = f"no {self._root} (typical in VMs and containers)"
            self.rapl_fix = NO_POWERCAP_FIX
            return False
        found = find_domains(self._root)
        packages = [d for d in found if d[2] == "package"]
        if not packages:
            self.rapl_detail = f"no RAPL package domain under {self._root}"
            self.rapl_fix = "load the intel_rapl_common / rapl kernel module (modprobe intel_rapl_msr)"
            return False
        denied: list[str] = []
        dram_denied = False
        for path, label, kind in found:
            opened = open_counter(path)
            if isinstance(opened, str):
                denied.append(opened)
                dram_denied |= kind == "dram"
                continue
            fd, raw, range_uj = opened
            max_uw = read_int(path / "constraint_0_max_power_uw")
            max_w = max_uw / 1e6 if max_uw else ASSUMED_MAX_PACKAGE_W
            self._domains.append(Domain(label, kind, fd, range_uj, max_w, raw))
        if not any(d.kind == "package" for d in self._domains):
            self.close()
            root_only = any("ermission" in d for d in denied)
            self.rapl_detail = (
                "energy_uj is root-only (kernel >= 5.10, since PLATYPUS, CVE-2020-8694)"
                if root_only else "cannot read energy_uj") + f": {denied[0]}"
            self.rapl_fix = RAPL_FIX
            return False
        pkgs = [d.label for d in self._domains if d.kind == "package"]
        drams = [d.label for d in self._domains if d.kind == "dram"]
        self._pkg_source = "rapl:" + "+".join(pkgs)
        self._pkg_note = "whole CPU package: every process on it, not this kernel alone"
        self._dram_source = "rapl:" + "+".join(drams) if drams else ""
        self._dram_reason = ("DRAM domain not readable: " + RAPL_FIX if dram_denied
                             else "this CPU's RAPL has no DRAM domain (common on client and AMD CPUs)")
        self.wrap_s = min(d.range_uj / 1e6 / d.max_w for d in self._domains)
        self.rapl_detail = f"readable: {', '.join(pkgs + drams)}"
        return True

    def _setup_estimate(self) -> tuple[Estimate | None, str]:
        """The estimate's per-thread power and its stated method, or why there is none."""
        info = read_cpuinfo(self._cpuinfo_path)
        model = info.get("model name") or info.get("Model") or platform.processor() or "unknown CPU"
        in_vm = "hypervisor" in info.get("flags", "").split()
        tdp_w = self._tdp_w or _env_float(TDP_ENV)
        threads = self._threads or _env_float(THREADS_ENV)
        tdp_from = "your TDP"
        if tdp_w is None:
            table = self._table_path()
            if table is None:
                return None, "no CPU TDP table and no TDP set"  # the fix says how to set one
            table_path, table_name = table
            try:
                match = match_cpu(model, load_cpu_table(table_path))
            except (OSError, ValueError) as exc:
                return None, f"cannot read {table_path}: {getattr(exc, 'strerror', None) or exc}"
            if match is not None:
                tdp_w, tdp_from = match[1], f"{table_name}: {match[0]}"
        if threads is None and not in_vm:
            # siblings = logical CPUs per package; in a VM it is the guest's, not the chip's
            threads = float(info.get("siblings") or os.cpu_count() or 0) or None
        if tdp_w is not None and threads:
            per = tdp_w / threads
            return Estimate(per, "cpu-time x TDP/threads", (
                f"this process's CPU time x {per:.2f} W per busy thread (TDP {tdp_w:g} W, {tdp_from}, "
                f"/ {threads:g} threads per package); idle and uncore power not counted")), ""
        if tdp_w is not None:
            why = (f"in a VM the chip's thread count is hidden (set {THREADS_ENV} to use the "
                   f"{tdp_w:g} W TDP of {model})")
        else:
            why = f"'{model}' is not in CodeCarbon's table (set {TDP_ENV})"
        return Estimate(GENERIC_W_PER_THREAD, "cpu-time x generic 4 W/thread", (
            f"this process's CPU time x {GENERIC_W_PER_THREAD:g} W per busy thread, CodeCarbon's generic "
            f"figure: {why}")), ""

    def _table_path(self) -> tuple[Path, str] | None:
        """The CPU TDP table and its name in the estimate's method: an installed CodeCarbon's
        (it may be fresher), else the copy shipped in ``nbprofile/data`` (see its README)."""
        if self._cpu_power_csv is None:
            return None
        if self._cpu_power_csv != AUTO:
            return Path(self._cpu_power_csv), "CodeCarbon cpu_power.csv"
        data = codecarbon_data_dir()
        path = data / "hardware" / "cpu_power.csv" if data is not None else None
        if path is not None and path.is_file():
            return path, "CodeCarbon cpu_power.csv"
        return BUNDLED / "cpu_power.csv", BUNDLED_CPU_TABLE

    # -- windows -------------------------------------------------------------
    def _totals(self) -> tuple[float, float]:
        with self._lock:  # the watcher folds the same counters
            pkg = dram = 0
            for d in self._domains:
                if d.kind == "package":
                    pkg += d.fold()
                else:
                    dram += d.fold()
        return pkg / 1e6, dram / 1e6

    def begin(self, key: object) -> None:
        if self.mode == "rapl":
            if self._watch and self._thread is None:
                self._start_watcher()
            pkg, dram = self._totals()
            self._open[key] = (time.monotonic_ns(), pkg, dram)
            self._active.set()
        elif self.mode == "estimate":
            self._open[key] = (0, _cpu_time(), 0.0)

    def end(self, key: object) -> Readings:
        if self.mode == "rapl":
            pkg, dram = self._totals()
            start = self._open.pop(key, None)
            if not self._open:
                self._active.clear()
            if start is None:
                return self._never_opened()
            note = self._pkg_note
            span_s = (time.monotonic_ns() - start[0]) / 1e9
            if span_s > self.wrap_s:
                note += (f"; longer than one counter wrap at full power (~{self.wrap_s:.0f} s): "
                         + ("wraps counted by the watcher thread" if self._watch
                            else "whole wraps may be missing (watch=False)"))
            return {
                "cpu_energy_j": Reading(pkg - start[1], "J", "measured", self._pkg_source, note),
                "dram_energy_j": (Reading(dram - start[2], "J", "measured", self._dram_source,
                                          "whole DRAM of the socket(s)")
                                  if self._dram_source else Reading.unavailable("J", self._dram_reason)),
            }
        if self.mode == "estimate":
            start = self._open.pop(key, None)
            if start is None:
                return self._never_opened()
            est = self.estimate
            assert est is not None
            joules = (_cpu_time() - start[1]) * est.w_per_thread
            return {
                "cpu_energy_j": Reading(joules, "J", "estimated", est.source, f"estimated: {est.method}"),
                "dram_energy_j": Reading.unavailable("J", self._dram_reason),
            }
        reason = self._unavailable_reason or "the meter was not probed"
        return {k: Reading.unavailable("J", reason) for k in self.keys}

    def so_far(self, key: object) -> Readings:
        """The CPU energy of the open window until now (the same method as :meth:`end`'s)."""
        start = self._open.get(key)
        if start is None:
            return {}
        if self.mode == "rapl":
            return {"cpu_energy_j": Reading(self._totals()[0] - start[1], "J", "measured", self._pkg_source,
                                            self._pkg_note)}
        est = self.estimate
        if self.mode == "estimate" and est is not None:
            return {"cpu_energy_j": Reading((_cpu_time() - start[1]) * est.w_per_thread, "J", "estimated",
                                            est.source, f"estimated: {est.method}")}
        return {}

    def _never_opened(self) -> Readings:
        return {k: Reading.unavailable("J", "the window was never opened") for k in self.keys}

    def discard(self, key: object) -> None:
        self._open.pop(key, None)
        if not self._open:
            self._active.clear()

    # -- the wrap watcher ----------------------------------------------------
    def _start_watcher(self) -> None:
        interval = self._watch_interval_s or max(1.0, self.wrap_s / 3)
        self._stopping.clear()
        self._thread = threading.Thread(target=self._watch_loop, args=(interval,),
                                        name="nbprofile-rapl-wrap", daemon=True)
        self._thread.start()

    def _watch_loop(self, interval: float) -> None:
        while not self._stopping.is_set():
            with counted(self.own_cpu):  # nbprofile's CPU, not the running cell's
                self._active.wait()  # parked between windows
                if self._stopping.wait(interval):
                    return
                if self._active.is_set():
                    try:
                        self._totals()
                    except (OSError, ValueError):  # nothing folded: the next read catches up
                        continue

    def close(self) -> None:
        if self._thread is not None:
            self._stopping.set()
            self._active.set()
            self._thread.join(timeout=1)
            self._thread = None
        with self._lock:
            for d in self._domains:
                os.close(d.fd)
            self._domains = []


def _cpu_time() -> float:
    """CPU seconds of this process (every thread) and of its reaped children."""
    children = resource.getrusage(_RUSAGE_CHILDREN)
    return time.process_time() + children.ru_utime + children.ru_stime
