"""Issue 9: a store that is locked, read-only or corrupt never stops a cell, and nothing is lost."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import warnings
from pathlib import Path
from typing import Any

from nbprofile.errors import NbprofileWarning
from nbprofile.store import SQLiteStore

HOLD_LOCK = """
import sqlite3, sys, time
conn = sqlite3.connect(sys.argv[1], isolation_level=None)
conn.execute("BEGIN EXCLUSIVE")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
conn.execute("COMMIT")
"""


def ours(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, NbprofileWarning)]


def test_a_long_lock_delays_one_cell_then_none(shell: Any, _isolated_store: Path, monkeypatch) -> None:
    from nbprofile.engine import current
    from nbprofile.engine import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "STORE_RETRY_S", 1.0)
    SQLiteStore(_isolated_store).close()
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_line_magic("nbprofile", "footer off")
    holder = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(_isolated_store), "4"], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        durations = []
        for i in range(6):
            t0 = time.perf_counter()
            assert shell.run_cell(f"v{i} = {i}").success
            durations.append(time.perf_counter() - t0)
    # the first cell waits out SQLite's busy timeout once; the next ones do not wait for the lock
    # at all (half the timeout is room for a busy machine, and no room for another wait)
    from nbprofile.store.checkpoint import BUSY_TIMEOUT_MS

    assert durations[0] >= 0.9 * BUSY_TIMEOUT_MS / 1000 > 2 * max(durations[1:]), durations
    assert len(ours(caught)) == 1 and "locked" in ours(caught)[0]
    holder.wait()
    time.sleep(1.1)
    shell.run_cell("after = True")
    sources = [r.source for r in SQLiteStore(_isolated_store).history(None, 100)]
    assert [s for s in sources if s.startswith("v")] == [f"v{i} = {i}" for i in range(6)]
    assert current.current().recorder.unsaved == []


def test_read_only_store_keeps_records_and_saves_them_to_a_named_file(shell: Any, tmp_path: Path,
                                                                     monkeypatch) -> None:
    db = tmp_path / "ro.db"
    SQLiteStore(db).close()
    monkeypatch.setenv("NBPROFILE_DB", f"file:{db}?mode=ro")
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    from nbprofile.engine import current

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_line_magic("load_ext", "nbprofile")
        results = [shell.run_cell(f"w{i} = {i}") for i in range(3)]
        status = repr(shell.run_line_magic("nbprofile", "status"))
        path = current.current().recorder.save_fallback()
    assert all(r.success for r in results)
    assert "readonly" in status and "records kept in memory" in status
    messages = ours(caught)
    assert any("readonly" in m for m in messages) and any(str(path) in m for m in messages)
    saved = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert [s["record"]["source"] for s in saved][-3:] == ["w0 = 0", "w1 = 1", "w2 = 2"]


def test_corrupt_store_does_not_stop_cells_and_the_doctor_says_so(shell: Any, tmp_path: Path,
                                                                 monkeypatch) -> None:
    db = tmp_path / "corrupt.db"
    db.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("NBPROFILE_DB", str(db))
    monkeypatch.setenv("JUPYTER_DATA_DIR", str(tmp_path / "data"))
    from nbprofile.engine import current

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_line_magic("load_ext", "nbprofile")
        result = shell.run_cell("answer = 42\nanswer")
        doctor = shell.run_line_magic("nbprofile", "doctor")
        path = current.current().recorder.save_fallback()
    assert result.result == 42
    failures = [m for m in ours(caught) if "saved to" not in m]
    assert len(failures) == 1 and "not a database" in failures[0]  # one warning for every cell
    store_row = doctor.row("store")
    assert store_row.status not in ("ok",) and "not a database" in store_row.detail
    assert path is not None and "answer = 42" in Path(path).read_text()
