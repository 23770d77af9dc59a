"""compute_cost_usd and cost_usd derivers, prices and their parser."""

from __future__ import annotations

import pathlib

import pytest

from nbprofile.derive import cost as compute_cost
from nbprofile.derive.cost import (
    DEFAULT_KWH_USD,
    GENERIC_GPU_HOUR_USD,
    ComputePrices,
    derive_compute_cost,
    derive_cost,
    parse_price_args,
)
from nbprofile.derive.gpus import gpus_in_use
from nbprofile.meters.torch_cuda import cuda_device_name
from nbprofile.readings import Reading

R = Reading
NO_GPU = R.unavailable("s", "torch is not in use in this kernel")


def gpu_window(wall_s: float, devices: int = 1, energy_j: float | None = None) -> dict[str, Reading]:
    readings = {"wall_s": R(wall_s, "s", "measured"), "gpu_time_s": R(wall_s, "s", "measured")}
    for i in range(devices):
        readings[f"gpu{i}_vram_peak_bytes"] = R(2**30, "B", "measured")
    if energy_j is not None:
        readings["energy_j"] = R(energy_j, "J", "measured")
    return readings


def test_gpu_hours_at_the_default_price_are_labelled() -> None:
    derive = derive_compute_cost(ComputePrices(), "NVIDIA H100 80GB HBM3")
    r = derive(gpu_window(1800, devices=2, energy_j=3.6e6))["compute_cost_usd"]
    assert r.value == pytest.approx(2 * 0.5 * 3.00)  # energy is in the rental price: not added
    assert r.method == "estimated" and r.source == "default prices"
    assert "2 x H100" in (r.note or "") and "(default)" in (r.note or "") and "electricity included" in (r.note or "")


def test_user_prices_and_owned_hardware_charge_energy_too() -> None:
    prices = parse_price_args(["gpu:H100=2.0", "kwh=0.30", "energy_in_gpu_price=no"], ComputePrices())
    derive = derive_compute_cost(prices, "NVIDIA H100 PCIe")
    r = derive(gpu_window(3600, energy_j=2 * 3.6e6))["compute_cost_usd"]
    assert r.value == pytest.approx(2.0 + 2 * 0.30)
    assert r.method == "measured" and r.source == "user prices"


def test_unknown_gpu_gets_the_generic_default() -> None:
    names = iter([None, "Mystery GPU 9000", "ignored: the name is asked once it is known"])
    derive = derive_compute_cost(ComputePrices(), lambda: next(names))
    first = derive(gpu_window(3600))["compute_cost_usd"]
    assert first.value == pytest.approx(GENERIC_GPU_HOUR_USD) and "model unknown" in (first.note or "")
    second = derive(gpu_window(3600))["compute_cost_usd"]
    assert "Mystery GPU 9000" in (second.note or "")
    assert "Mystery GPU 9000" in (derive(gpu_window(3600))["compute_cost_usd"].note or "")


def test_cpu_only_cell_pays_for_energy() -> None:
    derive = derive_compute_cost(ComputePrices())
    r = derive({"wall_s": R(10.0, "s", "measured"), "gpu_time_s": NO_GPU,
                "energy_j": R(3.6e6, "J", "estimated")})["compute_cost_usd"]
    assert r.value == pytest.approx(DEFAULT_KWH_USD) and r.method == "estimated"
    assert "estimated energy" in (r.note or "")


def test_no_gpu_and_no_energy_is_unavailable_with_the_reasons() -> None:
    derive = derive_compute_cost(ComputePrices())
    r = derive({"wall_s": R(10.0, "s", "measured"), "gpu_time_s": NO_GPU,
                "energy_j": R.unavailable("J", "RAPL root-only")})["compute_cost_usd"]
    assert r.value is None and r.method == "unavailable"
    assert "torch is not in use" in (r.note or "") and "RAPL root-only" in (r.note or "")
    assert derive({"wall_s": R(1.0, "s", "measured")})["compute_cost_usd"].value is None


def test_gpu_without_energy_when_energy_is_charged_says_so() -> None:
    prices = ComputePrices(energy_in_gpu_price=False)
    window = gpu_window(3600)
    window["energy_j"] = R.unavailable("J", "no energy reading")
    r = derive_compute_cost(prices, "NVIDIA L4")(window)["compute_cost_usd"]
    assert r.value == pytest.approx(0.70) and "electricity not charged" in (r.note or "")


def test_cost_sums_available_parts_never_a_missing_zero() -> None:
    both = derive_cost({"compute_cost_usd": R(1.5, "USD", "estimated"), "llm_cost_usd": R(0.25, "USD", "measured")})
    assert both["cost_usd"].value == pytest.approx(1.75) and both["cost_usd"].method == "estimated"
    compute = derive_cost({"compute_cost_usd": R(1.5, "USD", "measured")})["cost_usd"]
    assert compute.value == 1.5 and "compute only" in (compute.note or "") and "no LLM meter" in (compute.note or "")
    llm = derive_cost({"compute_cost_usd": R.unavailable("USD", "no GPU and no energy"),
                       "llm_cost_usd": R(0.0, "USD", "measured")})["cost_usd"]
    assert llm.value == 0.0 and llm.method == "measured" and "LLM only" in (llm.note or "")
    none = derive_cost({"compute_cost_usd": R.unavailable("USD", "no GPU and no energy"),
                        "llm_cost_usd": R.unavailable("USD", "unknown model")})["cost_usd"]
    assert none.value is None and "no GPU and no energy" in (none.note or "") and "unknown model" in (none.note or "")


