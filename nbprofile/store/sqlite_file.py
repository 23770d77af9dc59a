"""Noticing what happened to a store's file while it was open: deleted, replaced or damaged.

SQLite keeps using the file it opened: deleted, it goes on writing into an inode
no one can reach (every later record gone when the process exits); overwritten,
it may go on "committing" into garbage. A store therefore checks, before it
works, that the file at its path is still the one it opened and still a SQLite
database, and reopens (or starts a new one) with one notice when it is not.
"""

from __future__ import annotations

import os
import sqlite3
import time
from dataclasses import dataclass

#: how often the content is checked again (the inode is checked every time: a stat is ~1 µs)
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


def damaged(path: str) -> bool:
    """True when the file holds something other than a SQLite database (an empty or
    new file is not damaged: SQLite writes the header on its first commit).

    Asked of a new SQLite connection, never by opening the file ourselves: closing
    any descriptor of a file drops every POSIX lock this process holds on it, the
    locks of the store's own connection included (SQLite's "how to corrupt your
    database", 2.2); SQLite's own connections keep such descriptors open until none
    of them needs the locks. An open connection of ours would not notice: it
    trusts the pages it has cached.
    """
    try:
        conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    except sqlite3.Error:
        return False
    try:
        conn.execute("PRAGMA schema_version").fetchone()
    except sqlite3.DatabaseError as exc:
        return is_damage(exc)
    finally:
        conn.close()
    return False


class FileWatch:
    """The identity of the file a store opened, checked before the store works."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.opened = identity(path)
        self._header_checked = time.monotonic()

    def check(self) -> FileState:
        now = identity(self.path)
        if now is None:
            return FileState("deleted")
        if now != self.opened:
            return FileState("damaged" if damaged(self.path) else "replaced")
        if time.monotonic() - self._header_checked >= HEADER_CHECK_S:
            self._header_checked = time.monotonic()
            if damaged(self.path):
                return FileState("damaged")
        return FileState("same")


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
