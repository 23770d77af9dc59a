"""Keeping records: a closed window becomes a :class:`~nbprofile.record.CellRecord`, and the
record goes to the store, in order, or waits in memory until it can.

The store is opened on first use; after a failure it is left alone for
:data:`STORE_RETRY_S` (a locked or missing file can come back), so a locked
database does not make every cell wait for SQLite's busy timeout. Records that
never reach it go, at exit, to a JSON Lines file beside it (or in the temp
folder), named in a warning.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from nbprofile.engine.warn import OnceWarnings
from nbprofile.engine.windows import Window
from nbprofile.errors import StoreError
from nbprofile.readings import Readings
from nbprofile.record import CellRecord, RunInfo, Status, code_hash, environment_info
from nbprofile.store import open_store
from nbprofile.store.base import RecordStore, default_path

#: records kept in memory while the store cannot be written, oldest dropped first
MAX_UNSAVED = 10_000
#: after the store fails, records wait in memory this long before it is tried again
STORE_RETRY_S = 10.0


class Recorder:
    """The records of one run, and where they are kept."""

    def __init__(self, run: RunInfo, warnings: OnceWarnings, *, store: RecordStore | None = None,
                 store_factory: Callable[[], RecordStore] | None = None,
                 describe_run: Callable[[], dict[str, Any]] | None = None) -> None:
        self.run = run
        self._warnings = warnings
        self._store = store
        self._store_factory = store_factory
        self._describe_run = describe_run  # facts for the run record, gathered at the first save
        self._run_described = False
        self._error: str | None = None
        self._retry_at = 0.0
        self._unsaved: deque[CellRecord] = deque(maxlen=MAX_UNSAVED)
        self._seq = 0
        self.last_record: CellRecord | None = None

    # -- records -------------------------------------------------------------
    def make_record(self, window: Window, readings: Readings, cell_id: str | None, source: str,
                    execution_count: int | None, status: Status, error_type: str | None,
                    name: str | None = None) -> CellRecord:
        """The record of a closed window, numbered in this run."""
        self._seq += 1
        return CellRecord(
            run_id=self.run.run_id, seq=self._seq, notebook=self.run.notebook, cell_id=cell_id,
            execution_count=execution_count, code_hash=code_hash(source), source=source,
            started_at=window.started_at, status=status, error_type=error_type,
            readings=readings, overhead_s=window.overhead_ns / 1e9, name=name,
            notes=list(window.faults),
        )

    # -- the store -----------------------------------------------------------
    @property
    def store(self) -> RecordStore | None:
        """The store, opened on first use; after a failure, tried again every :data:`STORE_RETRY_S`."""
        if self._store is None and time.monotonic() >= self._retry_at:
            try:
                if self._store_factory is not None:
                    self._store = self._store_factory()
                else:
                    self._store = open_store()
                self._error = None
            except StoreError as exc:
                self._failed(exc)
        return self._store

    @property
    def opened_store(self) -> RecordStore | None:
        """The store if it is open now (never opens it)."""
        return self._store

    @property
    def store_error(self) -> str | None:
        """Why the store cannot be written now; None while it works."""
        return self._error

    @property
    def unsaved(self) -> list[CellRecord]:
        """The records waiting in memory for the store."""
        return list(self._unsaved)

    def save(self, record: CellRecord) -> None:
        """Commit a record (after any that are waiting); keep it in memory if the store fails."""
        self.last_record = record
        if not self._run_described:
            self._run_described = True
            self.run.extra.update(environment_info())
            if self._describe_run is not None:
                self.run.extra.update(self._describe_run())
        # Queued behind any records still waiting, so that they are written in order.
        self._unsaved.append(record)
        if time.monotonic() >= self._retry_at and self.flush():
            self._error = None

    def flush(self, *, force: bool = False) -> bool:
        """Write the records a failed write left in memory; True when none are left."""
        if not self._unsaved:
            return True
        if force:
            self._retry_at = 0.0
        store = self.store  # None while the store cannot be opened (retried later)
        if store is None:
            return False
        try:
            while self._unsaved:
                store.write(self._unsaved[0], self.run)
                self._unsaved.popleft()
        except StoreError as exc:
            self._failed(exc)
            return False
        return True

    def _failed(self, exc: StoreError) -> None:
        self._error = str(exc)
        self._retry_at = time.monotonic() + STORE_RETRY_S
        self._warnings.warn("store", f"{exc}; records are kept in memory and written when it works again")

    def save_fallback(self) -> str | None:
        """At exit, records the store never took go to a JSON Lines file beside it (or in
        the temp folder); its path is in the warning. Nothing is lost."""
        if not self._unsaved or self.flush(force=True):
            return None
        name = f"nbprofile-unsaved-{self.run.run_id}.jsonl"
        lines = "".join(json.dumps({"run": self.run.to_json(), "record": r.to_json()}) + "\n"
                        for r in self._unsaved)
        for folder in (str(default_path().parent), tempfile.gettempdir()):
            path = os.path.join(folder, name)
            try:
                with open(path, "a", encoding="utf-8") as f:
                    f.write(lines)
            except OSError:
                continue
            self._warnings.again("fallback")
            self._warnings.warn("fallback", f"the record store could not be written ({self._error}); "
                                            f"{len(self._unsaved)} records saved to {path}")
            self._unsaved.clear()
            return path
        return None

    def close(self) -> None:
        """Save what is left (to the fallback file if need be) and close the store."""
        self.save_fallback()
        if self._store is not None:
            self._store.close()
            self._store = None
