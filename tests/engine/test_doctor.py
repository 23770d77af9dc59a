"""The doctor on this machine: every meter's state, and a reason and a fix for what does not work."""

from __future__ import annotations

import os

import pytest
from nbprofile.engine.doctor import GOOD, Doctor, DoctorRow, run_doctor

from nbprofile.meters.base import Meter
from nbprofile.readings import Availability, Readings

NO_GPU = not os.path.exists("/dev/nvidia0")
NO_POWERCAP = not os.path.isdir("/sys/class/powercap")


def test_every_row_that_does_not_work_says_why() -> None:
    doctor = run_doctor()
    names = [r.name for r in doctor.rows]
    for expected in ("memory", "cpu", "wall", "cpu_energy", "flops", "store", "clear_refs", "RAPL", "NVML",
                     "CodeCarbon data", "carbon intensity", "prices"):
        assert expected in names
    for row in doctor.rows:
        assert row.detail, row
        if row.status in ("unavailable", "off", "error"):
            assert row.fix or row.status == "error", row


@pytest.mark.skipif(not NO_POWERCAP, reason="this machine has powercap")
def test_rapl_unavailable_is_explained_and_cpu_energy_is_an_estimate_or_says_why() -> None:
    doctor = run_doctor()
    rapl = doctor.row("RAPL")
    assert rapl.status == "unavailable" and "powercap" in rapl.detail and rapl.fix
    energy = doctor.row("cpu_energy")
    assert energy.status in ("estimate", "unavailable")
    assert "RAPL unusable" in energy.detail and energy.fix
    if energy.status == "estimate":
        assert energy.detail.startswith("ESTIMATE")


@pytest.mark.skipif(not NO_GPU, reason="this machine has an NVIDIA GPU")
def test_gpu_meters_unavailable_with_reason() -> None:
    doctor = run_doctor()
    assert doctor.row("NVML").status == "unavailable" and doctor.row("NVML").fix
    gpu_rows = [r for r in doctor.rows if r.section == "meter" and r.name in ("torch_cuda", "nvml")]
    assert gpu_rows, "the GPU meters get a row even before they are built"
    for row in gpu_rows:
        assert row.status in ("unavailable", "not built yet", "error") and row.detail


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
    assert "bundled copy" in row.detail and "global_energy_mix.json" in row.detail
    assert row.fix and "pip install codecarbon" in row.fix
