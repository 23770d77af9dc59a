"""CpuEnergyMeter against a fake powercap tree: deltas, wraps, DRAM, and the estimate/unavailable paths."""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import pytest

from nbprofile.meters import cpu_energy
from nbprofile.meters.cpu_energy import GENERIC_W_PER_THREAD, CpuEnergyMeter, match_cpu

CSV = "Name,TDP\nAMD EPYC 7763,280.0\nIntel Xeon Platinum 8480+,350.0\nAMD EPYC 9654,360.0\nIntel Core i7-8700,65\n"


def domain(root: Path, entry: str, name: str, energy_uj: int, range_uj: int = 262_143_328_850,
           max_power_uw: int | None = None) -> None:
    d = root / entry
    d.mkdir(parents=True)
    (d / "name").write_text(name + "\n")
    (d / "energy_uj").write_text(f"{energy_uj:020d}\n")
    (d / "max_energy_range_uj").write_text(f"{range_uj}\n")
    if max_power_uw is not None:
        (d / "constraint_0_max_power_uw").write_text(f"{max_power_uw}\n")


def set_energy(root: Path, entry: str, energy_uj: int) -> None:
    # one fixed-width write in place (same inode, never truncated), so a reader on another
    # thread (the watcher) sees the old value or the new one, never an empty file
    fd = os.open(root / entry / "energy_uj", os.O_WRONLY)
    try:
        os.pwrite(fd, f"{energy_uj:020d}\n".encode(), 0)
    finally:
        os.close(fd)


def cpuinfo(tmp_path: Path, model: str, siblings: int = 16, vm: bool = False) -> str:
    path = tmp_path / "cpuinfo"
    flags = "fpu sse2" + (" hypervisor" if vm else "")
    path.write_text(f"processor\t: 0\nmodel name\t: {model}\nsiblings\t: {siblings}\nflags\t\t: {flags}\n\n"
                    f"processor\t: 1\nmodel name\t: other\n")
    return str(path)


@pytest.fixture(autouse=True)
def _no_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(cpu_energy.TDP_ENV, raising=False)
    monkeypatch.delenv(cpu_energy.THREADS_ENV, raising=False)


@pytest.fixture
def table(tmp_path: Path) -> str:
    path = tmp_path / "cpu_power.csv"
    path.write_text(CSV)
    return str(path)


def test_package_delta_is_measured_and_says_package_wide(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 1_000_000)
    meter = CpuEnergyMeter(tmp_path, watch=False)
    availability = meter.probe()
    assert availability.available and "measured by RAPL" in availability.detail
    meter.begin("k")
    set_energy(tmp_path, "intel-rapl:0", 3_500_000)
    r = meter.end("k")["cpu_energy_j"]
    assert (r.value, r.unit, r.method) == (pytest.approx(2.5), "J", "measured")
    assert "package-0" in r.source and "whole CPU package" in (r.note or "")
    meter.close()


def test_packages_summed_psys_and_mmio_and_core_skipped(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 0)
    domain(tmp_path, "intel-rapl:1", "package-1", 0)
    domain(tmp_path, "intel-rapl:2", "psys", 0)  # contains the packages: summing it double-counts
    domain(tmp_path, "intel-rapl-mmio:0", "package-0", 0)  # mirrors intel-rapl:0
    domain(tmp_path, "intel-rapl:0:0", "core", 0)  # inside package-0
    meter = CpuEnergyMeter(tmp_path, watch=False)
    meter.probe()
    meter.begin(1)
    for entry, value in (("intel-rapl:0", 1_000_000), ("intel-rapl:1", 2_000_000), ("intel-rapl:2", 9_000_000),
                         ("intel-rapl-mmio:0", 9_000_000), ("intel-rapl:0:0", 9_000_000)):
        set_energy(tmp_path, entry, value)
    r = meter.end(1)["cpu_energy_j"]
    assert r.value == pytest.approx(3.0)
    assert r.source == "rapl:package-0+package-1"
    meter.close()


