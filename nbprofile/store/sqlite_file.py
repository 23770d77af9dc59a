"""A store's SQLite file: opening it, and noticing what happens to it while it is open.

SQLite keeps using the file it opened: deleted, it goes on writing into an inode
no one can reach (every later record gone when the process exits); overwritten,
it may go on "committing" into garbage. :class:`StoreFile` therefore checks,
before the store works, that the file at its path is still the one it opened
and still a SQLite database, and reopens (or starts a new one) with one notice
when it is not: deleted or replaced, the file at the path is used; damaged, it
is set aside under a new name and a new store starts.
"""

from __future__ import annotations

import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from nbprofile.errors import StoreError
from nbprofile.store.base import DB_ENV
from nbprofile.store.migrations import apply_migrations

#: how long a writer waits for another's lock before the store says it is locked
BUSY_TIMEOUT_MS = 2000
#: how often the header is checked again (the inode is checked every time: a stat is ~1 µs)
HEADER_CHECK_S = 1.0


@dataclass(frozen=True)
class FileState:
    """What is at a store's path now, compared with what was opened."""

    kind: str  # "same" | "deleted" | "replaced" | "damaged"

    @property
    def changed(self) -> bool:
        return self.kind != "same"


def identity(path: str) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


#: the first 16 bytes of every SQLite database file
SQLITE_HEADER = b"SQLite format 3\x00"
FD_FOLDER = "/proc/self/fd"


def open_descriptor(path: str, ident: tuple[int, int] | None) -> int | None:
    """A descriptor this process already has open on the file (SQLite's own), found in
    /proc/self/fd; None where there is none or no /proc.

    The header is read through it with ``pread``, never by opening the file ourselves:
    closing any descriptor of a file drops every POSIX lock this process holds on it, the
    locks of the store's own connection included (SQLite's "how to corrupt your database",
    2.2). Nor can SQLite tell: in WAL mode page 1 comes from the WAL, and a connection
    trusts the pages it has.
    """
    if ident is None:
        return None
    try:
        names = os.listdir(FD_FOLDER)
    except OSError:
        return None
    for name in names:
        try:
            fd = int(name)
            st = os.fstat(fd)
        except (ValueError, OSError):
            continue
        if (st.st_dev, st.st_ino) == ident:
            return fd
    return None


def damaged_through(fd: int, ident: tuple[int, int]) -> bool:
    """True when the file behind ``fd`` (still the store's) holds something other than a
    SQLite database; an empty or new file is not damaged (the header comes with the first commit)."""
    try:
        st = os.fstat(fd)
        if (st.st_dev, st.st_ino) != ident:
            return False
        head = os.pread(fd, len(SQLITE_HEADER), 0)
    except OSError:
        return False
    return len(head) == len(SQLITE_HEADER) and head != SQLITE_HEADER


