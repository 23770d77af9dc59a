"""Issue 4 on a machine without a GPU, through a real kernel: honest absences, labelled estimates."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel


def test_gpu_fields_are_unavailable_with_reasons_and_energy_is_labelled(start_kernel, _isolated_store: Path) -> None:
    k = start_kernel()
    k.run("%load_ext nbprofile")
    k.run("%nbprofile carbon region=FRA pue=1.2")
    k.run("x = sum(range(3_000_000))", cell_id="work")
    (record,) = [r for r in SQLiteStore(_isolated_store).history(None, 50) if r.cell_id == "work"]
    for key in ("gpu_time_s", "gpu_energy_j", "vram_peak_bytes"):
        reading = record.readings[key]
        assert reading.value is None and reading.method == "unavailable", key
        assert reading.note, f"{key} is unavailable without saying why"
    energy = record.readings["energy_j"]
    assert energy.method != "measured" or energy.source  # on a VM: an estimate, labelled
    if energy.value is not None:
        co2 = record.readings["co2_g"]
        assert co2.value == pytest.approx(energy.value / 3.6e6 * 1.2 * 56.039, rel=1e-3)
        assert "France" in (co2.note or "") + co2.source
    doctor = k.run("%nbprofile doctor")
    text = doctor.result["text/plain"]
    assert "nvml" in text and "unavailable" in text
    assert "torch_cuda" in text


def test_status_and_doctor_from_the_command_line(capsys) -> None:
    from nbprofile.cli.main import main

    assert main(["doctor"]) == 0
    out = capsys.readouterr().out
    for name in ("memory", "cpu_energy", "nvml", "torch_cuda", "store", "clear_refs"):
        assert name in out
