"""Running the first-GPU check: each step in its own process, under its own time budget.

A step is a command (a Python module of this package, or ``pytest -m gpu``); it
runs in a fresh process, killed when its budget runs out, and its result is the
JSON on its :data:`~nbprofile.gpucheck.probe.RESULT_MARK` line. A step that
fails, times out or prints no result is recorded as such and the next one runs.
``gpucheck.json`` is rewritten after every step, so a check cut short still
leaves what it found; ``gpucheck.txt`` is the short summary.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from nbprofile.gpucheck.probe import RESULT_MARK

#: the whole check stays under seven minutes on a real H100/H200
TOTAL_BUDGET_S = 420.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class Step:
    name: str
    command: list[str]
    budget_s: float
    what: str  #: one line for the summary: what the step checks


@dataclass
class Outcome:
    name: str
    what: str
    status: str  #: "ok", "failed" (non-zero exit or no result), "timeout", "skipped"
    seconds: float
    budget_s: float
    result: dict[str, Any] | None = None
    error: str | None = None
    output_tail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def module(name: str, *args: str) -> list[str]:
    return [sys.executable, "-m", f"nbprofile.gpucheck.{name}", *args]


def steps(quick: bool) -> list[Step]:
    """The check's steps, in order; ``quick`` leaves out the test suite and shortens the long cell."""
    matmul_s = 10.0 if quick else 30.0
    plan = [
        Step("nvml_probe", module("probe", "--tick-s", "2"), 40,
             "raw NVML: versions, MIG, GPM, memory v1/v2, sample buffers, energy tick, call costs"),
        Step("notebook", module("notebook"), 150,
             "nbprofile run: GPU cells in a real kernel, and a 2-worker LocalCluster on the GPU"),
        Step("queued_cell", module("cells", "queued", "--seconds", "5"), 60,
             "a cell leaving ~5 s of GPU work queued keeps its GPU time; the torch meter stays on"),
        Step("matmul_cell", module("cells", "matmul", "--seconds", str(matmul_s)), matmul_s + 40,
             f"{matmul_s:g} s of matmuls: counter energy vs sampled power x time; buffer vs window start"),
        Step("alloc_cell", module("cells", "alloc", "--seconds", "4"), 40,
             "a 4 GiB allocation: allocator peak vs NVML used"),
        Step("cell_cost", module("cells", "cost", "--seconds", "300"), 40,
             "per-cell cost of the default meters with CUDA up"),
    ]
    if not quick:
        # only the files that hold GPU tests: collecting the whole suite would take most of the budget
        files = sorted(str(f) for f in (REPO / "tests").rglob("test_*.py") if "pytest.mark.gpu" in _read(f))
        command = [sys.executable, "-m", "pytest", "-m", "gpu", "-q", "-s", "-rs", "-p", "no:cacheprovider",
                   *(files or [str(REPO / "tests")])]
        plan.insert(2, Step("pytest_gpu", command, 100, "the test suite's GPU tests (pytest -m gpu)"))
    return plan


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace")
    except OSError:  # an unreadable file holds no test we can run
        return ""


def run_step(step: Step, budget_s: float, env: dict[str, str], cwd: Path) -> Outcome:
    """Run one step under ``budget_s``; never raises."""
    t0 = time.monotonic()
    outcome = Outcome(step.name, step.what, "failed", 0.0, budget_s)
    try:
        proc = subprocess.run(step.command, capture_output=True, text=True, timeout=budget_s, env=env,
                              cwd=cwd, check=False)
        out, err, code = proc.stdout, proc.stderr, proc.returncode
    except subprocess.TimeoutExpired as exc:
        outcome.status, outcome.error = "timeout", f"ran past its budget of {budget_s:g} s and was killed"
        out, err, code = _decoded(exc.stdout), _decoded(exc.stderr), None
    except OSError as exc:
        outcome.error = f"could not start: {exc}"
        out, err, code = "", "", None
    outcome.seconds = round(time.monotonic() - t0, 2)
    outcome.output_tail = (out + "\n" + err)[-3000:].strip()
    for line in reversed(out.splitlines()):
        if line.startswith(RESULT_MARK):
            try:
                outcome.result = json.loads(line[len(RESULT_MARK):])
            except ValueError as exc:
                outcome.error = f"unreadable result line: {exc}"
            break
    if step.name == "pytest_gpu":
        outcome.result = {"exit_code": code, "summary": _pytest_summary(out)}
    if code is not None and outcome.status != "timeout":
        if code == 0 and outcome.result is not None:
            outcome.status = "skipped" if "skipped" in outcome.result and len(outcome.result) == 1 else "ok"
        elif step.name == "pytest_gpu" and code == 5:  # pytest: no tests collected
            outcome.status, outcome.error = "skipped", "no test marked gpu was collected"
        else:
            missing = "" if outcome.result else ", no result line"
            outcome.error = outcome.error or f"exit code {code}{missing}"
    return outcome


def _decoded(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _pytest_summary(out: str) -> str:
    lines = [ln for ln in out.splitlines() if ln.strip()]
    return lines[-1].strip("= ") if lines else ""


def write_json(path: Path, report: dict[str, Any]) -> None:
    """Replace ``path`` whole: a reader never sees half a file."""
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(report, indent=2, default=str))
    os.replace(tmp, path)


def run_all(plan: list[Step], out_dir: Path, report: dict[str, Any], *,
            total_budget_s: float = TOTAL_BUDGET_S, env: dict[str, str] | None = None,
            on_step: Callable[[Outcome], None] | None = None) -> dict[str, Any]:
    """Run the steps in order within ``total_budget_s``; the JSON is rewritten after each."""
    path = out_dir / "gpucheck.json"
    env = dict(os.environ if env is None else env)
    env.setdefault("NBPROFILE_DB", str(out_dir / "gpucheck-store.sqlite"))  # the cells' records stay here
    deadline = time.monotonic() + total_budget_s
    report.setdefault("steps", [])
    for step in plan:
        left = deadline - time.monotonic()
        if left < 5:
            outcome = Outcome(step.name, step.what, "skipped", 0.0, 0.0,
                              error="the check's total budget ran out")
        else:
            outcome = run_step(step, min(step.budget_s, left), env, REPO)
        report["steps"].append(asdict(outcome))
        write_json(path, report)
        if on_step is not None:
            on_step(outcome)
    return report
