"""Where nbprofile finds the data it reads: its own bundled files, and CodeCarbon's.

CodeCarbon's tables (grid carbon intensity, CPU TDPs) are read as files found
through ``importlib.util.find_spec``, so codecarbon is never imported (its
import takes about a second).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

BUNDLED = Path(__file__).resolve().parent / "data"


def codecarbon_data_dir() -> Path | None:
    """CodeCarbon's ``data/`` directory, found without importing codecarbon."""
    try:
        spec = importlib.util.find_spec("codecarbon")
    except (ImportError, ValueError):  # a broken install or a stub module in sys.modules
        return None
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        data = Path(location) / "data"
        if data.is_dir():
            return data
    return None
