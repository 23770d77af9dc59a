"""Keeping records: a closed window becomes a :class:`~nbprofile.record.CellRecord`, the record
a line in this kernel's journal, and the journal's lines rows in the store.

On the cell's path there is one ``write``: the record's line, appended to the
kernel's journal (:mod:`nbprofile.store.journal`) before its footer shows. A
thread (:class:`~nbprofile.engine.writer.StoreWriter`) moves the lines into the
store in batches, about every :data:`~nbprofile.engine.writer.BATCH_DELAY_S`; a
store that cannot be written (locked, deleted, damaged, read-only, disk full) is
tried again every :data:`STORE_RETRY_S`, and the journal keeps the records
meanwhile, and after the kernel is gone, until some store takes them.

Where the journal itself cannot be written (its folder read-only, the disk
full), records wait in memory, and at exit go to a JSON Lines file beside the
store (or in the temp folder), named in a warning and in the kernel's log.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any

from nbprofile.engine.warn import OnceWarnings
from nbprofile.engine.windows import Window
from nbprofile.engine.writer import StoreWriter
from nbprofile.errors import StoreError
from nbprofile.format import counted
from nbprofile.readings import Readings
from nbprofile.record import CellRecord, RunInfo, Status, code_hash, environment_info
from nbprofile.redact import mask, mask_all, mask_optional
from nbprofile.store import open_store
from nbprofile.store.base import RecordStore, default_path
from nbprofile.store.journal import JournalWriter, journal_folder, journal_name, record_entry, run_entry

#: journal lines kept in memory for the writer, history and status while the store lags; past this
#: the oldest leave memory (the journal still has them). With no journal, records kept in memory
#: alone: past this, the oldest are lost, and said so
MAX_UNSAVED = 10_000
#: after the store fails, records wait in the journal this long before it is tried again
STORE_RETRY_S = 10.0
#: a journal this large, all of it in the store and no cell running, is replaced by a new one
ROTATE_BYTES = 64 * 2**20


def _at_fork_in_child(recorder: Recorder) -> None:
    """Mark ``recorder`` as a forked child's copy in the child, without keeping it alive."""
    if not hasattr(os, "register_at_fork"):  # pragma: no cover - Windows: no fork
        return
    ref = weakref.ref(recorder)

    def in_child() -> None:
        found = ref()
        if found is not None:
            found._in_child()

    os.register_at_fork(after_in_child=in_child)


