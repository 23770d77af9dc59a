"""The one-shot first-GPU check: quick and clean without a GPU, and a runner that survives its steps.

The GPU steps themselves need a real GPU (run ``python -m nbprofile.gpucheck`` there);
here the command runs for real against an NVML that finds no driver, the runner runs
real child processes that succeed, fail, hang and print nothing, and the raw probe
reads the fake NVML.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from nbprofile.gpucheck import __main__ as gpucheck
from nbprofile.gpucheck.probe import RESULT_MARK, probe
from nbprofile.gpucheck.runner import Step, run_all, steps
from nbprofile.gpucheck.summary import summarise
from tests.fakes.fake_nvml import FakeGpu, FakeNvml


def no_driver_path(tmp_path: Path) -> Path:
    """A ``pynvml`` whose ``nvmlInit`` finds no driver, first on the path of a child process."""
    fake = tmp_path / "nodriver"
    fake.mkdir()
    (fake / "pynvml.py").write_text(textwrap.dedent("""
        class NVMLError(Exception):
            def __str__(self):
                return "NVML Shared Library Not Found"
        def nvmlInit():
            raise NVMLError()
    """))
    return fake


def test_without_a_gpu_it_says_so_in_one_line_and_exits_0(tmp_path: Path) -> None:
    out = tmp_path / "out"
    env = {"PATH": "/usr/bin:/bin", "PYTHONPATH": f"{no_driver_path(tmp_path)}:{Path.cwd()}"}
    proc = subprocess.run([sys.executable, "-m", "nbprofile.gpucheck", "--out", str(out)],
                          capture_output=True, text=True, timeout=60, env=env, check=False)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == [f"gpucheck: no NVIDIA GPU (NVML: NVML Shared Library Not Found); "
                                        f"wrote {out / 'gpucheck.json'}"]
    report = json.loads((out / "gpucheck.json").read_text())
    assert report["verdict"] == "no NVIDIA GPU" and report["gpu"] is False and "steps" not in report
    assert (out / "gpucheck.txt").read_text().startswith("nbprofile GPU check: no NVIDIA GPU")


def py(code: str) -> list[str]:
    return [sys.executable, "-c", textwrap.dedent(code)]


def emits(result: dict[str, Any]) -> list[str]:
    return py(f"print('noise'); print({RESULT_MARK!r} + {json.dumps(json.dumps(result))})")


def test_each_step_is_recorded_and_a_failure_is_not_fatal(tmp_path: Path) -> None:
    plan = [
        Step("good", emits({"figure": 42}), 20, "prints a result"),
        Step("crash", py("import sys; print('boom', file=sys.stderr); sys.exit(3)"), 20, "exits 3"),
        Step("hang", py("import time; print('started', flush=True); time.sleep(60)"), 1.0, "never ends"),
        Step("mute", py("print('no result here')"), 20, "prints no result line"),
        Step("skip", emits({"skipped": "no CUDA device"}), 20, "has nothing to do"),
    ]
    seen: list[str] = []

    def on_step(outcome: Any) -> None:  # the JSON on disk already holds every step so far
        seen.append(outcome.name)
        on_disk = json.loads((tmp_path / "gpucheck.json").read_text())
        assert [s["name"] for s in on_disk["steps"]] == seen

    report = run_all(plan, tmp_path, {"facts": {}}, on_step=on_step)
    by_name = {s["name"]: s for s in report["steps"]}
    assert by_name["good"]["status"] == "ok" and by_name["good"]["result"] == {"figure": 42}
    assert by_name["crash"]["status"] == "failed"
    assert by_name["crash"]["error"] == "exit code 3, no result line"
    assert "boom" in by_name["crash"]["output_tail"]
    assert by_name["hang"]["status"] == "timeout" and "budget of 1 s" in by_name["hang"]["error"]
    assert by_name["mute"]["status"] == "failed" and "no result line" in by_name["mute"]["error"]
    assert by_name["skip"]["status"] == "skipped"
    assert seen == ["good", "crash", "hang", "mute", "skip"]


def test_steps_past_the_total_budget_are_skipped_not_run(tmp_path: Path) -> None:
    plan = [Step("first", emits({"a": 1}), 20, "runs"), Step("second", emits({"b": 2}), 20, "no time left")]
    report = run_all(plan, tmp_path, {}, total_budget_s=4.0)
    statuses = [(s["name"], s["status"]) for s in report["steps"]]
    assert statuses == [("first", "skipped"), ("second", "skipped")]
    assert report["steps"][0]["error"] == "the check's total budget ran out"


def test_the_plan_fits_five_minutes_and_quick_leaves_out_the_test_suite() -> None:
    full, quick = steps(quick=False), steps(quick=True)
    assert [s.name for s in full] == ["nvml_probe", "notebook", "pytest_gpu", "queued_cell", "matmul_cell",
                                      "alloc_cell", "cell_cost"]
    assert "pytest_gpu" not in [s.name for s in quick]
    assert all(s.budget_s > 0 for s in full)
    assert "-m" in full[2].command and "gpu" in full[2].command


def test_the_command_with_a_gpu_runs_the_plan_and_writes_the_summary(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(gpucheck, "detect", lambda env: {"gpus": 1, "names": ["NVIDIA H200"]})
    queued = {"kernel_event_s": 5.01, "cell": {"gpu_time_s": {"value": 5.2, "method": "measured"},
                                               "wall_s": {"value": 0.3}}, "disabled": {}, "ok": True,
              "next_cell_gpu_time_s": {"method": "measured"}}
    monkeypatch.setattr(gpucheck, "steps", lambda quick: [
        Step("queued_cell", emits(queued), 20, "queued work"),
        Step("alloc_cell", py("import sys; sys.exit(1)"), 20, "fails"),
    ])
    assert gpucheck.main(["--out", str(tmp_path)]) == 0
    report = json.loads((tmp_path / "gpucheck.json").read_text())
    assert report["gpu"] is True and report["verdict"] == "steps that failed: alloc_cell"
    text = (tmp_path / "gpucheck.txt").read_text()
    assert "gpu_time 5.2 s (measured)" in text and "OK" in text
    assert "- alloc_cell [failed" in text and "exit code 1" in text
    assert "gpucheck: wrote" in capsys.readouterr().out


def test_the_raw_probe_reads_every_fact_on_its_own() -> None:
    fake = FakeNvml([FakeGpu("GPU-aaaa1111-0000-4000-8000-000000000000")])
    fake.run(2.0, 300.0)  # two seconds at 300 W: the driver's buffers fill
    facts = probe(fake.module, tick_s=0.05)
    d = facts["devices"][0]
    assert facts["driver_version"] == "550.54.15" and facts["device_count"] == 1
    power = d["power_samples"]
    assert power["count"] == 12 and power["spacing_ms_median"] == pytest.approx(166.7, 0.01)
    assert d["power_samples"]["last_values"][-1] == 300_000 and d["power_samples"]["value_type"] == 1
    reserved = d["memory"]["v2"]["reserved"]
    assert reserved > 0 and d["memory"]["v1_used_minus_v2_used"] == reserved  # v1's used holds it
    assert d["power_instant_field"]["nvml_return"] == 0 and d["mig_mode"]["current"] == 0
    assert "error" in facts["nvml_version"]  # a call this NVML lacks is recorded, and the rest still read
    assert d["call_cost"]["process_list"]["calls"] == 50
    # CPU beside wall per call: on an H200 the energy counter's 3 ms were all CPU, spent inside the cell
    energy_cost = d["call_cost"]["energy_counter"]
    assert 0 <= energy_cost["cpu_median_us"] and energy_cost["errors"] == 0
    assert d["call_cost"]["field_values_total_energy"]["calls"] == 50

    text = summarise({"verdict": "every step ran", "steps": [
        {"name": "nvml_probe", "status": "ok", "seconds": 3.1, "result": facts, "error": None}]})
    assert "power samples 12 every 167 ms over 1.83 s" in text
    assert "call cost (median µs, CPU µs): energy " in text and "util samples " in text
    assert f"memory used v1-v2 {reserved:.3g} B" in text


@pytest.mark.kernel
def test_the_notebook_step_runs_its_notebook_through_nbprofile_run_without_a_gpu(tmp_path: Path) -> None:
    """``--device cpu``: the same notebook in a real kernel and a real 2-worker LocalCluster; each cell is
    recorded, the GPU checks do not apply, and the GPU readings are unavailable with a reason, never 0."""
    pytest.importorskip("distributed")
    proc = subprocess.run([sys.executable, "-m", "nbprofile.gpucheck.notebook", "--device", "cpu",
                           "--out", str(tmp_path)], capture_output=True, text=True, timeout=300, check=False)
    line = [ln for ln in proc.stdout.splitlines() if ln.startswith(RESULT_MARK)][-1]
    result = json.loads(line[len(RESULT_MARK):])
    assert result["exit_code"] == 0, result["output_tail"]
    assert result["checks"]["every_cell_recorded"] is True
    assert result["checks"]["workers_cluster_cpu_measured"] is True
    assert result["checks"]["busy_gpu_time_near_wall"] is None and result["ok"] is True
    busy = result["cells"]["busy"]["readings"]
    assert busy["wall_s"]["value"] >= 4.0
    assert "value" not in busy["gpu_time_s"] and busy["gpu_time_s"]["note"]
    assert result["cells"]["workers"]["readings"]["cluster_workers"]["value"] == 2
    assert result["overhead"]["cuda_up"]["median_ms"] > 0
    text = summarise({"verdict": "every step ran", "steps": [
        {"name": "notebook", "status": "ok", "seconds": 30.0, "result": result}]})
    assert "nbprofile run exit 0" in text and "every check held" in text


def test_the_notebook_steps_summary_names_the_checks_that_failed() -> None:
    result = {"exit_code": 0, "seconds": 41.5, "checks": {"queued_gpu_time_ge_3s": False, "alloc": True,
                                                          "cpu_only": None},
              "cells": {"busy": {"readings": {"gpu_time_s": {"value": 4.01}, "wall_s": {"value": 4.02}}},
                        "workers": {"readings": {"cluster_gpu_busy_s": {"value": 2.9},
                                                 "cluster_gpu_energy_j": {"value": 1810.0}}}},
              "overhead": {"cuda_up": {"median_ms": 0.41}, "cuda_and_cluster_up": {"median_ms": 3.2}}}
    text = summarise({"verdict": "every step ran", "steps": [
        {"name": "notebook", "status": "ok", "seconds": 41.5, "result": result}]})
    assert "busy gpu_time 4.01 s of wall 4.02 s" in text
    assert "workers' GPU busy 2.9 s, energy 1.81e+03 J" in text
    assert "checks that failed: queued_gpu_time_ge_3s" in text
