"""What the live view and the hot-spot sampler cost a long cell, in a real ipykernel.

One kernel with nbprofile loaded runs the same long cell over and over, switching, between
runs, the live numbers (``%nbprofile live``) and the sampler (``%nbprofile hotspots``) both on
or both off, and a third variant under pyinstrument's ``%%pyinstrument`` (its peer: it also
tells where a cell's time went) with both off. The cell times its own work (a fixed amount
of it, not a fixed time), so the kernel's round trip and nbprofile's per-cell hooks are left
out: what is left is what the sampler's and the live view's threads take from the cell.
Each round runs the variants in a new order; each variant is set against "off" of its round.

Two cells: a pure-Python CPU-bound loop (the sampler's worst case: it shares the GIL), and a
torch training loop on the CPU (skipped without torch).

    python bench/long_cell_kernel.py [--seconds 10] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import queue
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from _common import print_table, rotated, temp_store, write_result

#: the cell's own timing of its work, printed as its last line
PYTHON_LOOP = """
import time as _t
_t0 = _t.perf_counter()
_acc = 0
for _i in range({n}):
    _acc += _i * _i % 7
print("WORK", _t.perf_counter() - _t0)
"""

TORCH_LOOP = """
import time as _t, torch
torch.manual_seed(0)
_model = torch.nn.Sequential(torch.nn.Linear(256, 512), torch.nn.ReLU(), torch.nn.Linear(512, 10))
_opt = torch.optim.SGD(_model.parameters(), lr=0.01)
_x, _y = torch.randn(256, 256), torch.randint(0, 10, (256,))
_t0 = _t.perf_counter()
for _step in range({n}):
    _opt.zero_grad()
    torch.nn.functional.cross_entropy(_model(_x), _y).backward()
    _opt.step()
print("WORK", _t.perf_counter() - _t0)
"""

VARIANTS = {
    "off": "%nbprofile live off\n%nbprofile hotspots off",
    "live + hot spots": "%nbprofile live on\n%nbprofile hotspots on",
    "pyinstrument": "%nbprofile live off\n%nbprofile hotspots off",
}


def run(kc: Any, code: str, timeout: float = 600) -> str:
    """Run ``code``; its stdout."""
    msg_id = kc.execute(code, store_history=True)
    out = []
    while True:
        try:
            msg = kc.get_iopub_msg(timeout=timeout)
        except queue.Empty:
            raise TimeoutError(f"no idle status within {timeout} s") from None
        if msg["parent_header"].get("msg_id") != msg_id:
            continue
        if msg["msg_type"] == "stream" and msg["content"]["name"] == "stdout":
            out.append(msg["content"]["text"])
        elif msg["msg_type"] == "error":
            raise RuntimeError("\n".join(msg["content"]["traceback"]))
        elif msg["msg_type"] == "status" and msg["content"]["execution_state"] == "idle":
            break
    kc.get_shell_msg(timeout=timeout)
    return "".join(out)


def work_seconds(stdout: str) -> float:
    line = next(line for line in stdout.splitlines() if line.startswith("WORK "))
    return float(line.split()[1])


def calibrate(kc: Any, template: str, seconds: float) -> int:
    """Iterations that take about ``seconds`` here (with everything off)."""
    n = 1000 if "torch" in template else 200_000
    while True:
        took = work_seconds(run(kc, template.format(n=n)))
        if took > 0.5:
            return max(1, int(n * seconds / took))
        n *= 4


def measure(kc: Any, name: str, template: str, seconds: float, rounds: int) -> dict[str, Any]:
    run(kc, VARIANTS["off"])
    n = calibrate(kc, template, seconds)
    times: dict[str, list[float]] = {v: [] for v in VARIANTS}
    ratios: dict[str, list[float]] = {v: [] for v in VARIANTS if v != "off"}
    for r in range(rounds):
        this_round: dict[str, float] = {}
        for variant in rotated(list(VARIANTS), r):
            run(kc, VARIANTS[variant])
            code = template.format(n=n)
            if variant == "pyinstrument":
                code = "%%pyinstrument\n" + code
            this_round[variant] = work_seconds(run(kc, code))
            times[variant].append(this_round[variant])
        for variant in ratios:
            ratios[variant].append(this_round[variant] / this_round["off"])
    rows = [[variant, f"{statistics.median(times[variant]):.3f}",
             "1" if variant == "off" else f"{statistics.median(ratios[variant]):.4f}",
             "" if variant == "off" else f"{min(ratios[variant]):.4f} … {max(ratios[variant]):.4f}"]
            for variant in VARIANTS]
    print_table(["variant", "cell's work, s (median)", "× off (median of rounds)", "range"], rows,
                title=f"{name}: {n} iterations, {rounds} rounds")
    return {"iterations": n, "times_s": times, "ratios": ratios}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=10.0, help="length of the cell's work")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    from jupyter_client.manager import start_new_kernel

    env = {**os.environ, "IPYTHONDIR": tempfile.mkdtemp(prefix="nbprofile-bench-ipython-"),
           "NBPROFILE_DB": str(temp_store())}
    km, kc = start_new_kernel(kernel_name="python3", env=env)
    results: dict[str, Any] = {}
    try:
        run(kc, "%load_ext nbprofile\n%nbprofile footer off")
        try:
            run(kc, "%load_ext pyinstrument")
        except RuntimeError:
            print("pyinstrument is not installed (pip install pyinstrument): its row is left out")
            VARIANTS.pop("pyinstrument")
        results["python loop"] = measure(kc, "pure-Python loop", PYTHON_LOOP, args.seconds, args.rounds)
        try:
            run(kc, "import torch")
        except RuntimeError:
            print("torch is not installed: the training loop is left out")
        else:
            results["torch training"] = measure(kc, "torch training loop (CPU)", TORCH_LOOP, args.seconds,
                                                args.rounds)
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=True)
    write_result("long_cell_kernel", {"seconds": args.seconds, "rounds": args.rounds, **results,
                                      "when": time.strftime("%Y-%m-%dT%H:%M:%S"), "python": sys.version})


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).parent))
    main()