class Recorder:
    """The records of one run, and where they are kept."""

    def __init__(self, run: RunInfo, warnings: OnceWarnings, *, store: RecordStore | None = None,
                 store_factory: Callable[[], RecordStore] | None = None,
                 describe_run: Callable[[], dict[str, Any]] | None = None,
                 journal_dir: Path | None = None) -> None:
        self.run = run
        self._warnings = warnings
        self._store = store
        self._store_factory = store_factory
        self._describe_run = describe_run  # facts for the run record, gathered at the first save
        self._run_described = False
        self._error: str | None = None
        self._retry_at = 0.0
        # a flag set at fork rather than getpid() in every hook (a system call, slow in sandboxes)
        self._forked = False
        _at_fork_in_child(self)
        self._folder = journal_dir or journal_folder(store.path if store is not None else str(default_path()))
        self._journal: JournalWriter | None = None
        self._journal_failed = False
        self._part = 0
        self._journal_lock = threading.Lock()  # appends (main thread, heartbeats) and rotation
        self._cell_open = False
        # (journal size after the record's line, or -1 when it is only here; the record)
        self._only_here: list[CellRecord] = []  # records the journal could not take
        # the journal's lines not yet in the store, as written: (start, end, entry); the writer
        # takes them from here rather than parsing the file again (it reads the file when these
        # do not reach back far enough: a new store, or more lines than memory keeps)
        self._pending: deque[tuple[int, int, dict[str, Any]]] = deque()
        self._lost = 0
        self._seq = 0
        self.last_record: CellRecord | None = None
        self.writer = StoreWriter(self)

    # -- records -------------------------------------------------------------
    def make_record(self, window: Window, readings: Readings, cell_id: str | None, source: str,
                    execution_count: int | None, status: Status, error_type: str | None,
                    name: str | None = None) -> CellRecord:
        """The record of a closed window, numbered in this run, its texts masked (``sk-proj-…f3a9``:
        no journal, store or report gets a key typed into a cell); its code hash is the cell's own."""
        self._seq += 1
        return CellRecord(
            run_id=self.run.run_id, seq=self._seq, notebook=self.run.notebook, cell_id=cell_id,
            execution_count=execution_count, code_hash=code_hash(source), source=mask(source),
            started_at=window.started_at, status=status, error_type=mask_optional(error_type),
            readings=readings, overhead_s=window.overhead_ns / 1e9, name=mask_optional(name),
            notes=mask_all(window.faults),
        )

    @property
    def in_parent(self) -> bool:
        """False in a forked child: it never records, journals or shows a footer."""
        return not self._forked

    def _in_child(self) -> None:
        self._forked = True

    # -- the journal ---------------------------------------------------------
    def _append(self, entry: dict[str, Any], record: CellRecord | None = None) -> int:
        """Append a line to the journal (opened on first use); -1 if it cannot be written."""
        with self._journal_lock:
            journal = self._journal
            if journal is None:
                if self._journal_failed:
                    return -1
                journal = self._open_journal()
                if journal is None:
                    return -1
            start = journal.size
            try:
                end = journal.append(entry)
            except OSError as exc:
                self._journal_error(exc)
                return -1
            if record is not None:
                entry["_record"] = record  # after it is written: the writer needs no parsing
            self._pending.append((start, end, entry))
            if len(self._pending) > MAX_UNSAVED:
                self._pending.popleft()
            return end

    def pending_since(self, offset: int) -> tuple[list[dict[str, Any]], int] | None:
        """The journal's lines from ``offset`` on, as written, and where they end; None when
        memory no longer has them all (the writer then reads the file)."""
        items = list(self._pending)  # a snapshot: heartbeats append from another thread
        if not items:
            journal = self._journal
            return ([], offset) if journal is not None and journal.size == offset else None
        for i, (start, _, _) in enumerate(items):
            if start == offset:
                return [entry for _, _, entry in items[i:]], items[-1][1]
        return None

    def _open_journal(self) -> JournalWriter | None:
        """Called with the journal lock held."""
        name = journal_name(self.run.run_id).replace(".jsonl", f"-{self._part}.jsonl")
        try:
            journal = JournalWriter(self._folder, name)
            journal.append(run_entry(self.run))
        except OSError as exc:
            self._journal_error(exc)
            return None
        self._journal = journal
        return journal

    def _journal_error(self, exc: OSError) -> None:
        self._journal_failed = True
        self._journal = None
        self._warnings.warn("journal", f"cannot write the journal in {self._folder}: {exc}; records are "
                                       "kept in memory and written to the store as it allows")

    @property
    def journal(self) -> JournalWriter | None:
        return self._journal

    def cell_started(self, cell_id: str | None, source: str, execution_count: int | None,
                     started_at: float) -> None:
        """A cell began: if the kernel dies before its record, the next reader says so."""
        if not self.in_parent:
            return
        self._cell_open = True
        # the hash of the source as typed: a died record's cell (one with no id) is then matched
        # with its other runs, though its source is kept only masked
        self._append({"k": "start", "seq": self._seq + 1, "at": started_at, "cell_id": cell_id,
                      "count": execution_count, "src": mask(source), "hash": code_hash(source)})

    def cell_dropped(self) -> None:
        """The started cell will have no record (measuring was switched off during it)."""
        if self.in_parent and self._cell_open:
            self._cell_open = False
            self._append({"k": "drop"})

    def heartbeat(self, rss_high_water: int, oom_kills: int | None = None, cgroup: str | None = None) -> None:
        """A running cell is alive (called from a watcher thread, at most once a second), with
        its RSS high-water mark and its cgroup's OOM-kill count so far."""
        if self.in_parent and self._cell_open and self._journal is not None:
            self._append({"k": "beat", "at": time.time(), "rss": rss_high_water, "oom": oom_kills, "cg": cgroup})

    # -- saving --------------------------------------------------------------
    def save(self, record: CellRecord, *, ends_cell: bool = False) -> None:
        """Keep a record: one journal line now, a store row within about a second."""
        if not self.in_parent:
            return
        if record.notes:  # a note added after the record was made (a guard's, the hooks') is masked too
            record.notes = mask_all(record.notes)
        self.last_record = record
        if not self._run_described:
            self._run_described = True
            self.run.extra.update(environment_info())
            if self._describe_run is not None:
                self.run.extra.update(self._describe_run())
            self._append(run_entry(self.run))
        if ends_cell:
            self._cell_open = False
        position = self._append(record_entry(record, ends_cell=ends_cell), record)
        if position < 0:  # no journal: only memory has it until the store takes it
            self._only_here.append(record)
            if len(self._only_here) > MAX_UNSAVED:  # gone, and said so
                del self._only_here[0]
                self._lost += 1
                self._warnings.again("lost")
                self._warnings.warn("lost", f"{counted(self._lost, 'record')} could not be kept (no journal, "
                                            f"no store, more than {MAX_UNSAVED:,} waiting)")
        self.writer.wake()

    @property
    def unsaved(self) -> list[CellRecord]:
        """The records not yet known to be in the store, oldest first."""
        in_journal = [entry["_record"] for _, _, entry in list(self._pending) if "_record" in entry]
        return in_journal + self._only_here

    def waiting(self) -> str:
        """Where the records not yet in the store wait, in words (for status and the doctor)."""
        count = len(self.unsaved)
        if not count:
            return "every record is in the store"
        journal = self._journal
        in_memory = len(self.unsaved_in_memory())
        where = [f"{count - in_memory} in the journal {journal.path}" if journal is not None and
                 count > in_memory else "", f"{in_memory} in memory only" if in_memory else ""]
        return f"{counted(count, 'record')} waiting for the store: " + ", ".join(w for w in where if w)

    def unsaved_in_memory(self) -> list[CellRecord]:
        """The records the journal could not take: only here, written to the store directly."""
        return list(self._only_here)

    @property
    def retry_s(self) -> float:
        return STORE_RETRY_S

    def saved_up_to(self, position: int, written: list[CellRecord] | None = None) -> None:
        """The store holds the journal up to ``position`` (or these in-memory records)."""
        if written is not None:
            done = {id(r) for r in written}
            self._only_here = [r for r in self._only_here if id(r) not in done]
            return
        pending = self._pending
        while pending and pending[0][1] <= position:
            pending.popleft()

    # -- the store -----------------------------------------------------------
    @property
    def store(self) -> RecordStore | None:
        """The store, opened on first use; after a failure, tried again every :data:`STORE_RETRY_S`."""
        if self._store is None and time.monotonic() >= self._retry_at:
            try:
                if self._store_factory is not None:
                    self._store = self._store_factory()
                else:
                    self._store = open_store(notice=self._notice)
                self._error = None
            except StoreError as exc:
                self.failed(exc)
        return self._store

    def _notice(self, message: str) -> None:
        self._warnings.again("store-file")
        self._warnings.warn("store-file", message)

    @property
    def opened_store(self) -> RecordStore | None:
        """The store if it is open now (never opens it)."""
        return self._store

    @property
    def store_error(self) -> str | None:
        """Why the store cannot be written now; None while it works."""
        return self._error

    def failed(self, exc: StoreError) -> None:
        self._error = str(exc)
        self._retry_at = time.monotonic() + STORE_RETRY_S
        where = f"the journal {self._journal.path}" if self._journal is not None else "memory"
        self._warnings.warn("store", f"{exc}; records are kept in {where} and written when it works again")

    def succeeded(self) -> None:
        self._error = None

    def sync(self, *, force: bool = False) -> bool:
        """Write what waits into the store now; True when nothing waits any more."""
        if force:
            self._retry_at = 0.0
        return self.writer.write_now()

    def rotate_if_large(self, ingested: int) -> None:
        """Start a new journal once this one is large and all in the store (no cell running)."""
        with self._journal_lock:
            journal = self._journal
            if journal is None or journal.size < ROTATE_BYTES or ingested < journal.size or self._cell_open:
                return
            store = self._store
            journal.close(remove=True)
            self._journal = None
            self._part += 1
            self._open_journal()
        if store is not None:
            forget = getattr(store, "forget_journal", None)
            if forget is not None:
                forget(journal.path.name)

    # -- the end -------------------------------------------------------------
    def finish(self) -> str | None:
        """At exit: write what waits; say where anything left is kept (the journal, or a file)."""
        if not self.in_parent:
            return None
        done = self.sync(force=True)
        self.writer.stop()
        with self._journal_lock:
            journal, self._journal = self._journal, None
            self._journal_failed = True  # nothing is appended after this
        if journal is not None:
            if done:
                journal.close(remove=True)
                forget = getattr(self._store, "forget_journal", None)
                if forget is not None:
                    try:
                        forget(journal.path.name)
                    except StoreError as exc:
                        self._say(f"could not tidy the record store: {exc}")
                return None
            journal.close(remove=False)
            waiting = len(self.unsaved)
            self._say(f"the record store could not be written ({self._error}); {counted(waiting, 'record')} "
                      f"wait in {journal.path}, and the next nbprofile that opens the store (a kernel, the "
                      "Jupyter server, `nbprofile show`) writes them")
            return str(journal.path)
        return self._save_fallback()

    def _save_fallback(self) -> str | None:
        """Records that are only in memory go to a JSON Lines file beside the store (or in the
        temp folder); its path is in the warning. Nothing is lost."""
        records = self.unsaved_in_memory()
        if not records:
            return None
        name = f"nbprofile-unsaved-{self.run.run_id}.jsonl"
        lines = "".join(json.dumps({"run": self.run.to_json(), "record": r.to_json()}) + "\n" for r in records)
        for folder in (str(default_path().parent), tempfile.gettempdir()):
            path = os.path.join(folder, name)
            try:
                with open(path, "a", encoding="utf-8", errors="backslashreplace") as f:
                    f.write(lines)
            except OSError:
                continue
            saved = counted(len(records), "record")
            self._say(f"the record store could not be written ({self._error}); {saved} saved to {path}")
            self._only_here.clear()
            return path
        return None

    def _say(self, message: str) -> None:
        """At exit the notebook may be gone: say it in the kernel's log too."""
        self._warnings.again("fallback")
        self._warnings.warn("fallback", message)
        stream = sys.__stderr__
        if stream is not None:
            try:
                stream.write(f"nbprofile: {message}\n")
                stream.flush()
            except (OSError, ValueError):  # the log is closed too: the warning above was the last word
                pass

    def close(self) -> None:
        """Save what is left and close the store."""
        self.finish()
        if self._store is not None and self.in_parent:
            self._store.close()
            self._store = None
