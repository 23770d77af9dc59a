"""A MIG slice by its device name: how much of the whole GPU's compute it has.

CUDA and NVML name a MIG device after its GPU and profile, e.g.
``NVIDIA H100 80GB HBM3 MIG 1g.10gb`` (one of the GPU's seven compute slices)
or ``NVIDIA A100-SXM4-40GB MIG 1c.3g.20gb`` (one compute instance of one slice
inside a three-slice GPU instance). The whole GPU's peak FLOP/s and hourly price
must not be charged to a slice: they are scaled by the slice's share of the
compute slices (NVIDIA's MIG user guide, "MIG Device Names" and "Supported MIG
Profiles": A100, H100, H200 and B200 have seven, A30 four). The share is the
slices', not the SMs' (an H100's 1g slice has 16 of its 132 SMs, 12 %, against
1/7 = 14 %), so a peak scaled by it is a few percent high and MFU a few percent
low; the label says it is the slice share.
"""

from __future__ import annotations

import re
from typing import NamedTuple

_PROFILE = re.compile(r"\bMIG\s+(?:(\d+)c\.)?(\d+)g\.(\d+)gb\b", re.IGNORECASE)
_MIG_WORD = re.compile(r"\bMIG\b")
_FOUR_SLICES = re.compile(r"\bA30\b", re.IGNORECASE)


class MigSlice(NamedTuple):
    gpu: str  #: the whole GPU's name ("NVIDIA H100 80GB HBM3")
    profile: str  #: "1g.10gb", "1c.3g.20gb"
    compute_slices: int  #: compute slices this device runs on
    of: int  #: the whole GPU's compute slices

    @property
    def fraction(self) -> float:
        return self.compute_slices / self.of

    @property
    def label(self) -> str:
        return f"MIG {self.profile}, {self.compute_slices}/{self.of} of the GPU"


def is_mig(name: str | None) -> bool:
    """The name is a MIG device's (its profile may still be unreadable)."""
    return bool(name and _MIG_WORD.search(name))


def mig_slice(name: str | None) -> MigSlice | None:
    """The slice a MIG device's name describes; None for a whole GPU or an unreadable profile."""
    if not name:
        return None
    match = _PROFILE.search(name)
    if match is None:
        return None
    ci, gi, mem = match.groups()
    of = 4 if _FOUR_SLICES.search(name) else 7
    slices = int(ci) if ci else int(gi)
    if not 0 < slices <= of:
        return None
    profile = f"{ci}c.{gi}g.{mem}gb" if ci else f"{gi}g.{mem}gb"
    return MigSlice(name[:match.start()].strip(), profile, slices, of)
