"""The doctor on this machine: every meter's state, and a reason and a fix for what does not work.

What each row must say is worked out from the machine itself (tests/support/machine.py: device
nodes, /proc, /sys, the installed packages' files), not from nbprofile's own probes.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from nbprofile.derive.carbon import CarbonConfig
from nbprofile.engine.doctor import GOOD, Doctor, DoctorRow, run_doctor
from nbprofile.meters.base import Meter
from nbprofile.readings import Availability, Readings
from tests.support import machine

NO_GPU = not machine.has_nvidia_gpu()
METERS = {"dask", "nvml", "torch_cuda", "memory", "cpu_energy", "cpu", "llm", "generate", "flops", "wall"}
ENVIRONMENT = ["store", "clear_refs", "RAPL", "NVML", "torch", "CodeCarbon data", "carbon intensity", "prices"]


def assert_problems_have_fixes(doctor: Doctor) -> None:
    """Every row that is not fine (not ok, estimate, sampled, opt-in or info) says what would fix it."""
    for row in doctor.rows:
        if row.status not in GOOD:
            assert row.detail and row.fix, f"{row.name} is {row.status} with no fix: {row}"


def test_every_row_that_does_not_work_says_why_and_the_fix() -> None:
    doctor = run_doctor()
    assert {r.name for r in doctor.rows if r.section == "meter"} == METERS
    assert [r.name for r in doctor.rows if r.section == "environment"] == ENVIRONMENT
    for row in doctor.rows:
        assert row.detail, row
    assert_problems_have_fixes(doctor)
    assert doctor.problems == [r for r in doctor.rows if r.status not in GOOD]


def test_each_meter_row_says_what_this_machine_has() -> None:
    doctor = run_doctor()
    row = doctor.row

    memory = row("memory")
    if machine.clear_refs_error() is None:
        assert (memory.status, memory.detail, memory.fix) == ("ok", "exact peak: clear_refs reset + VmHWM", None)
    else:
        assert memory.status == "sampled" and memory.fix
        assert memory.detail.startswith(f"sampled every 10 ms: cannot reset the peak ({machine.CLEAR_REFS}: ")
    assert (row("cpu").status, row("wall").status, row("llm").status, row("generate").status) == ("ok",) * 4
    assert row("cpu").detail.startswith("getrusage: ") and row("wall").detail.startswith("perf_counter_ns")
    assert row("flops").status == "opt-in" and "%nbprofile flops on" in row("flops").detail

    torch_installed, cuda = machine.torch_build()
    torch_cuda = row("torch_cuda")
    if not torch_installed:
        assert (torch_cuda.status, torch_cuda.detail) == ("unavailable", "torch is not installed")
        assert torch_cuda.fix and "CUDA build of torch" in torch_cuda.fix
    elif cuda is None:
        assert (torch_cuda.status, torch_cuda.detail, torch_cuda.fix) == (
            "unavailable", "torch is a CPU-only build (torch.version.cuda is None)", "install a CUDA build of torch")
    else:
        assert torch_cuda.status == "ok"

    energy, rapl = row("cpu_energy"), row("RAPL")
    if machine.rapl_readable():
        assert energy.status == "ok" and energy.detail.startswith("measured by RAPL (rapl:")
    elif machine.cpu_energy_estimable():
        assert energy.status == "estimate"
        assert energy.detail.startswith("ESTIMATE: this process's CPU time x ")
        assert " W per busy thread" in energy.detail and energy.detail.endswith(f"; RAPL unusable: {rapl.detail}")
        assert energy.fix == rapl.fix  # the way to a measured figure
    else:
        assert energy.status == "unavailable" and "no estimate: " in energy.detail
        assert energy.fix and "NBPROFILE_CPU_TDP_W" in energy.fix


def test_each_environment_row_says_what_this_machine_has(_isolated_store: Path) -> None:
    doctor = run_doctor()
    row = doctor.row

    store = row("store")  # the test's own store: not created until a record is written
    assert (store.status, store.detail, store.fix) == ("ok", f"{_isolated_store} (will be created, writable)", None)

    clear_refs, why = row("clear_refs"), machine.clear_refs_error()
    if why is None:
        assert (clear_refs.status, clear_refs.detail) == (
            "ok", f"{machine.CLEAR_REFS} writable: exact per-cell RAM peaks")
    else:
        assert clear_refs.status == "unavailable" and clear_refs.detail.startswith(f"{machine.CLEAR_REFS}: {why}")
        assert clear_refs.fix

    rapl = row("RAPL")
    if machine.rapl_readable():
        assert rapl.status == "ok" and rapl.detail.startswith("readable: ")
    elif not Path(machine.POWERCAP).is_dir():
        assert (rapl.status, rapl.detail) == ("unavailable", f"no {machine.POWERCAP} (typical in VMs and containers)")
        assert rapl.fix and "bare-metal" in rapl.fix
    else:
        assert rapl.status == "unavailable" and rapl.fix

    nvml = row("NVML")
    if not machine.pynvml_installed():
        assert (nvml.status, nvml.detail) == ("unavailable", "nvidia-ml-py is not installed")
        assert nvml.fix and "pip install nvidia-ml-py" in nvml.fix
    elif NO_GPU:
        assert nvml.status == "unavailable" and nvml.detail.startswith("nvmlInit failed: ")
        assert nvml.detail.endswith(": no NVIDIA driver or GPU here") and nvml.fix and "driver" in nvml.fix
    else:
        assert nvml.status == "ok" and " GPU(s): " in nvml.detail

    torch, (torch_installed, _) = row("torch"), machine.torch_build()
    assert torch.status == "info"
    if "torch" in sys.modules:
        assert torch.detail.startswith(f"torch {sys.modules['torch'].__version__} imported; CUDA ")
    elif torch_installed:
        assert torch.detail.startswith("installed, not imported in this process")
    else:
        assert torch.detail == "not installed: no GPU time, VRAM or FLOPs"

    data, codecarbon = row("CodeCarbon data"), machine.codecarbon_data()
    if codecarbon is not None:
        countries = sum(1 for iso, entry in machine.energy_mix().items()
                        if not iso.startswith("_") and entry.get("carbon_intensity") is not None)
        assert (data.status, data.detail) == ("ok", f"{codecarbon} ({countries} countries; CPU TDP table)")
    else:
        assert data.status == "info" and "bundled copy" in data.detail and data.fix

    carbon = row("carbon intensity")  # nothing configured: the world average, and how to say where you are
    assert carbon.status == "info"
    assert carbon.detail.startswith(f"{machine.world_intensity():g} gCO2e/kWh (world average, ")
    assert carbon.detail.endswith(") x PUE 1")
    assert carbon.fix == "%nbprofile carbon region=<ISO-3> pue=<PUE>"

    prices = row("prices")
    assert (prices.status, prices.detail) == ("info", "GPU-hour: defaults by GPU model; electricity $0.15/kWh (default)")
    assert prices.fix and "%nbprofile compute-price" in prices.fix


def test_the_store_row_says_whether_the_store_exists(_isolated_store: Path) -> None:
    from nbprofile.store import SQLiteStore

    SQLiteStore(_isolated_store).close()
    store = run_doctor().row("store")
    assert (store.status, store.detail) == ("ok", f"{_isolated_store} (exists, writable)")


def test_the_carbon_row_names_the_intensity_and_its_source(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NBPROFILE_CARBON_REGION", "deu")
    monkeypatch.setenv("NBPROFILE_PUE", "1.3")
    name, grams = machine.country_intensity("DEU")
    year = machine.energy_mix()["DEU"]["year"]
    carbon = run_doctor().row("carbon intensity")
    assert carbon.status == "info" and carbon.fix is None  # set: nothing to fix
    assert carbon.detail.startswith(f"{grams:g} gCO2e/kWh ({name} (DEU), {year} data, CodeCarbon ")
    assert carbon.detail.endswith(" global_energy_mix.json) x PUE 1.3")
    own = run_doctor(carbon=CarbonConfig(pue=1.1, intensity_g_per_kwh=56.5)).row("carbon intensity")
    assert (own.status, own.detail, own.fix) == ("info", "56.5 gCO2e/kWh (user-set, your intensity) x PUE 1.1", None)


@pytest.mark.parametrize(("variable", "value", "name", "status", "words"), [
    ("NBPROFILE_PUE", "0.5", "carbon intensity", "error", ("pue=0.5", "NBPROFILE_PUE")),
    ("NBPROFILE_CARBON_REGION", "Atlantis", "carbon intensity", "error", ("'Atlantis'", "NBPROFILE_CARBON_REGION")),
    ("NBPROFILE_DB", "corrupt", "store", "failing", ("not a database",)),
    ("NBPROFILE_KWH_USD", "abc", "prices", "error", ("kwh=abc", "NBPROFILE_KWH_USD")),
    ("NBPROFILE_CPU_TDP_W", "-1", "cpu_energy", "error", ("NBPROFILE_CPU_TDP_W='-1'",)),
])
def test_a_bad_setting_is_a_row_with_the_reason_and_the_fix(
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path, variable: str, value: str, name: str, status: str,
        words: tuple[str, ...]) -> None:
    if value == "corrupt":
        bad = tmp_path / "bad.db"
        bad.write_bytes(b"this is not SQLite" * 100)
        value = str(bad)
    monkeypatch.setenv(variable, value)
    doctor = run_doctor()
    row = doctor.row(name)
    assert row.status == status and all(w in row.detail for w in words), row
    assert_problems_have_fixes(doctor)


@pytest.mark.skipif(not NO_GPU, reason="this machine has an NVIDIA GPU")
def test_gpu_meters_unavailable_with_reason() -> None:
    doctor = run_doctor()
    nvml = doctor.row("nvml")
    assert nvml.status == "unavailable" and nvml.fix
    if machine.pynvml_installed():
        assert nvml.detail.startswith("no NVIDIA driver (NVML: ") and "driver" in nvml.fix
    else:
        assert "not installed" in nvml.detail and "pip install nvidia-ml-py" in nvml.fix
    torch_cuda = doctor.row("torch_cuda")
    if machine.torch_build()[1] is None:  # no torch, or a CPU-only build: nothing could use a GPU
        assert torch_cuda.status == "unavailable" and torch_cuda.detail.startswith("torch ") and torch_cuda.fix


def test_text_and_html() -> None:
    doctor = run_doctor()
    text = repr(doctor)
    assert "nbprofile doctor" in text and "cpu_energy" in text and "RAPL" in text and "environment" in text
    html = doctor._repr_html_()
    assert html.count("<tr>") == len(doctor.rows) + 1  # + the header
    evil = Doctor([DoctorRow("meter", "<b>x</b>", "error", "a & <script>alert(1)</script>", "<i>")])
    escaped = evil._repr_html_()
    assert "<script>" not in escaped and "&lt;script&gt;" in escaped and "&amp;" in escaped
    assert "<b>x</b>" not in escaped and "<i>" not in escaped

    class Pretty:
        def __init__(self) -> None:
            self.out = ""

        def text(self, s: str) -> None:
            self.out += s

    p = Pretty()
    evil._repr_pretty_(p, False)
    assert "<script>alert(1)</script>" in p.out  # plain text stays literal


def test_plain_text_fallback_has_every_row() -> None:
    doctor = Doctor([DoctorRow("meter", "m", "unavailable", "why", "fix it"), DoctorRow("environment", "e", "ok", "d")])
    text = doctor._plain()
    assert "m: unavailable: why (fix: fix it)" in text and "e: ok: d" in text


class Broken(Meter):
    name = "broken"
    keys = ("broken_s",)

    def probe(self) -> Availability:
        raise RuntimeError("sensor on fire")

    def begin(self, key: object) -> None: ...

    def end(self, key: object) -> Readings:
        return {}


def test_a_failing_probe_is_a_row_not_a_crash() -> None:
    from nbprofile.engine.doctor import _probe_and_close

    row = _probe_and_close(Broken())
    assert row.status == "error" and "sensor on fire" in row.detail


def test_with_a_profiler_reports_its_meters() -> None:
    from nbprofile.engine.profiler import Profiler

    profiler = Profiler(meters=[Broken()])
    try:
        doctor = run_doctor(profiler)
    finally:
        profiler.close()
    broken = doctor.row("broken")
    assert broken.status == "off" and "sensor on fire" in broken.detail
    assert doctor.problems and all(r.status not in GOOD for r in doctor.problems)
    assert {d["name"] for d in doctor.to_dicts()} >= {"broken", "store"}


def test_without_codecarbon_the_bundled_table_is_named(monkeypatch: pytest.MonkeyPatch) -> None:
    from nbprofile.derive import carbon

    monkeypatch.setattr(carbon, "codecarbon_data_dir", lambda: None)
    carbon.load_table.cache_clear()
    try:
        row = run_doctor().row("CodeCarbon data")
    finally:
        carbon.load_table.cache_clear()
    assert "the copies nbprofile ships" in row.detail and "global_energy_mix.json" in row.detail
    assert "CPU TDP table" in row.detail and row.fix and "pip install codecarbon" in row.fix
