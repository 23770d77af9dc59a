"""Issue 4 on a machine without a GPU, through a real kernel: honest absences, labelled estimates.

Which CPU-energy contract applies is decided from the machine itself (tests/support/machine.py):
RAPL readable: measured; else CodeCarbon's TDP table (or ``NBPROFILE_CPU_TDP_W``): an estimate
that names its watts and where they came from; else unavailable, with the fix.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nbprofile.record import CellRecord
from nbprofile.store import SQLiteStore
from tests.support import machine

pytestmark = [
    pytest.mark.kernel,
    pytest.mark.skipif(machine.has_nvidia_gpu(), reason="checks what a machine without a GPU shows"),
]
#: "this process's CPU time x 2.50 W per busy thread": the figure an estimate states
PER_THREAD = re.compile(r"this process's CPU time x (\d+(?:\.\d+)?) W per busy thread")


def check_cpu_energy(record: CellRecord) -> None:
    """``cpu_energy_j`` as this machine allows: measured by RAPL, an estimate stating its watts
    per thread (and the cell's CPU time at that rate), or unavailable saying how to get one."""
    energy = record.readings["cpu_energy_j"]
    cpu_s = record.value("cpu_s")
    assert cpu_s is not None and cpu_s > 0
    if machine.rapl_readable():
        assert energy.method == "measured" and energy.source.startswith("rapl:") and energy.value is not None
        return
    if not machine.cpu_energy_estimable():
        assert energy.value is None and energy.method == "unavailable"
        assert energy.note and "RAPL unusable" in energy.note
        assert "codecarbon" in energy.note and "TDP" in energy.note, energy.note  # the fix: install it, or set one
        return
    assert energy.method == "estimated" and energy.source, energy
    found = PER_THREAD.search(energy.note or "")
    assert found, energy.note
    watts = float(found.group(1))
    if energy.source == "cpu-time x generic 4 W/thread":  # the CPU is not in the table, or its threads are hidden
        assert watts == 4 and "CodeCarbon's generic figure" in (energy.note or "")
        assert machine.cpu_model() in (energy.note or ""), energy.note  # the CPU it could not place
    else:
        assert energy.source == "cpu-time x TDP/threads", energy.source
        tdp = re.search(r"TDP (\d+(?:\.\d+)?) W, .*/ (\d+(?:\.\d+)?) threads per package", energy.note or "")
        assert tdp, energy.note
        assert watts == pytest.approx(float(tdp.group(1)) / float(tdp.group(2)), abs=0.005)
    # the cell's CPU time at that rate; the energy window encloses the CPU clock's by a few µs
    assert energy.value == pytest.approx(cpu_s * watts, rel=0.05, abs=0.002 * watts), (energy.value, cpu_s, watts)
    dram = record.readings["dram_energy_j"]
    assert dram.value is None and dram.note and "DRAM" in dram.note


def test_gpu_fields_are_unavailable_with_reasons_and_energy_is_labelled(start_kernel, _isolated_store: Path) -> None:
    """A CPU cell here: the GPU readings are unavailable with the reason, CPU energy is what the machine
    allows, ``energy_j`` is the sum of what was obtained, and ``co2_g`` follows from it exactly."""
    k = start_kernel()
    k.run("%load_ext nbprofile")
    k.run("%nbprofile carbon region=FRA pue=1.2")
    k.run("x = sum(range(3_000_000))", cell_id="work")
    store = SQLiteStore(_isolated_store)
    (record,) = [r for r in store.history(None, 50) if r.cell_id == "work"]
    for key in ("gpu_time_s", "gpu_energy_j", "vram_peak_bytes"):
        reading = record.readings[key]
        assert reading.value is None and reading.method == "unavailable", key
        assert reading.note, f"{key} is unavailable without saying why"
    assert "torch is not imported" in (record.readings["gpu_time_s"].note or "")

    check_cpu_energy(record)
    # energy_j: the sum of the parts that have a value, no weaker than the weakest of them
    parts = [record.readings[k] for k in ("gpu_energy_j", "cpu_energy_j", "dram_energy_j") if k in record.readings]
    known = [p for p in parts if p.value is not None]
    energy = record.readings["energy_j"]
    co2 = record.readings["co2_g"]
    if not known:
        assert energy.value is None and energy.method == "unavailable"
        assert record.readings["cpu_energy_j"].note in (energy.note or "")
        assert co2.value is None and co2.method == "unavailable"
        assert co2.note == energy.note  # the reason is carried through once, never a 0
        return
    assert energy.value == pytest.approx(sum(p.value for p in known))  # type: ignore[misc]
    assert energy.method == ("estimated" if any(p.method == "estimated" for p in known) else "measured")
    assert "excludes gpu (" in (energy.note or "")  # what was left out, and why

    # co2_g = energy_j / 3.6e6 x PUE x the grid intensity, with France's figure from the table itself
    name, grams = machine.country_intensity("FRA")
    assert co2.value == pytest.approx(energy.value / machine.J_PER_KWH * 1.2 * grams, rel=1e-9)
    assert co2.method == energy.method  # a set region: the energy's method
    assert co2.note and co2.note.startswith(f"{grams:g} gCO2e/kWh ({name} (FRA), ") and "x PUE 1.2" in co2.note
    if energy.method == "estimated":
        assert co2.note.endswith("; energy estimated")
    carbon = store.run(record.run_id)["info"]["carbon"]  # type: ignore[index]
    assert (carbon["region"], carbon["pue"], carbon["intensity_g_per_kwh"]) == ("FRA", 1.2, grams)

    doctor = k.run("%nbprofile doctor").result["text/plain"]  # type: ignore[index]
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in doctor.splitlines() if line.startswith("│ ") and line.split("│")[1].strip()}
    assert rows["nvml"] == "unavailable" and rows["NVML"] == "unavailable"
    if machine.torch_build()[1] is None:  # no torch, or a CPU-only build
        assert rows["torch_cuda"] == "unavailable"
    assert rows["carbon intensity"] == "info"
    assert f"{grams:g} gCO2e/kWh" in doctor  # the kernel's own setting, not the default


def test_status_and_doctor_from_the_command_line(capsys: pytest.CaptureFixture[str]) -> None:
    """``nbprofile doctor`` prints one row per meter and per part of the environment, with its state here."""
    from nbprofile.cli.main import main

    assert main(["doctor", "--width", "200"]) == 0
    out, err = capsys.readouterr()
    assert err == "" and out.startswith("nbprofile doctor")
    rows = {line.split("│")[1].strip(): line.split("│")[2].strip()
            for line in out.splitlines() if line.startswith("│ ") and line.split("│")[1].strip()}
    expected = {
        "memory": "ok" if machine.clear_refs_error() is None else "sampled",
        "dask": "ok", "cpu": "ok", "wall": "ok", "llm": "ok", "generate": "ok", "flops": "opt-in",
        "nvml": "unavailable", "torch_cuda": "unavailable" if machine.torch_build()[1] is None else "ok",
        "cpu_energy": "ok" if machine.rapl_readable() else "estimate" if machine.cpu_energy_estimable() else "unavailable",
        "store": "ok", "clear_refs": "ok" if machine.clear_refs_error() is None else "unavailable",
        "RAPL": "ok" if machine.rapl_readable() else "unavailable", "NVML": "unavailable",
        "torch": "info", "CodeCarbon data": "ok" if machine.codecarbon_data() else "info",
        "carbon intensity": "info", "prices": "info",
    }
    assert rows == expected
