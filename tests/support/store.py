"""Reading the store as the next reader would, once this process's journal is written."""

from __future__ import annotations

import subprocess
import sys
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


HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def hold_lock(db: Path, seconds: float) -> subprocess.Popen[str]:
    """Another process holding ``db``'s write lock for ``seconds`` (a long backup, say); returns
    once the lock is held."""
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(seconds)], stdout=subprocess.PIPE,
                              text=True)
    assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
    return holder
