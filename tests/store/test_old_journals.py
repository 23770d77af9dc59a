"""Journals and secrets: a journal an older version wrote (its cells' sources as typed) is
masked as it is recovered, and a cell that died holding a key keeps the hash of its source
as typed, so it is still matched with its other runs."""

from __future__ import annotations

import time
from pathlib import Path

from nbprofile.engine.recorder import Recorder
from nbprofile.engine.warn import OnceWarnings
from nbprofile.store import SQLiteStore
from nbprofile.store.ingest import recover_orphans
from nbprofile.store.journal import JournalWriter, record_entry, run_entry
from tests.store.test_store_contract import make, run_info
from tests.test_redact import OPENAI

TYPED = f"client = OpenAI(api_key='{OPENAI}')"
MASKED = "client = OpenAI(api_key='sk-proj-…f3a9')"


def test_an_older_versions_journal_is_masked_as_it_is_recovered(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", recover=False)
    folder = tmp_path / "journals"
    journal = JournalWriter(folder, "box-1-97-old.jsonl")
    journal.append(run_entry(run_info("old")))
    journal.append(record_entry(make("old", 1, None, source=TYPED), ends_cell=True))
    # as an older version wrote a cell's start: its source as typed, no hash
    journal.append({"k": "start", "seq": 2, "at": time.time() - 3, "cell_id": None, "count": 2, "src": TYPED})
    journal.close(remove=False)
    assert recover_orphans(store, folder) == 2
    assert [(r.source, r.status) for r in store.records("old")] == [(MASKED, "ok"), (MASKED, "died")]
    store.close()
    assert not any(OPENAI.encode() in f.read_bytes() for f in tmp_path.glob("s.db*"))


def test_a_cell_that_died_holding_a_key_is_matched_with_its_other_runs(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "s.db", recover=False)
    earlier = make("before", 1, None, source=TYPED)
    store.write(earlier, run_info("before"))
    folder = tmp_path / "journals"
    recorder = Recorder(run_info("dies"), OnceWarnings(), store=store, journal_dir=folder)
    recorder.cell_started(None, TYPED, 1, time.time())
    journal = next(folder.glob("*.jsonl"))
    assert OPENAI not in journal.read_text()
    recorder._journal.close(remove=False)  # the kernel dies: its journal is left as it was
    assert recover_orphans(store, folder) == 1
    (died,) = store.records("dies")
    assert (died.source, died.status) == (MASKED, "died")
    assert died.code_hash == earlier.code_hash
    assert store.previous(None, died.code_hash, "/nb.ipynb", before_id=died.id).run_id == "before"
