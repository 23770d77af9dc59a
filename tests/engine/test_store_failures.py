"""Issue 9: a store that is locked, read-only or corrupt never stops a cell, and nothing is lost."""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path
from typing import Any

from nbprofile.errors import NbprofileWarning
from nbprofile.store import SQLiteStore
from tests.support.store import hold_lock


def ours(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if issubclass(w.category, NbprofileWarning)]


def wait_for(condition: Any, timeout: float = 20.0) -> Any:
    """Poll until ``condition()`` is truthy (the writer works in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.05)


def stored_sources(db: Path) -> list[str]:
    store = SQLiteStore(db)
    try:
        return [r.source for r in store.history(None, 1000)]
    finally:
        store.close()


def test_a_long_lock_delays_no_cell_and_loses_nothing(shell: Any, _isolated_store: Path, monkeypatch) -> None:
    from nbprofile.engine import current
    from nbprofile.engine import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "STORE_RETRY_S", 0.5)
    SQLiteStore(_isolated_store).close()
    shell.run_line_magic("load_ext", "nbprofile")
    shell.run_line_magic("nbprofile", "footer off")
    holder = hold_lock(_isolated_store, 4)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        durations = []
        for i in range(6):
            t0 = time.perf_counter()
            assert shell.run_cell(f"v{i} = {i}").success
            durations.append(time.perf_counter() - t0)
        # the writer meets the lock (SQLite's busy timeout, 2 s) in its own thread
        assert wait_for(lambda: current.current().recorder.store_error, 10)
    # a cell that waited for the lock would take SQLite's 2 s busy timeout at least
    from nbprofile.store.sqlite_file import BUSY_TIMEOUT_MS

    assert max(durations) < 0.5 * BUSY_TIMEOUT_MS / 1000, durations
    messages = ours(caught)
    assert len(messages) == 1 and "locked" in messages[0] and "journal" in messages[0], messages
    holder.wait()
    wanted = [f"v{i} = {i}" for i in range(6)]
    assert wait_for(lambda: [s for s in stored_sources(_isolated_store) if s.startswith("v")] == wanted)
    assert wait_for(lambda: current.current().recorder.unsaved == [])


def test_a_read_only_store_keeps_records_in_the_journal_for_the_next_reader(
        shell: Any, tmp_path: Path, monkeypatch) -> None:
    db = tmp_path / "ro.db"
    SQLiteStore(db).close()
    monkeypatch.setenv("NBPROFILE_DB", f"file:{db}?mode=ro")
    from nbprofile.engine import current

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_line_magic("load_ext", "nbprofile")
        results = [shell.run_cell(f"w{i} = {i}") for i in range(3)]
        assert not current.current().recorder.sync(force=True)
        status = repr(shell.run_line_magic("nbprofile", "status"))
        profiler = current.install(None)
        journal = profiler.recorder.finish()
        profiler.close()
    assert all(r.success for r in results)
    assert "readonly" in status and "3 records waiting" in status and "journal" in status, status
    messages = ours(caught)
    assert any("readonly" in m for m in messages) and any(str(journal) in m for m in messages)
    assert journal is not None and Path(journal).exists()
    # the next writable store of that journal folder takes them, exactly once
    from nbprofile.store.ingest import recover_orphans

    store = SQLiteStore(db)
    recover_orphans(store, Path(journal).parent)
    assert [r.source for r in store.history(None, 100)] == ["w0 = 0", "w1 = 1", "w2 = 2"]
    assert not Path(journal).exists()
    store.close()


def test_no_journal_and_no_store_saves_records_to_a_named_file(shell: Any, tmp_path: Path, monkeypatch) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    monkeypatch.setenv("NBPROFILE_DB", str(blocker / "records.db"))  # neither store nor journal can be made
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    from nbprofile.engine import current

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_line_magic("load_ext", "nbprofile")
        results = [shell.run_cell(f"w{i} = {i}") for i in range(3)]
        status = repr(shell.run_line_magic("nbprofile", "status"))
        path = current.current().recorder.finish()
    assert all(r.success for r in results)
    assert "3 in memory only" in status, status
    assert path is not None and any(str(path) in m for m in ours(caught))
    saved = [json.loads(line) for line in Path(path).read_text().splitlines()]
    assert [s["record"]["source"] for s in saved][-3:] == ["w0 = 0", "w1 = 1", "w2 = 2"]


def test_a_damaged_store_is_set_aside_and_a_new_one_takes_the_records(shell: Any, tmp_path: Path,
                                                                      monkeypatch) -> None:
    db = tmp_path / "damaged.db"
    db.write_bytes(b"this is not a database" * 100)
    monkeypatch.setenv("NBPROFILE_DB", str(db))
    from nbprofile.engine import current

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_line_magic("load_ext", "nbprofile")
        result = shell.run_cell("answer = 42\nanswer")
        shell.run_cell("again = 1")
        assert current.current().recorder.sync(force=True)
        doctor = shell.run_line_magic("nbprofile", "doctor")
    assert result.result == 42
    messages = ours(caught)
    assert len(messages) == 1 and "damaged" in messages[0] and "moved to" in messages[0], messages
    aside = list(tmp_path.glob("damaged.db.damaged-*"))
    assert len(aside) == 1 and aside[0].read_bytes().startswith(b"this is not a database")
    assert stored_sources(db) == ["answer = 42\nanswer", "again = 1"]
    assert doctor.row("store").status == "ok"
