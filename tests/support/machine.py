"""What this machine has, found the way a user would check it, without asking nbprofile.

Tests that assert "the exact contract for whatever applies here" (the doctor, CPU energy,
carbon) decide which contract applies from these facts, so that a product that reports
the wrong state fails instead of being believed.
"""

from __future__ import annotations

import glob
import importlib.util
import json
import os
import warnings
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
POWERCAP = "/sys/class/powercap"
CLEAR_REFS = "/proc/self/clear_refs"
J_PER_KWH = 3.6e6  # 1 kWh in joules: the unit conversion, not nbprofile's constant


def has_nvidia_gpu() -> bool:
    """An NVIDIA device node: a driver and a GPU."""
    return os.path.exists("/dev/nvidia0")


def rapl_readable() -> bool:
    """Some RAPL package counter that this process can read."""
    for path in glob.glob(f"{POWERCAP}/*rapl*/energy_uj"):
        try:
            with open(path) as f:
                f.read()
            return True
        except OSError:
            continue
    return False


def clear_refs_error() -> str | None:
    """None when ``/proc/self/clear_refs`` opens for writing, else the OS's reason."""
    try:
        fd = os.open(CLEAR_REFS, os.O_WRONLY)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    return None


def codecarbon_data() -> Path | None:
    """CodeCarbon's installed ``data/`` folder (found as pip put it, not imported)."""
    spec = importlib.util.find_spec("codecarbon")
    if spec is None or not spec.submodule_search_locations:
        return None
    data = Path(next(iter(spec.submodule_search_locations))) / "data"
    return data if data.is_dir() else None


def cpu_power_csv() -> Path | None:
    """The CPU TDP table nbprofile should use: CodeCarbon's, else the copy shipped in nbprofile/data."""
    data = codecarbon_data()
    path = data / "hardware" / "cpu_power.csv" if data is not None else None
    if path is None or not path.is_file():
        path = ROOT / "nbprofile" / "data" / "cpu_power.csv"
    return path if path.is_file() else None


def energy_mix() -> dict[str, Any]:
    """The grid intensity table nbprofile should use: CodeCarbon's, else the copy shipped in nbprofile/data."""
    data = codecarbon_data()
    path = data / "private_infra" / "global_energy_mix.json" if data is not None else None
    if path is None or not path.is_file():
        path = ROOT / "nbprofile" / "data" / "global_energy_mix.json"
    return dict(json.loads(path.read_text()))


def country_intensity(iso3: str) -> tuple[str, float]:
    """A country's name and gCO2e/kWh, read straight from the table."""
    row = energy_mix()[iso3]
    return str(row["country_name"]), float(row["carbon_intensity"])


def world_intensity() -> float:
    """The world average gCO2e/kWh (CodeCarbon's per-source file, else the shipped copy's note)."""
    data = codecarbon_data()
    path = data / "private_infra" / "carbon_intensity_per_source.json" if data is not None else None
    if path is not None and path.is_file():
        return float(json.loads(path.read_text())["world_average"])
    return float(energy_mix()["_meta"]["world_average"])


def cpu_model() -> str:
    """``model name`` from /proc/cpuinfo ('' when there is none)."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip() == "model name":
            return value.strip()
    return ""


def torch_build() -> tuple[bool, str | None]:
    """(installed, CUDA version it was built for or None), read from torch's version.py, not imported."""
    spec = importlib.util.find_spec("torch")
    if spec is None or not spec.origin:
        return False, None
    try:
        text = (Path(spec.origin).parent / "version.py").read_text()
    except OSError:
        return True, None
    for line in text.splitlines():
        if line.startswith("cuda"):
            value = line.split("=", 1)[1].strip().strip("'\"")
            return True, None if value == "None" else value
    return True, None


def pynvml_installed() -> bool:
    """nvidia-ml-py (module ``pynvml``) is importable. PyPI's deprecated ``pynvml`` redirector warns
    when it is only looked up: that warning is its own, not the test's."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        return importlib.util.find_spec("pynvml") is not None


def cpu_energy_estimable() -> bool:
    """A TDP to estimate CPU energy from: CodeCarbon's table, or one the user set."""
    return cpu_power_csv() is not None or bool(os.environ.get("NBPROFILE_CPU_TDP_W"))
