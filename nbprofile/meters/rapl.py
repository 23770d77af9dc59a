"""RAPL counters: the CPU package and DRAM energy domains under ``/sys/class/powercap``.

Each ``energy_uj`` is a cumulative µJ counter, kept open and read with one
``pread``; :class:`Domain` folds it, modulo ``max_energy_range_uj``, into a
running total that does not wrap. ``psys`` (contains the packages) and
``intel-rapl-mmio`` (mirrors them) are skipped.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

POWERCAP_ROOT = "/sys/class/powercap"
_PREFIXES = ("intel-rapl:", "amd-rapl:")


@dataclass
class Domain:
    """One RAPL counter, folded into a running total that does not wrap."""

    label: str  # "package-0", "dram"
    kind: str  # "package" | "dram"
    fd: int
    range_uj: int
    max_w: float
    last: int
    total: int = 0

    def fold(self) -> int:
        raw = int(os.pread(self.fd, 32, 0))
        self.total += (raw - self.last) % self.range_uj
        self.last = raw
        return self.total


def find_domains(root: str | os.PathLike[str]) -> list[tuple[Path, str, str]]:
    """``(dir, name, kind)`` of the RAPL package and DRAM domains under a powercap root."""
    found = []
    try:
        entries = sorted(os.listdir(root))
    except OSError:
        return []
    for entry in entries:
        if not entry.startswith(_PREFIXES):
            continue
        path = Path(root) / entry
        try:
            name = (path / "name").read_text().strip()
        except OSError:
            continue  # not a domain we can name: neither package nor dram for sure
        if name.startswith("package"):
            found.append((path, name, "package"))
        elif name == "dram":
            found.append((path, f"dram:{entry.split(':', 1)[1]}", "dram"))
    return found


def read_int(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None


def open_counter(path: Path) -> tuple[int, int, int] | str:
    """``(fd, raw µJ, range µJ)`` of a domain's kept-open ``energy_uj``, or why it cannot be used."""
    range_uj = read_int(path / "max_energy_range_uj")
    try:
        fd = os.open(path / "energy_uj", os.O_RDONLY)
    except OSError as exc:
        return f"{path.name}/energy_uj: {exc.strerror or exc}"
    try:
        raw = int(os.pread(fd, 32, 0))
    except (OSError, ValueError) as exc:
        os.close(fd)
        return f"{path.name}/energy_uj: {getattr(exc, 'strerror', None) or exc}"
    if not range_uj:  # without the range a wrap cannot be undone: no figure beats a wrong one
        os.close(fd)
        return f"{path.name}/max_energy_range_uj unreadable"
    return fd, raw, range_uj
