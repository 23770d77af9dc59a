"""Text a new user reads on the first day: reasons said once, fixes said once, prices and the carbon
intensity as sentences, no "tokens 0" without an LLM call, chart labels big enough to read."""

from __future__ import annotations

import html as htmlmod
import re
import sys
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from nbprofile.derive.carbon import CarbonConfig, derive_carbon, resolve
from nbprofile.derive.cost import ComputePrices, derive_compute_cost, derive_cost
from nbprofile.derive.energy import derive_energy
from nbprofile.engine import assembly
from nbprofile.meters.cpu_energy import CpuEnergyMeter
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.metrics import label_of
from nbprofile.readings import Availability, Reading
from nbprofile.record import CellRecord, RunInfo, code_hash
from nbprofile.report.footer import footer_html
from nbprofile.report.model import build
from nbprofile.store import SQLiteStore

NO_CPU_ENERGY = ("RAPL unusable: no /nowhere (typical in VMs and containers); "
                 "no estimate: no CPU TDP table and no TDP set")
DERIVED = ("energy_j", "co2_g", "compute_cost_usd", "cost_usd")


def _derive(readings: dict[str, Reading]) -> dict[str, Reading]:
    for deriver in (derive_energy, derive_carbon(CarbonConfig()), derive_compute_cost(ComputePrices(), None),
                    derive_cost):
        readings.update(deriver(readings))
    return readings


# -- 1. a derived reading says once what it needs --------------------------------------------------

def test_a_reading_derived_from_a_missing_one_names_it_and_its_reason_once() -> None:
    readings = _derive({
        "wall_s": Reading(1.0, "s", "measured", "perf_counter"),
        "cpu_energy_j": Reading.unavailable("J", NO_CPU_ENERGY),
        "dram_energy_j": Reading.unavailable("J", NO_CPU_ENERGY),  # the CPU meter gives both its reason
        "gpu_time_s": Reading.unavailable("s", "torch is not imported in this kernel"),
        "llm_cost_usd": Reading(0.0, "USD", "measured", "nbprofile.llm"),
    })
    needs = f"needs cpu_energy_j or dram_energy_j: {NO_CPU_ENERGY}"
    assert readings["energy_j"].note == needs
    assert readings["co2_g"].note == needs
    compute = f"{needs}; no GPU in use (torch is not imported in this kernel)"
    assert readings["compute_cost_usd"].note == compute
    assert readings["cost_usd"].note == f"LLM only; without compute ({compute})"
    for key in DERIVED:
        assert readings[key].note.count("RAPL unusable") == 1, key


def test_an_unavailable_total_cost_gives_each_parts_reason_once() -> None:
    readings = _derive({"wall_s": Reading(1.0, "s", "measured", "perf_counter"),
                        "cpu_energy_j": Reading.unavailable("J", NO_CPU_ENERGY)})
    assert readings["cost_usd"].note == (f"needs cpu_energy_j: {NO_CPU_ENERGY}; no GPU in use (no GPU meter); "
                                         "needs llm_cost_usd: no LLM meter")


