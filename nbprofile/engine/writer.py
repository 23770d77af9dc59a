"""The thread that moves a kernel's journal into the store, off the cells' path.

It sleeps until a record is saved, waits :data:`BATCH_DELAY_S` more so that a
burst of short cells goes in one transaction, and writes the journal's new
lines (:func:`nbprofile.store.ingest.ingest`). A reader (the panel, the CLI)
therefore sees a record within about a second of its footer. While the store
fails, it tries again every ``STORE_RETRY_S`` (:mod:`nbprofile.engine.recorder`);
the journal keeps everything meanwhile. ``write_now`` does the same work at
once, for whoever must read the store right after a cell (a relative budget,
``%nbprofile history``) and at exit.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

from nbprofile.errors import StoreError
from nbprofile.record import CellRecord, RunInfo
from nbprofile.store.base import RecordStore
from nbprofile.store.ingest import ingest
from nbprofile.store.journal import JournalWriter

#: how long the writer lets records gather after the first one wakes it
BATCH_DELAY_S = 0.25
#: how long exit waits for the writer's last batch
STOP_WAIT_S = 5.0


class Keeper(Protocol):
    """What the writer needs from the recorder that owns it."""

    run: RunInfo

    @property
    def retry_s(self) -> float: ...
    @property
    def store(self) -> RecordStore | None: ...
    @property
    def journal(self) -> JournalWriter | None: ...
    @property
    def unsaved(self) -> list[CellRecord]: ...
    def unsaved_in_memory(self) -> list[CellRecord]: ...
    def saved_up_to(self, position: int, written: list[CellRecord] | None = None) -> None: ...
    def rotate_if_large(self, ingested: int) -> None: ...
    def failed(self, exc: StoreError) -> None: ...
    def succeeded(self) -> None: ...


class StoreWriter:
    """One per recorder; its thread starts at the first record."""

    def __init__(self, recorder: Keeper) -> None:
        self._recorder = recorder
        self._lock = threading.Lock()  # one batch at a time: the thread's, or write_now's
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.batches = 0  # batches written, for tests and `%nbprofile status`

    def wake(self) -> None:
        """A record was saved: write it soon. Cheap: one Event.set on the cell's path."""
        if self._thread is None and not self._stopping:
            self._thread = threading.Thread(target=self._run, name="nbprofile-writer", daemon=True)
            try:
                self._thread.start()
            except RuntimeError:  # the interpreter is exiting: finish() writes what is left
                self._thread = None
                return
        self._wake.set()

    def _run(self) -> None:
        pending = False
        while not self._stopping:
            woken = self._wake.wait(self._recorder.retry_s if pending else None)
            if self._stopping:
                return
            if woken:
                time.sleep(BATCH_DELAY_S)  # let a burst of cells come together
            self._wake.clear()
            pending = not self.write_now()

    def write_now(self) -> bool:
        """Write what waits into the store; True when nothing waits any more."""
        recorder = self._recorder
        with self._lock:
            store = recorder.store  # None while it cannot be opened (tried again later)
            if store is None:
                return not recorder.unsaved
            try:
                journal = recorder.journal
                if journal is not None:
                    _, position = ingest(store, journal.path.name, journal.read)
                    recorder.saved_up_to(position)
                    recorder.rotate_if_large(position)
                only_here = recorder.unsaved_in_memory()
                for record in only_here:
                    store.write(record, recorder.run)
                if only_here:
                    recorder.saved_up_to(-1, only_here)
            except StoreError as exc:
                recorder.failed(exc)
                return False
            self.batches += 1
            recorder.succeeded()
            return not recorder.unsaved

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=STOP_WAIT_S)