class FileWatch:
    """The identity of the file a store opened, checked before the store works."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.opened = identity(path)
        self._fd: int | None = None
        self._header_checked = time.monotonic()

    def check(self) -> FileState:
        now = identity(self.path)
        if now is None:
            return FileState("deleted")
        if now != self.opened:
            return FileState("replaced")  # reopened: SQLite itself says if that file is damaged
        if time.monotonic() - self._header_checked >= HEADER_CHECK_S:
            self._header_checked = time.monotonic()
            if self._fd is None or not _same(self._fd, now):
                self._fd = open_descriptor(self.path, now)
            if self._fd is not None and damaged_through(self._fd, now):
                return FileState("damaged")
        return FileState("same")


def _same(fd: int, ident: tuple[int, int]) -> bool:
    try:
        st = os.fstat(fd)
    except OSError:
        return False
    return (st.st_dev, st.st_ino) == ident


def set_aside(path: str) -> str:
    """Move a damaged store (and its WAL and shared-memory files) out of the way; return
    the name it now has. The data in it is kept for whoever wants to look."""
    stamp = time.strftime("%Y%m%dT%H%M%S")
    aside = f"{path}.damaged-{stamp}"
    n = 1
    while os.path.exists(aside):
        n += 1
        aside = f"{path}.damaged-{stamp}-{n}"
    os.replace(path, aside)
    for suffix in ("-wal", "-shm"):
        try:
            os.replace(path + suffix, aside + suffix)
        except FileNotFoundError:
            pass
    return aside


def is_damage(exc: Exception) -> bool:
    """Whether a SQLite error says the file is not (or no longer) a database."""
    text = str(exc).lower()
    return "not a database" in text or "malformed" in text or "disk image" in text


def _log_notice(message: str) -> None:
    logging.getLogger("nbprofile").warning("nbprofile: %s", message)


def _use_wal(conn: sqlite3.Connection) -> None:
    """Put the file in WAL mode (it stays so), waiting out other kernels doing the same.

    Switching a new file to WAL needs an exclusive lock, and SQLite answers
    "database is locked" at once rather than calling the busy handler when another
    connection is opening the same new file; so the switch is retried here for as
    long as a write would wait. A file already in WAL mode takes no lock at all.
    """
    if conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal":
        return
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) and "busy" not in str(exc):
                raise
            if time.monotonic() >= deadline:
                raise
            time.sleep(random.uniform(0.002, 0.02))  # jitter: openers don't retry in step



class StoreFile:
    """The connection to a store's file, kept pointing at the file its path names.

    One connection per store object, used from one thread at a time (:attr:`_lock`
    guards it, since a ``measure()`` block may run on a worker thread).
    """

    def __init__(self, path: str, *, notice: Callable[[str], None] | None, repair: bool) -> None:
        self.path = path
        self._notice = notice if notice is not None else _log_notice
        self._lock = threading.Lock()
        self._uri = self.path.startswith("file:")  # e.g. file:records.db?mode=ro
        self._on_disk = self.path != ":memory:" and not self._uri
        self._writable = not self.path.endswith("mode=ro")
        self._watch: FileWatch | None = None
        try:
            self._connect()
        except (sqlite3.Error, OSError) as exc:
            if not (repair and self._on_disk and isinstance(exc, sqlite3.DatabaseError) and is_damage(exc)):
                raise StoreError(
                    f"cannot open the record store {self.path}: {exc}; "
                    f"set {DB_ENV} to a writable file"
                ) from exc
            self._start_again("damaged")

    def _forget_cached(self) -> None:
        """A new connection, maybe to a new file: what was cached from the old one is forgotten."""

    def _connect(self) -> None:
        if self._on_disk:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False,
                                     timeout=BUSY_TIMEOUT_MS / 1000, uri=self._uri)
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            if self._writable:
                _use_wal(self._conn)
                self._conn.execute("PRAGMA synchronous = NORMAL")
                apply_migrations(self._conn)
        except BaseException:
            self._conn.close()
            raise
        self._watch = FileWatch(self.path) if self._on_disk else None
        self._forget_cached()

    def _keep_file(self) -> None:
        """Reopen, or start again, if the file at the path is no longer the one open."""
        if self._watch is None:
            return
        with self._lock:
            state = self._watch.check()
            if state.changed:
                self._start_again(state.kind)

    def _rollback(self) -> None:
        try:
            self._conn.execute("ROLLBACK")
        except sqlite3.Error:  # no transaction left to roll back (the error ended it)
            pass

    def _start_again(self, kind: str) -> None:
        """The file was deleted, replaced or damaged: work on what is (or will be) there now."""
        if getattr(self, "_conn", None) is not None:  # None: the first open found the file damaged
            self._conn.close()
        where = self.path
        if kind == "damaged":
            where = set_aside(self.path)
            message = (f"the record store {self.path} is damaged (not a SQLite database); it was "
                       f"moved to {where} and a new store started; records still in kernels' "
                       "journals are written to the new one")
        elif kind == "deleted":
            message = (f"the record store {self.path} was deleted while in use; a new one was "
                       "started, and records still in kernels' journals are written to it")
        else:
            message = f"the record store {self.path} was replaced by another file; using that file now"
        try:
            self._connect()
        except (sqlite3.Error, OSError) as exc:
            raise StoreError(f"cannot open the record store {self.path} again: {exc}; "
                             f"set {DB_ENV} to a writable file") from exc
        self._notice(message)

    def _damaged_now(self, exc: sqlite3.Error) -> bool:
        """A statement found the file damaged: set it aside and start again (True) or not."""
        if not (self._on_disk and is_damage(exc)):
            return False
        self._start_again("damaged")
        return True