def test_last_and_the_full_footer_give_the_cpu_energy_reason_once_a_row(
        shell: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a machine without RAPL or any CPU TDP table: CPU energy cannot be had, whatever this machine has
    monkeypatch.delenv("NBPROFILE_CPU_TDP_W", raising=False)
    monkeypatch.setattr(assembly, "CpuEnergyMeter", partial(CpuEnergyMeter, tmp_path / "no-powercap",
                                                            cpu_power_csv=None))
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_cell("x = sum(range(1000))")
    view = shell.run_line_magic("nbprofile", "last")
    last = repr(view)
    rows = {line.split()[0]: line for line in last.splitlines() if line.startswith("  ")}
    assert "no CPU TDP table and no TDP set" in rows["cpu_energy_j"]
    for key in DERIVED:
        assert rows[key].count("no CPU TDP table") == 1, rows[key]
        assert rows[key].count("RAPL unusable") == 1, rows[key]
    assert "no energy: " not in last and "no energy reading:" not in last
    # the full footer's tooltips (its HTML): each reading's reason, once
    titles = [htmlmod.unescape(t) for t in re.findall(r'title="([^"]*)"', footer_html(view.record, "full"))]
    assert any("no CPU TDP table" in t for t in titles)
    for title in titles:
        assert title.count("no CPU TDP table") <= 1, title


# -- 2. a fix is said once -------------------------------------------------------------------------

def _shingles(text: str, n: int = 3) -> set[str]:
    words = re.findall(r"[\w./=<>'-]+", text.lower())
    return {" ".join(words[i:i + n]) for i in range(len(words) - n + 1)}


def _repeats(detail: str, fix: str | None) -> set[str]:
    """Three words running that a detail shares with its fix: the fix said twice."""
    return _shingles(detail) & _shingles(fix) if fix else set()


def test_no_meter_repeats_its_fix_in_its_detail(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    found: dict[str, Availability] = {}
    for meter in assembly.default_meters():  # this machine's
        found[meter.name] = meter.probe()
        meter.close()
    # and a machine without nvidia-ml-py, RAPL or a TDP table, where the fixes are the longest
    monkeypatch.delenv("NBPROFILE_CPU_TDP_W", raising=False)
    monkeypatch.setitem(sys.modules, "pynvml", None)
    for name, meter in (("nvml without nvidia-ml-py", NvmlMeter()),
                        ("cpu_energy without RAPL or TDP", CpuEnergyMeter(tmp_path / "none", cpu_power_csv=None))):
        found[name] = meter.probe()
        meter.close()
    assert found["nvml without nvidia-ml-py"] == Availability(False, "nvidia-ml-py is not installed",
                                                              "pip install nvidia-ml-py")
    assert not found["cpu_energy without RAPL or TDP"].available
    for name, availability in found.items():
        assert not _repeats(availability.detail, availability.fix), (name, availability)


def test_status_and_the_doctor_say_the_nvml_fix_once(shell: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "pynvml", None)  # `import pynvml` fails: nvidia-ml-py not installed
    shell.run_line_magic("load_ext", "nbprofile")
    status = repr(shell.run_line_magic("nbprofile", "status"))
    nvml = next(line for line in status.splitlines() if line.strip().startswith("nvml "))
    assert nvml.split(None, 2)[2] == "nvidia-ml-py is not installed (fix: pip install nvidia-ml-py)"
    doctor = shell.run_line_magic("nbprofile", "doctor")
    for row in doctor.rows:
        assert not _repeats(row.detail, row.fix), row


# -- 3. compute prices in words --------------------------------------------------------------------

def test_compute_price_prints_one_readable_line(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    capsys.readouterr()
    shell.run_line_magic("nbprofile", "compute-price gpu_hour=2 kwh=0.2")
    assert capsys.readouterr().out == (
        "nbprofile: compute prices: GPU $2/GPU-hour for every GPU (yours); electricity $0.2/kWh (yours); "
        "a GPU's hourly price includes its electricity\n")
    shell.run_line_magic("nbprofile", "compute-price gpu:H100=2.5 energy_in_gpu_price=no kwh=default")
    assert capsys.readouterr().out == (
        "nbprofile: compute prices: GPU $2.5/GPU-hour for H100 (yours), $2/GPU-hour for every GPU (yours); "
        "electricity $0.15/kWh (default); electricity is charged on top of GPU-hours\n")


# -- 4, 5, 6. the report of a first run ------------------------------------------------------------

def _report(shell: Any, tmp_path: Path, name: str) -> str:
    shell.run_line_magic("nbprofile", f"report {tmp_path / name}")
    return (tmp_path / name).read_text()


def test_a_report_without_llm_calls_shows_no_tokens_and_a_carbon_sentence(shell: Any, tmp_path: Path) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_cell("x = sum(range(1000))")
    shell.run_cell("y = x * 2")
    markdown = _report(shell, tmp_path, "r.md")
    page = _report(shell, tmp_path, "r.html")
    tokens, dollars = label_of("llm_tokens"), label_of("llm_cost_usd")
    heads = next(line for line in markdown.splitlines() if line.startswith("| # | cell |"))
    assert f"| {tokens} |" not in heads and f"| {dollars} |" not in heads
    totals = re.search(r'<section class="totals">(.*?)</section>', page).group(1)  # type: ignore[union-attr]
    assert f"<div>{tokens}<b>" not in totals and f"<div>{dollars}<b>" not in totals
    assert f"<div>{label_of('wall_s')}<b>" in totals

    sentence = f"{resolve(CarbonConfig()).describe()}; the world average, as no region was set"
    assert f"| carbon intensity | {sentence} |" in markdown.replace("\\", "")
    assert f"<dt>carbon intensity</dt><dd>{sentence.replace('&', '&amp;')}</dd>" in page
    for raw in ("world_default", "intensity_g_per_kwh", "region_name"):
        assert raw not in markdown and raw not in page


def test_a_run_with_an_llm_call_keeps_its_tokens_column(_isolated_store: Path) -> None:
    store = SQLiteStore(_isolated_store)
    run = RunInfo(run_id="r", notebook="/nb/a.ipynb", kernel_id="k", started_at=time.time(), nbprofile="t")
    for i, tokens in enumerate((0.0, 120.0)):
        readings = {"wall_s": Reading(0.5, "s", "measured", "perf_counter"),
                    "llm_tokens": Reading(tokens, "tokens", "measured", "nbprofile.llm")}
        store.write(CellRecord(run_id="r", seq=i + 1, notebook="/nb/a.ipynb", cell_id=f"c{i}", execution_count=i,
                               code_hash=code_hash(f"c{i}"), source=f"c{i}", started_at=time.time(), status="ok",
                               error_type=None, readings=readings, overhead_s=0.0), run)
    model = build(store.records("r"), store.run("r") or {})
    store.close()
    assert ("llm_tokens", label_of("llm_tokens")) in model.columns
    assert [row.values["llm_tokens"].text for row in model.rows] == ["0", "120"]


def test_chart_labels_are_at_least_11_px_in_the_narrowest_column(shell: Any, tmp_path: Path) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_cell("x = 1")
    page = _report(shell, tmp_path, "r.html")
    narrowest = float(re.search(r"\.charts \{[^}]*minmax\((\d+)px", page).group(1))  # type: ignore[union-attr]
    assert not re.search(r"\.axis \{[^}]*font-size", page)  # a CSS size would win over the SVG's own
    svgs = re.findall(r'<svg viewBox="0 0 (\d+) \d+"(.*?)</svg>', page, re.DOTALL)
    assert svgs
    for width, body in svgs:
        labels = re.findall(r"<text [^>]*>", body)
        assert labels
        for label in labels:
            size = re.search(r'font-size="([\d.]+)"', label)
            assert size, label
            assert float(size.group(1)) * narrowest / float(width) >= 11, label
