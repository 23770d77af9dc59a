"""Carbon intensity lookup, co2_g and energy_j derivers, and the %nbprofile carbon argument parser."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from nbprofile.datafiles import BUNDLED, codecarbon_data_dir
from nbprofile.derive import carbon
from nbprofile.derive.carbon import (
    WORLD_NOTE,
    CarbonConfig,
    carbon_info,
    derive_carbon,
    load_table,
    parse_carbon_args,
    resolve,
)
from nbprofile.derive.energy import J_PER_KWH, derive_energy
from nbprofile.readings import Reading

R = Reading


@pytest.fixture(autouse=True)
def _fresh_table(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for var in (carbon.REGION_ENV, carbon.PUE_ENV, carbon.INTENSITY_ENV):
        monkeypatch.delenv(var, raising=False)
    load_table.cache_clear()
    yield
    load_table.cache_clear()


@pytest.fixture
def vendored_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """As if codecarbon were not installed."""
    monkeypatch.setattr(carbon, "codecarbon_data_dir", lambda: None)
    load_table.cache_clear()


def codecarbon_mix() -> dict[str, dict[str, object]]:
    data = codecarbon_data_dir()
    if data is None:
        pytest.skip("codecarbon is not installed")
    mix: dict[str, dict[str, object]] = json.loads((data / "private_infra" / "global_energy_mix.json").read_text())
    return mix


@pytest.mark.parametrize("region", ["FRA", "USA"])
def test_lookup_equals_codecarbons_file(region: str) -> None:
    mix = codecarbon_mix()
    it = resolve(CarbonConfig(region=region))
    assert it.g_per_kwh == mix[region]["carbon_intensity"]
    assert it.year == mix[region]["year"]
    assert it.region == region and not it.world_default
    assert "CodeCarbon" in it.source and not load_table().vendored


def test_vendored_copy_matches_codecarbon_and_is_used_without_it(vendored_only: None) -> None:
    table = load_table()
    assert table.vendored and "copy of" in table.source
    assert len(table.countries) >= 200
    assert resolve(CarbonConfig(region="FRA")).g_per_kwh == pytest.approx(56.039)
    assert resolve(CarbonConfig()).g_per_kwh == 475
    assert carbon.codecarbon_data_dir() is None  # the fixture really hid codecarbon


def test_vendored_copy_is_faithful_to_codecarbon() -> None:
    mix = codecarbon_mix()
    vendored = json.loads(carbon.VENDORED.read_text())
    assert set(mix) == {k for k in vendored if not k.startswith("_")}
    for iso, entry in mix.items():
        assert vendored[iso]["carbon_intensity"] == entry["carbon_intensity"], iso
        assert vendored[iso]["year"] == entry["year"], iso


def test_no_region_is_world_average_labelled_estimated() -> None:
    it = resolve(CarbonConfig())
    assert it.world_default and it.region is None and it.g_per_kwh == 475
    co2 = derive_carbon(CarbonConfig())({"energy_j": R(J_PER_KWH, "J", "measured", "rapl")})["co2_g"]
    assert co2.method == "estimated" and co2.value == pytest.approx(475)
    assert WORLD_NOTE in (co2.note or "")


def test_pue_applied_exactly() -> None:
    energy_j = 7.2e6  # 2 kWh
    co2 = derive_carbon(CarbonConfig(region="FRA", pue=1.2))({"energy_j": R(energy_j, "J", "measured")})["co2_g"]
    g_per_kwh = resolve(CarbonConfig(region="FRA")).g_per_kwh
    assert co2.value == pytest.approx(2 * 1.2 * g_per_kwh, rel=1e-12)
    assert co2.method == "measured" and co2.unit == "g"
    note = co2.note or ""
    assert "France (FRA)" in note and "PUE 1.2" in note and str(resolve(CarbonConfig("FRA")).year) in note
    assert "CodeCarbon" in co2.source


def test_co2_follows_the_energys_method_and_absence() -> None:
    derive = derive_carbon(CarbonConfig(region="USA"))
    est = derive({"energy_j": R(1000.0, "J", "estimated", "sum")})["co2_g"]
    assert est.method == "estimated" and "energy estimated" in (est.note or "")
    gone = derive({"energy_j": R.unavailable("J", "no energy reading: cpu (RAPL root-only)")})["co2_g"]
    assert gone.value is None and gone.method == "unavailable" and "RAPL root-only" in (gone.note or "")
    assert derive({})["co2_g"].value is None


def test_intensity_override_wins() -> None:
    derive = derive_carbon(CarbonConfig(region="FRA", pue=1.5, intensity_g_per_kwh=100))
    co2 = derive({"energy_j": R(J_PER_KWH, "J", "measured")})["co2_g"]
    assert co2.value == pytest.approx(150) and co2.method == "measured"
    assert "your intensity" in co2.source


def test_parse_carbon_args() -> None:
    config = parse_carbon_args(["region=fra", "pue=1.2", "intensity=56"], CarbonConfig())
    assert config == CarbonConfig(region="FRA", pue=1.2, intensity_g_per_kwh=56.0)
    assert parse_carbon_args(["region=France"], CarbonConfig()).region == "FRA"
    assert parse_carbon_args(["region=world", "intensity=auto"], config) == CarbonConfig(pue=1.2)
    assert parse_carbon_args([], config) == config


@pytest.mark.parametrize("args, words", [
    (["region=FRN"], ["FRN", "FRA (France)", "ISO 3166"]),
    (["region=XYZ"], ["XYZ", "region=FRA"]),
    (["pue=abc"], ["pue=abc", "pue=1.2"]),
    (["pue=0.9"], ["pue=0.9", "below 1.0"]),
    (["pue=nan"], ["finite"]),
    (["intensity=-3"], ["intensity=-3", "negative"]),
    (["colour=red"], ["colour", "region="]),
    (["region"], ["key=value", "region"]),
])
def test_parse_errors_are_one_line_naming_the_part_and_the_fix(args: list[str], words: list[str]) -> None:
    with pytest.raises(ValueError) as err:
        parse_carbon_args(args, CarbonConfig())
    message = str(err.value)
    assert "\n" not in message
    for word in words:
        assert word in message


def test_config_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(carbon.REGION_ENV, "deu")
    monkeypatch.setenv(carbon.PUE_ENV, "1.3")
    assert CarbonConfig.from_env() == CarbonConfig(region="DEU", pue=1.3)
    monkeypatch.setenv(carbon.PUE_ENV, "lots")
    with pytest.raises(ValueError, match=carbon.PUE_ENV):
        CarbonConfig.from_env()


def test_carbon_info() -> None:
    info = carbon_info(CarbonConfig(region="FRA", pue=1.1))
    assert info["region"] == "FRA" and info["pue"] == 1.1 and info["year"] and "CodeCarbon" in info["source"]
    assert info["intensity_g_per_kwh"] == resolve(CarbonConfig("FRA")).g_per_kwh and not info["world_default"]
    world = carbon_info(CarbonConfig())
    assert world["region"] is None and world["world_default"] and world["year"] == 2018


def test_energy_sums_available_parts_with_weakest_method() -> None:
    all_measured = derive_energy({"gpu_energy_j": R(100.0, "J", "measured"), "cpu_energy_j": R(20.0, "J", "measured"),
                                  "dram_energy_j": R(5.0, "J", "measured")})["energy_j"]
    assert all_measured.value == pytest.approx(125) and all_measured.method == "measured"
    assert "excludes" not in (all_measured.note or "")
    mixed = derive_energy({"gpu_energy_j": R(100.0, "J", "sampled"), "cpu_energy_j": R(20.0, "J", "estimated"),
                           "dram_energy_j": R.unavailable("J", "not estimated")})["energy_j"]
    assert mixed.value == pytest.approx(120) and mixed.method == "estimated"
    assert "dram (not estimated)" in (mixed.note or "")


def test_energy_zero_is_a_value_and_absent_parts_are_named() -> None:
    r = derive_energy({"cpu_energy_j": R(0.0, "J", "measured")})["energy_j"]
    assert r.value == 0.0 and r.method == "measured"
    assert "gpu (no meter for it)" in (r.note or "") and "dram (no meter for it)" in (r.note or "")


def test_energy_with_no_part_is_unavailable_with_every_reason() -> None:
    r = derive_energy({"gpu_energy_j": R.unavailable("J", "no NVIDIA GPU"),
                       "cpu_energy_j": R.unavailable("J", "RAPL root-only")})["energy_j"]
    assert r.value is None and r.method == "unavailable"
    assert "no NVIDIA GPU" in (r.note or "") and "RAPL root-only" in (r.note or "")


def test_codecarbon_is_never_imported() -> None:
    import subprocess
    import sys

    code = ("import sys; from nbprofile.derive.carbon import resolve, CarbonConfig, load_table; "
            "from nbprofile.meters.cpu_energy import CpuEnergyMeter; CpuEnergyMeter().probe(); "
            "resolve(CarbonConfig('FRA')); print('codecarbon' in sys.modules, 'torch' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_vendored_readme_attributes_codecarbon() -> None:
    readme = (BUNDLED / "README.md").read_text()
    assert "MIT" in readme and "Code Carbon NGO" in readme and "global_energy_mix.json" in readme
