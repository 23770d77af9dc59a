"""The thread that moves a kernel's journal into the store, off the cells' path.

It sleeps until a record is saved, then waits until no record has come for
:data:`BATCH_DELAY_S` (or :data:`MAX_DELAY_S` has passed) so that a burst of
short cells goes in one transaction, written while the kernel is quiet, and
writes the journal's new lines (:func:`nbprofile.store.ingest.ingest`). A reader
(the panel, the CLI) therefore sees a record within about a second of its
footer. A cell pays one attribute write for this; the thread is woken only
when it sleeps. While the store
fails, it tries again every ``STORE_RETRY_S`` (:mod:`nbprofile.engine.recorder`);
the journal keeps everything meanwhile. ``write_now`` does the same work at
once, for whoever must read the store right after a cell (a relative budget,
``%nbprofile history``) and at exit.
"""

from __future__ import annotations

import threading
import time
from typing import Any, Protocol

from nbprofile.errors import StoreError
from nbprofile.meters.own_cpu import OwnCpu, counted
from nbprofile.record import CellRecord, RunInfo
from nbprofile.store.base import RecordStore
from nbprofile.store.ingest import ingest
from nbprofile.store.journal import JournalWriter

#: the writer writes once no record has come for this long...
BATCH_DELAY_S = 0.2
#: ...or once the first record waiting has waited this long
MAX_DELAY_S = 0.8
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
    def pending_since(self, offset: int) -> tuple[list[dict[str, Any]], int] | None: ...
    def rotate_if_large(self, ingested: int) -> None: ...
    def failed(self, exc: StoreError) -> None: ...
    def succeeded(self) -> None: ...


class StoreWriter:
    """One per recorder; its thread starts at the first record."""

    def __init__(self, recorder: Keeper) -> None:
        self._recorder = recorder
        self._lock = threading.Lock()  # one batch at a time: the thread's, or write_now's
        self._wake = threading.Event()
        self._asleep = True  # waiting for a record: the next save wakes it
        self._last_saved = 0.0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.batches = 0  # batches written, for tests and `%nbprofile status`
        #: the profiler's count of its own threads' CPU: the batches run while cells do (set by the profiler)
        self.own_cpu: OwnCpu | None = None

    def wake(self) -> None:
        """A record was saved: write it soon. Cheap on the cell's path: a clock read, and an
        Event.set only when the thread sleeps (waking it each cell would cost a GIL hand-off)."""
        self._last_saved = time.monotonic()
        if not self._asleep:
            return
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
            self._asleep = False
            self._wake.clear()
            # the batch runs while the next cells do: its CPU is nbprofile's, not theirs
            with counted(self.own_cpu):
                if woken:
                    self._gather()
                began = time.monotonic()
                pending = not self.write_now()
            self._asleep = True
            if self._last_saved >= began:  # saved while this batch was written: its wake was skipped
                self._wake.set()

    def _gather(self) -> None:
        """Wait while records keep coming (a burst of cells), up to :data:`MAX_DELAY_S`."""
        first = time.monotonic()
        while not self._stopping:
            quiet_for = time.monotonic() - self._last_saved
            waited = time.monotonic() - first
            if quiet_for >= BATCH_DELAY_S or waited >= MAX_DELAY_S:
                return
            time.sleep(min(BATCH_DELAY_S - quiet_for, MAX_DELAY_S - waited))

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
                    _, position = ingest(store, journal.path.name, journal.read, memory=recorder.pending_since)
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
