"""Reading the store as the next reader would, once this process's journal is written."""

from __future__ import annotations

from pathlib import Path

from nbprofile.record import CellRecord
from nbprofile.store import SQLiteStore


def stored(db: Path, limit: int = 100_000) -> list[CellRecord]:
    """Every record in ``db``, oldest first, after this process's profiler (if any) has
    written its journal (its writer does it in the background within about a second)."""
    from nbprofile.engine import current

    profiler = current.current()
    if profiler is not None:
        profiler.recorder.sync(force=True)
    store = SQLiteStore(db)
    try:
        return store.history(None, limit)
    finally:
        store.close()
