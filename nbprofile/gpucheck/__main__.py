"""``python -m nbprofile.gpucheck [--out DIR] [--quick]``: see :mod:`nbprofile.gpucheck`."""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from nbprofile._version import __version__
from nbprofile.gpucheck.runner import Outcome, Step, module, run_step, steps, write_json
from nbprofile.gpucheck.summary import summarise

DETECT_BUDGET_S = 30.0


def detect(env: dict[str, str]) -> dict[str, Any]:
    """Whether there is an NVIDIA GPU, from NVML in a child process (a wedged driver cannot hang us)."""
    outcome = run_step(Step("detect", module("probe", "--detect"), DETECT_BUDGET_S, "is there an NVIDIA GPU"),
                       DETECT_BUDGET_S, env, Path.cwd())
    if outcome.result is None:
        return {"gpus": 0, "reason": outcome.error or "the detection step gave no result"}
    return outcome.result


def facts() -> dict[str, Any]:
    return {"nbprofile": __version__, "python": sys.version.split()[0], "platform": platform.platform(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "CUDA_VISIBLE_DEVICES": os.environ.get("CUDA_VISIBLE_DEVICES"),
            "CUDA_DEVICE_ORDER": os.environ.get("CUDA_DEVICE_ORDER"), "nvidia_smi": _nvidia_smi()}


def _nvidia_smi() -> str | None:
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"not run: {exc}"
    return (out.stdout or out.stderr).strip()[:2000]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nbprofile.gpucheck",
                                     description="One-shot check of nbprofile's GPU numbers on a real GPU.")
    parser.add_argument("--out", default="gpucheck-out", help="folder for gpucheck.json and gpucheck.txt")
    parser.add_argument("--quick", action="store_true", help="skip pytest -m gpu and shorten the long cell")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from nbprofile.gpucheck.runner import run_all

    report: dict[str, Any] = {"facts": facts()}
    found = detect(dict(os.environ))
    report["detect"] = found
    if not found.get("gpus"):
        report["verdict"] = "no NVIDIA GPU"
        report["gpu"] = False
        write_json(out / "gpucheck.json", report)
        (out / "gpucheck.txt").write_text(f"nbprofile GPU check: no NVIDIA GPU ({found.get('reason')})\n")
        print(f"gpucheck: no NVIDIA GPU ({found.get('reason')}); wrote {out / 'gpucheck.json'}")
        return 0
    report["gpu"] = True
    report["verdict"] = "running"
    write_json(out / "gpucheck.json", report)

    def progress(o: Outcome) -> None:
        why = f" ({o.error})" if o.error else ""
        print(f"gpucheck: {o.name} {o.status} in {o.seconds} s{why}", flush=True)

    run_all(steps(args.quick), out, report, on_step=progress)
    bad = [s["name"] for s in report["steps"] if s["status"] in ("failed", "timeout")]
    report["verdict"] = "every step ran" if not bad else f"steps that failed: {', '.join(bad)}"
    write_json(out / "gpucheck.json", report)
    text = summarise(report)
    (out / "gpucheck.txt").write_text(text)
    print(text, end="")
    print(f"gpucheck: wrote {out / 'gpucheck.json'} and {out / 'gpucheck.txt'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