def test_one_wrap_is_handled_modulo_the_range(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 9_000_000, range_uj=10_000_000)
    meter = CpuEnergyMeter(tmp_path, watch=False)
    meter.probe()
    meter.begin(1)
    set_energy(tmp_path, "intel-rapl:0", 500_000)  # wrapped past 10 J
    assert meter.end(1)["cpu_energy_j"].value == pytest.approx(1.5)
    meter.close()


def test_amd_rapl_naming_is_accepted(tmp_path: Path) -> None:
    domain(tmp_path, "amd-rapl:0", "package-0", 0)
    meter = CpuEnergyMeter(tmp_path, watch=False)
    meter.probe()
    meter.begin(1)
    set_energy(tmp_path, "amd-rapl:0", 250_000)
    assert meter.end(1)["cpu_energy_j"].value == pytest.approx(0.25)
    meter.close()


def test_dram_subdomain_measured(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 0)
    domain(tmp_path, "intel-rapl:0:1", "dram", 100)
    meter = CpuEnergyMeter(tmp_path, watch=False)
    assert "dram" in meter.probe().detail
    meter.begin(1)
    set_energy(tmp_path, "intel-rapl:0", 2_000_000)
    set_energy(tmp_path, "intel-rapl:0:1", 700_100)
    readings = meter.end(1)
    assert readings["dram_energy_j"].value == pytest.approx(0.7)
    assert readings["dram_energy_j"].method == "measured"
    assert readings["cpu_energy_j"].value == pytest.approx(2.0)  # DRAM is not part of the package sum
    meter.close()


def test_no_dram_domain_is_unavailable_with_reason(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 0)
    meter = CpuEnergyMeter(tmp_path, watch=False)
    meter.probe()
    meter.begin(1)
    r = meter.end(1)["dram_energy_j"]
    assert r.value is None and r.method == "unavailable" and "no DRAM domain" in (r.note or "")
    meter.close()


def test_long_window_without_watcher_is_flagged(tmp_path: Path) -> None:
    # 1 J range at 500 W (no max power file): one wrap every 2 ms
    domain(tmp_path, "intel-rapl:0", "package-0", 0, range_uj=1_000_000)
    meter = CpuEnergyMeter(tmp_path, watch=False)
    meter.probe()
    assert meter.wrap_s == pytest.approx(0.002)
    meter.begin(1)
    time.sleep(0.01)
    assert "whole wraps may be missing" in (meter.end(1)["cpu_energy_j"].note or "")
    meter.close()


def test_watcher_counts_several_wraps_in_one_window(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 0, range_uj=10_000_000, max_power_uw=1_000_000_000)
    meter = CpuEnergyMeter(tmp_path, watch=True, watch_interval_s=0.005)
    meter.probe()
    meter.begin(1)
    assert meter._thread is not None and meter._thread.daemon
    for value in (6_000_000, 2_000_000, 8_000_000, 4_000_000):  # +6 J each step, 3 wraps in all
        set_energy(tmp_path, "intel-rapl:0", value)
        deadline = time.monotonic() + 5
        while meter._domains[0].last != value:  # the watcher has folded this value
            assert time.monotonic() < deadline, "the watcher never read the counter"
            time.sleep(0.002)
    r = meter.end(1)["cpu_energy_j"]
    assert r.value == pytest.approx(24.0)
    assert "wraps counted by the watcher thread" in (r.note or "")
    meter.close()
    assert meter._thread is None


def _deny_energy(monkeypatch: pytest.MonkeyPatch) -> None:
    """energy_uj root-only, as since PLATYPUS (the tests run as root, so chmod would not stop them)."""
    real_open = os.open

    def fake_open(path: Any, flags: int, *args: Any, **kwargs: Any) -> int:
        if str(path).endswith("energy_uj"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args, **kwargs)

    monkeypatch.setattr(os, "open", fake_open)


