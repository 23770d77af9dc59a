"""The record path attacked in a real kernel: the store deleted, overwritten and locked between
cells, strings that are not Unicode in cells. What the user sees is what plain IPython shows, and
every cell's record is in the store in the end."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore
from tests.support.store import hold_lock

pytestmark = pytest.mark.kernel

CELLS = [
    "x = 6 * 7\nx",
    "print('hello')",
    "import math\nmath.sqrt(-1)",
    "import nbprofile\nwith nbprofile.measure('file_\\udce9.csv'):\n    pass\nprint('measured')",
    "get_ipython().run_cell(\"z='\\udcff'\", store_history=True)\nprint('ran')",
    "y = x + 1\ny",
]


def what_the_user_sees(reply) -> tuple:
    return (reply.status, reply.execution_count, reply.stdout, reply.result, reply.error)


def attack(before_cell: int, db: Path) -> subprocess.Popen[str] | None:
    if before_cell == 1:  # deleted
        for suffix in ("", "-wal", "-shm"):
            Path(str(db) + suffix).unlink(missing_ok=True)
    elif before_cell == 3:  # random bytes over the whole file, the same inode
        deadline = time.monotonic() + 10  # the kernel's writer has started a new one since cell 1
        while not db.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        size = db.stat().st_size
        with open(db, "r+b") as f:
            f.write(os.urandom(size))
        time.sleep(1.1)  # the header is looked at once a second
    elif before_cell == 5:  # locked by another process for longer than SQLite's busy timeout
        return hold_lock(db, 3)
    return None


def test_attacks_on_the_store_change_nothing_the_user_sees_and_lose_nothing(
        start_kernel, tmp_path: Path, _isolated_store: Path) -> None:
    plain = start_kernel(db=tmp_path / "plain.db")
    expected = [what_the_user_sees(plain.run(code)) for code in CELLS]
    kernel = start_kernel(extra_arguments=["--InteractiveShellApp.extensions=['nbprofile']"])
    seen, holder = [], None
    for i, code in enumerate(CELLS):
        holder = attack(i, _isolated_store) or holder
        seen.append(what_the_user_sees(kernel.run(code, cell_id=f"c{i}", settle=False)))
    assert seen == expected
    assert holder is not None
    holder.wait()
    deadline = time.monotonic() + 30  # the writer tries the locked store again every 10 s
    while time.monotonic() < deadline:
        store = SQLiteStore(_isolated_store)
        ids = [r.cell_id for r in store.history(None, 100) if r.cell_id]
        store.close()
        if "c5" in ids:
            break
        time.sleep(0.5)
    assert [i for i in ids if i.startswith("c")][-1] == "c5" and {"c0", "c1", "c2", "c3", "c5"} <= set(ids), ids
    aside = [p for p in _isolated_store.parent.glob("records.db.damaged-*") if not p.name.endswith(("-wal", "-shm"))]
    assert len(aside) <= 1, aside  # the damaged file is set aside once, never twice
    if not aside:
        # the kernel's writer checkpointed its WAL over the garbage before anyone read the file
        # (a new store is mostly WAL; a loaded machine makes this likely): then the file is whole
        with sqlite3.connect(_isolated_store) as conn:
            assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