def test_default_gpu_prices_match_common_names() -> None:
    prices = ComputePrices()
    for name, label in [("NVIDIA H100 80GB HBM3", "H100"), ("NVIDIA H200", "H200"),
                        ("NVIDIA A100-SXM4-80GB", "A100 80GB"), ("NVIDIA A100-PCIE-40GB", "A100 40GB"),
                        ("NVIDIA L4", "L4"), ("NVIDIA L40S", "L40S"), ("Tesla T4", "T4")]:
        price = prices.gpu_price(name)
        assert (price.what, price.origin) == (label, "default"), name


def test_parse_price_args_and_specific_beats_every_gpu() -> None:
    prices = parse_price_args(["gpu_hour=2", "gpu:H100=2.1", "kwh=$0.3"], ComputePrices())
    assert prices.gpu_price("NVIDIA H100").usd == 2.1
    assert prices.gpu_price("NVIDIA L4").usd == 2.0
    assert prices.kwh_price() == (0.3, "user", "electricity")
    back = parse_price_args(["gpu_hour=default", "gpu:H100=default", "kwh=default"], prices)
    assert back == ComputePrices()


@pytest.mark.parametrize("args, word", [(["foo=1"], "foo"), (["kwh=abc"], "kwh=abc"), (["kwh=-1"], ">= 0"),
                                        (["gpu:=1"], "gpu:"), (["energy_in_gpu_price=maybe"], "yes or no"),
                                        (["kwh"], "key=value")])
def test_parse_price_errors_are_one_line(args: list[str], word: str) -> None:
    with pytest.raises(ValueError) as err:
        parse_price_args(args, ComputePrices())
    assert word in str(err.value) and "\n" not in str(err.value)


def test_prices_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(compute_cost.GPU_HOUR_ENV, "1.25")
    monkeypatch.setenv(compute_cost.KWH_ENV, "0.2")
    prices = ComputePrices.from_env()
    assert prices.gpu_price(None) == (1.25, "user", "GPU (model unknown)") and prices.kwh_price().usd == 0.2
    monkeypatch.setenv(compute_cost.KWH_ENV, "cheap")
    with pytest.raises(ValueError, match=compute_cost.KWH_ENV):
        ComputePrices.from_env()


def test_gpus_in_use() -> None:
    assert gpus_in_use({}) == 1
    assert gpus_in_use(gpu_window(1, devices=3)) == 3
    window = gpu_window(1, devices=2)
    window["gpu1_vram_peak_bytes"] = R(0, "B", "measured")  # visible but unused
    assert gpus_in_use(window) == 1
    gap = {"gpu1_vram_peak_bytes": R(1, "B", "measured"), "gpu3_vram_peak_bytes": R(1, "B", "measured")}
    assert gpus_in_use(gap) == 2  # device 0 had no context: still two in use


def test_cuda_device_name_never_starts_cuda(monkeypatch: pytest.MonkeyPatch) -> None:
    import sys

    monkeypatch.delitem(sys.modules, "torch", raising=False)
    assert cuda_device_name() is None


def test_wired_into_a_profiler(tmp_path: pathlib.Path) -> None:
    """Meters, then derivers in order: energy_j, co2_g, compute_cost_usd, cost_usd, mfu_fraction."""
    from nbprofile.engine.profiler import Profiler

    from nbprofile.derive.carbon import CarbonConfig, derive_carbon, resolve
    from nbprofile.derive.energy import derive_energy
    from nbprofile.derive.mfu import derive_mfu, device_peak
    from nbprofile.meters.clock import WallClock
    from nbprofile.meters.cpu_energy import CpuEnergyMeter
    from nbprofile.meters.flops import FlopMeter

    domain = tmp_path / "intel-rapl:0"
    domain.mkdir()
    (domain / "name").write_text("package-0\n")
    (domain / "energy_uj").write_text("0\n")
    (domain / "max_energy_range_uj").write_text("262143328850\n")
    flops = FlopMeter()
    profiler = Profiler(meters=[CpuEnergyMeter(tmp_path, watch=False), flops, WallClock()])
    profiler.windows.derivers = [derive_energy, derive_carbon(CarbonConfig(region="FRA")),
                         derive_compute_cost(ComputePrices()), derive_cost, derive_mfu(device_peak)]
    try:
        window = profiler.open_window("cell")
        (domain / "energy_uj").write_text("3600000000\n")  # 3.6 kJ = 1 Wh
        readings = profiler.close_window(window)
    finally:
        profiler.close()
    assert not window.faults
    assert readings["cpu_energy_j"].value == pytest.approx(3600) and readings["cpu_energy_j"].method == "measured"
    assert readings["energy_j"].value == pytest.approx(3600)
    assert readings["co2_g"].value == pytest.approx(0.001 * resolve(CarbonConfig("FRA")).g_per_kwh) and readings["co2_g"].method == "measured"
    assert readings["compute_cost_usd"].value == pytest.approx(0.001 * DEFAULT_KWH_USD)
    assert readings["cost_usd"].value == pytest.approx(0.001 * DEFAULT_KWH_USD)
    assert "flops" not in readings and "mfu_fraction" not in readings  # FLOP counting is opt-in