def test_root_only_rapl_falls_back_to_a_labelled_estimate(tmp_path: Path, table: str,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "powercap"
    domain(root, "intel-rapl:0", "package-0", 0)
    _deny_energy(monkeypatch)
    meter = CpuEnergyMeter(root, cpuinfo_path=cpuinfo(tmp_path, "AMD EPYC 7763 64-Core Processor", 128),
                           cpu_power_csv=table)
    availability = meter.probe()
    assert availability.available and availability.detail.startswith("ESTIMATE")
    assert "root-only" in availability.detail and "chmod a+r" in (availability.fix or "")
    assert meter.mode == "estimate" and meter.estimate is not None
    assert meter.estimate.w_per_thread == pytest.approx(280 / 128)
    times = iter([10.0, 12.5])
    monkeypatch.setattr(cpu_energy, "_cpu_time", lambda: next(times))
    meter.begin(1)
    readings = meter.end(1)
    r = readings["cpu_energy_j"]
    assert r.method == "estimated" and r.value == pytest.approx(2.5 * 280 / 128)
    assert "AMD EPYC 7763" in (r.note or "") and "280" in (r.note or "")
    assert readings["dram_energy_j"].value is None and "not estimated" in (readings["dram_energy_j"].note or "")


def test_unreadable_and_no_tdp_source_is_unavailable_never_zero(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    root = tmp_path / "powercap"
    domain(root, "intel-rapl:0", "package-0", 0)
    _deny_energy(monkeypatch)
    meter = CpuEnergyMeter(root, cpuinfo_path=cpuinfo(tmp_path, "AMD EPYC 7763"), cpu_power_csv=None)
    availability = meter.probe()
    assert not availability.available
    assert "root-only" in availability.detail and "no CPU TDP table and no TDP set" in availability.detail
    assert "chmod a+r" in (availability.fix or "") and "NBPROFILE_CPU_TDP_W" in (availability.fix or "")
    meter.begin(1)
    for r in meter.end(1).values():
        assert r.value is None and r.method == "unavailable" and r.note


def test_no_powercap_says_so(tmp_path: Path, table: str) -> None:
    meter = CpuEnergyMeter(tmp_path / "missing", cpuinfo_path=cpuinfo(tmp_path, "Intel(R) Core(TM) i7-8700 CPU"),
                           cpu_power_csv=table)
    availability = meter.probe()
    assert "VMs and containers" in availability.detail
    assert meter.estimate is not None and meter.estimate.w_per_thread == pytest.approx(65 / 16)


def test_only_psys_is_not_rapl(tmp_path: Path, table: str) -> None:
    domain(tmp_path, "intel-rapl:0", "psys", 0)
    meter = CpuEnergyMeter(tmp_path, cpuinfo_path=cpuinfo(tmp_path, "AMD EPYC 7763"), cpu_power_csv=table)
    assert "no RAPL package domain" in meter.probe().detail


def test_vm_or_unknown_model_uses_the_generic_figure_and_says_why(tmp_path: Path, table: str) -> None:
    in_vm = CpuEnergyMeter(tmp_path / "none", cpuinfo_path=cpuinfo(tmp_path, "AMD EPYC 7763", 2, vm=True),
                           cpu_power_csv=table)
    in_vm.probe()
    assert in_vm.estimate is not None and in_vm.estimate.w_per_thread == GENERIC_W_PER_THREAD
    assert "VM" in in_vm.estimate.method and cpu_energy.THREADS_ENV in in_vm.estimate.method
    unknown = CpuEnergyMeter(tmp_path / "none", cpuinfo_path=cpuinfo(tmp_path, "AMD EPYC"), cpu_power_csv=table)
    unknown.probe()
    assert unknown.estimate is not None and "not in CodeCarbon's table" in unknown.estimate.method


def test_user_tdp_and_threads_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu_energy.TDP_ENV, "100")
    monkeypatch.setenv(cpu_energy.THREADS_ENV, "4")
    meter = CpuEnergyMeter(tmp_path / "none", cpuinfo_path=cpuinfo(tmp_path, "Mystery CPU", vm=True),
                           cpu_power_csv=None)
    assert meter.probe().available
    assert meter.estimate is not None and meter.estimate.w_per_thread == pytest.approx(25.0)
    assert "your TDP" in meter.estimate.method


def test_real_cpu_time_estimate_is_positive(tmp_path: Path) -> None:
    meter = CpuEnergyMeter(tmp_path / "none", tdp_w=64, threads=16, cpuinfo_path=cpuinfo(tmp_path, "x"))
    meter.probe()
    meter.begin(1)
    sum(range(300_000))
    r = meter.end(1)["cpu_energy_j"]
    assert r.method == "estimated" and r.value is not None and r.value > 0


def test_end_without_begin_and_discard(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 0)
    meter = CpuEnergyMeter(tmp_path, watch=False)
    meter.probe()
    assert meter.end("never")["cpu_energy_j"].note == "the window was never opened"
    meter.begin(1)
    meter.discard(1)
    assert meter.end(1)["cpu_energy_j"].value is None
    meter.close()


def test_match_cpu_follows_codecarbon_rules() -> None:
    table = {"AMD EPYC 7763": 280.0, "AMD EPYC 9654": 360.0, "Intel Core i7-8700": 65.0}
    assert match_cpu("amd epyc 7763", table) == ("AMD EPYC 7763", 280.0)
    assert match_cpu("Intel(R) Core(TM) i7-8700 CPU @ 3.20GHz", table) == ("Intel Core i7-8700", 65.0)
    assert match_cpu("AMD EPYC 9654 96-Core Processor", table) == ("AMD EPYC 9654", 360.0)
    assert match_cpu("AMD EPYC", table) is None  # names no model: two candidates
    assert match_cpu("", table) is None


def test_bad_tdp_env_is_an_error_not_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(cpu_energy.TDP_ENV, "lots")
    meter = CpuEnergyMeter(tmp_path / "none", cpuinfo_path=cpuinfo(tmp_path, "x"), cpu_power_csv=None)
    with pytest.raises(ValueError, match=cpu_energy.TDP_ENV):
        meter.probe()  # the profiler turns this into a disabled meter whose reason names the variable


def test_counter_without_its_range_is_not_used(tmp_path: Path) -> None:
    domain(tmp_path, "intel-rapl:0", "package-0", 0)
    (tmp_path / "intel-rapl:0" / "max_energy_range_uj").unlink()  # a wrap could not be undone
    meter = CpuEnergyMeter(tmp_path, cpuinfo_path=cpuinfo(tmp_path, "x"), cpu_power_csv=None)
    availability = meter.probe()
    assert not availability.available and "max_energy_range_uj unreadable" in availability.detail


def test_without_codecarbon_the_shipped_cpu_table_gives_the_estimate(tmp_path, monkeypatch) -> None:
    """A plain `pip install` (no codecarbon, no RAPL, no TDP set) still estimates CPU energy from
    the CPU table nbprofile ships, and says which table and which model it matched."""
    from nbprofile.meters import cpu_energy

    monkeypatch.setattr(cpu_energy, "codecarbon_data_dir", lambda: None)
    monkeypatch.delenv("NBPROFILE_CPU_TDP_W", raising=False)
    monkeypatch.delenv("NBPROFILE_CPU_THREADS", raising=False)
    cpuinfo = tmp_path / "cpuinfo"
    cpuinfo.write_text("processor\t: 0\nmodel name\t: Intel(R) Core(TM) i7-8700K CPU @ 3.70GHz\n"
                       "siblings\t: 12\nflags\t\t: fpu sse\n\n")
    meter = cpu_energy.CpuEnergyMeter(tmp_path / "no-powercap", cpuinfo_path=str(cpuinfo), watch=False)
    availability = meter.probe()
    assert availability.available, availability
    assert "as shipped with nbprofile: Core i7-8700K" in availability.detail or \
        "as shipped with nbprofile: Intel Core i7-8700K" in availability.detail, availability.detail
    assert "TDP 95 W" in availability.detail and "/ 12 threads" in availability.detail
