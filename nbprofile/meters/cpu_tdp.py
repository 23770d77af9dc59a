"""A CPU's TDP from CodeCarbon's ``cpu_power.csv``, matched by its model name.

The table is read as a file (codecarbon is never imported). :class:`Estimate`
is how the CPU energy meter turns CPU time into joules when RAPL is unreadable.
"""

from __future__ import annotations

import csv
import os
import re
from dataclasses import dataclass

CPUINFO = "/proc/cpuinfo"


@dataclass(frozen=True)
class Estimate:
    """How the estimate path turns CPU time into joules."""

    w_per_thread: float
    source: str  # short, for Reading.source
    method: str  # one line: the formula and where each number came from


def read_cpuinfo(path: str = CPUINFO) -> dict[str, str]:
    """The first processor's fields of ``/proc/cpuinfo`` (empty where there is none)."""
    try:
        with open(path) as f:
            first = f.read(65536).split("\n\n", 1)[0]
    except OSError:
        return {}
    pairs = (line.partition(":") for line in first.splitlines())
    return {key.strip(): value.strip() for key, sep, value in pairs if sep}


def load_cpu_table(path: str | os.PathLike[str]) -> dict[str, float]:
    """CodeCarbon's ``cpu_power.csv`` (``Name,TDP``): model name -> TDP in watts."""
    table: dict[str, float] = {}
    with open(path, newline="") as f:
        rows = csv.reader(f)  # not DictReader: twice as fast, and this runs at extension load
        if next(rows, None) != ["Name", "TDP"]:
            raise ValueError(f"{path}: expected the columns Name,TDP")
        for row in rows:
            try:
                table[row[0].strip()] = float(row[1])
            except (IndexError, ValueError):
                continue  # a malformed row: skip it, the rest of the table is good
    return table


# every ASCII character but letters and digits -> space: str.translate is ~5x faster than re.sub here
_SEPARATORS = str.maketrans({chr(c): " " for c in range(128) if not chr(c).isalnum()})


def _tokens(text: str) -> frozenset[str]:
    return frozenset(text.lower().translate(_SEPARATORS).split())


def match_cpu(model: str, table: dict[str, float]) -> tuple[str, float] | None:
    """The table entry for a CPU model name, by CodeCarbon's rules, or None.

    Exact (case-insensitive) name; then the name without ``(R)``, ``CPU`` and the
    clock; then the one entry whose words are a subset of the model's (or the
    reverse), only when exactly one entry qualifies: "AMD EPYC" alone names no TDP.
    """
    by_lower = {name.lower(): name for name in table}
    cleaned = model.replace("(R)", "").replace("(TM)", "")
    cleaned = re.sub(r" CPU @.*$| @\s*\d+\.\d+GHz| CPU\b", "", cleaned).strip()
    for candidate in (model.strip(), cleaned):
        name = by_lower.get(candidate.lower())
        if name is not None:
            return name, table[name]
    words = _tokens(cleaned)
    if not words:
        return None
    # either subset relation needs a shared word: a substring test skips most of the ~5,000 rows
    hits = [name for low, name in by_lower.items() if any(w in low for w in words)
            and (t := _tokens(low)) and (t <= words or words <= t)]
    return (hits[0], table[hits[0]]) if len(hits) == 1 else None
