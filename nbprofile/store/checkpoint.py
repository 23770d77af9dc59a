"""Copying a store's write-ahead log back into its file, off the cells' path.

SQLite runs the checkpoint (and its fsync) inside whichever commit finds 1,000
pages in the WAL, so every few hundred cells one cell would wait for it (~6 ms on
a local disk, far longer on a network home directory). :class:`Checkpointer`
copies the WAL from a thread of its own first, which SQLite lets run beside the
writer and which holds no GIL while it copies; SQLite's own checkpoint stays as
the bound on the WAL, and finds nothing left to copy.
"""

from __future__ import annotations

import sqlite3
import threading

#: commits (~3 WAL pages each) between the checkpoint thread's runs: well before
#: SQLite's own checkpoint at 1,000 pages, so that it finds the WAL copied already
CHECKPOINT_EVERY = 100
#: and at most this long after a commit
CHECKPOINT_INTERVAL_S = 5.0
BUSY_TIMEOUT_MS = 2000


class Checkpointer:
    """Copies a store's WAL back into its file from a daemon thread.

    ``PRAGMA wal_checkpoint(PASSIVE)`` takes no lock a writer needs, so records
    go on being committed while it runs. It runs every :data:`CHECKPOINT_EVERY`
    commits of this store and, while commits keep coming, at least every
    :data:`CHECKPOINT_INTERVAL_S`. The thread, with its own connection, starts at
    the first request; if it cannot run, SQLite's own checkpoint in the commit
    still keeps the WAL bounded.
    """

    def __init__(self, path: str) -> None:
        self.path = path
        self.error: str | None = None  # why the thread stopped
        self.checkpoints = 0  # completed, for tests and `nbprofile doctor`
        self._wake = threading.Event()
        self._dirty = False  # commits since the thread's last checkpoint
        self._stopping = False
        self._thread: threading.Thread | None = None

    def committed(self, commits: int) -> None:
        """Called after each commit of the store (its lock held)."""
        self._dirty = True
        if self._thread is None:
            if self.error is not None or self._stopping:
                return
            self._thread = threading.Thread(target=self._run, name="nbprofile-checkpoint", daemon=True)
            try:
                self._thread.start()
            except RuntimeError as exc:  # no more threads, or the interpreter is exiting
                self.error = f"cannot start the checkpoint thread: {exc}"
        elif commits % CHECKPOINT_EVERY == 0:
            self._wake.set()

    def _run(self) -> None:
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, timeout=BUSY_TIMEOUT_MS / 1000)
        except sqlite3.Error as exc:
            self.error = f"cannot open {self.path} to checkpoint it: {exc}"
            return
        try:
            while not self._stopping:
                self._wake.wait(CHECKPOINT_INTERVAL_S)
                self._wake.clear()
                if self._stopping or not self._dirty:
                    continue
                self._dirty = False
                try:
                    conn.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except sqlite3.Error as exc:  # SQLite's checkpoint in the commit takes over
                    self.error = f"checkpoint failed: {exc}"
                    return
                self.checkpoints += 1
        finally:
            conn.close()

    def stop(self) -> None:
        self._stopping = True
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=2)
