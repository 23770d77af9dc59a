"""FlopMeter (opt-in FlopCounterMode) and the MFU deriver. The counting tests need torch (a CPU build does)."""

from __future__ import annotations

import importlib.util
import sys
from typing import Any

import pytest

from nbprofile.derive.mfu import Peak, derive_mfu, device_peak, peak_for
from nbprofile.meters import flops as flops_mod
from nbprofile.meters.flops import FlopMeter
from nbprofile.readings import Reading

R = Reading
needs_torch = pytest.mark.skipif(importlib.util.find_spec("torch") is None, reason="torch is not installed")


@pytest.fixture
def torch() -> Any:
    if importlib.util.find_spec("torch") is None:
        pytest.skip("torch is not installed")
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.cuda imports the deprecated pynvml shim
        import torch
    return torch


def test_disabled_adds_no_keys() -> None:
    meter = FlopMeter()
    assert meter.enabled is False
    meter.begin("k")
    assert meter.end("k") == {}


def test_enabled_without_torch_imported_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    meter = FlopMeter(enabled=True)
    meter.begin("k")
    r = meter.end("k")["flops"]
    assert r.value is None and "not imported" in (r.note or "")
    assert "torch" not in sys.modules  # the meter never imports it


def test_probe_without_torch_says_how(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "torch" else real(name, *a))
    availability = FlopMeter().probe()
    assert not availability.available and "pip install torch" in (availability.fix or "")


def test_exact_flops_of_a_matmul(torch: Any) -> None:
    m, k, n = 64, 128, 32
    a, b = torch.randn(m, k), torch.randn(k, n)
    meter = FlopMeter(enabled=True)
    assert meter.probe().available
    meter.begin("cell")
    a @ b
    r = meter.end("cell")["flops"]
    assert r.value == 2 * m * n * k and r.method == "measured" and r.unit == "FLOP"
    assert "FlopCounterMode" in r.source


def test_nested_windows_both_count(torch: Any) -> None:
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    one = 2 * 8 * 16 * 4
    meter = FlopMeter(enabled=True)
    meter.begin("cell")
    a @ b
    meter.begin("block")
    a @ b
    assert meter.end("block")["flops"].value == one
    assert meter.end("cell")["flops"].value == 2 * one


def test_outer_closing_first_cuts_the_inner_short(torch: Any) -> None:
    a, b = torch.randn(8, 16), torch.randn(16, 4)
    meter = FlopMeter(enabled=True)
    meter.begin("cell")
    meter.begin("block")
    a @ b
    assert meter.end("cell")["flops"].value == 2 * 8 * 16 * 4
    inner = meter.end("block")["flops"]
    assert inner.value is None and "enclosing window closed first" in (inner.note or "")
    meter.begin("next")  # the mode stack is clean again
    a @ b
    assert meter.end("next")["flops"].value == 2 * 8 * 16 * 4


def test_discard_and_close_leave_no_mode_behind(torch: Any) -> None:
    from torch.utils._python_dispatch import _get_current_dispatch_mode_stack

    meter = FlopMeter(enabled=True)
    before = len(_get_current_dispatch_mode_stack())
    meter.begin("a")
    meter.discard("a")
    meter.begin("b")
    meter.close()
    assert len(_get_current_dispatch_mode_stack()) == before
    assert meter.end("a") == {} and meter.end("b") == {}


def test_mfu_from_flops_time_and_peak() -> None:
    derive = derive_mfu(Peak(1e12, "test GPU"))
    readings = {"flops": R(5e11, "FLOP", "measured"), "wall_s": R(2.0, "s", "measured"),
                "gpu_time_s": R(1.0, "s", "measured")}
    r = derive(readings)["mfu_fraction"]
    assert r.value == pytest.approx(0.5)  # gpu_time_s preferred over wall_s
    assert "test GPU" in (r.note or "")
    readings["gpu0_vram_peak_bytes"] = R(1, "B", "measured")
    readings["gpu1_vram_peak_bytes"] = R(1, "B", "measured")
    assert derive(readings)["mfu_fraction"].value == pytest.approx(0.25)  # two GPUs, twice the peak
    del readings["gpu_time_s"]
    assert derive_mfu(2e12)(readings)["mfu_fraction"].value == pytest.approx(5e11 / (2.0 * 2e12 * 2))


def test_mfu_absent_or_unavailable() -> None:
    assert derive_mfu(1e12)({"wall_s": R(1.0, "s", "measured")}) == {}  # flops off: no MFU key either
    unknown = derive_mfu(lambda: None)({"flops": R(1.0, "FLOP", "measured"), "wall_s": R(1.0, "s", "measured")})
    assert unknown["mfu_fraction"].value is None and "peak throughput unknown" in (unknown["mfu_fraction"].note or "")
    no_count = derive_mfu(1e12)({"flops": R.unavailable("FLOP", "torch is not imported")})
    assert "torch is not imported" in (no_count["mfu_fraction"].note or "")


def test_peak_table() -> None:
    assert peak_for("NVIDIA H100 80GB HBM3") == Peak(989.4e12, "H100 SXM, bf16 dense")
    assert peak_for("NVIDIA H100 PCIe").flops_per_s == 756e12  # type: ignore[union-attr]
    assert peak_for("NVIDIA H200").flops_per_s == 989e12  # type: ignore[union-attr]
    assert peak_for("NVIDIA A100-SXM4-40GB").flops_per_s == 312e12  # type: ignore[union-attr]
    assert peak_for("NVIDIA L4").flops_per_s == 121e12  # type: ignore[union-attr]
    assert peak_for("NVIDIA L40S").flops_per_s == 362e12  # type: ignore[union-attr]
    assert peak_for(None) is None and peak_for("AMD EPYC 7763") is None
    torch = sys.modules.get("torch")
    if torch is None or not torch.cuda.is_initialized():
        assert device_peak() is None  # CUDA not up: no device, no peak (and CUDA is not started)


@needs_torch
def test_meter_module_does_not_import_torch() -> None:
    import subprocess

    code = "import sys, nbprofile.meters.flops as f; f.FlopMeter(enabled=True).probe(); print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"
    assert flops_mod.FLOPS_NOTE
