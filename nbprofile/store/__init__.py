"""Record stores: where cell records are kept and read back.

:class:`~nbprofile.store.base.RecordStore` is what the engine, the server, the
reports and the CLI need; :class:`~nbprofile.store.sqlite.SQLiteStore` is the
default (one file per user, ``$NBPROFILE_DB`` to move it). :func:`open_store`
opens the one a location names.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from nbprofile.errors import StoreError
from nbprofile.store.base import DB_ENV, RecordStore, default_path
from nbprofile.store.sqlite import SQLiteStore

__all__ = ["DB_ENV", "RecordStore", "SQLiteStore", "default_path", "open_store"]


def open_store(location: str | os.PathLike[str] | None = None, *,
               notice: Callable[[str], None] | None = None, repair: bool = True,
               recover: bool = True) -> SQLiteStore:
    """The store at ``location`` (a file path; default ``$NBPROFILE_DB``, else the user's store).

    With ``repair`` false (the doctor looks, and changes nothing) a damaged file is an
    error rather than set aside, and no journal is recovered; with ``recover`` false, the
    caller recovers the journals of gone kernels itself (``nbprofile run`` says how its
    kernel ended).

    A URL (``postgresql://...``) is refused with a one-line error rather than
    taken for a file path and created as a folder named ``postgresql:``.
    """
    where = str(location) if location is not None else os.environ.get(DB_ENV, "")
    if "://" in where:
        scheme = where.split("://", 1)[0]
        named = f"{DB_ENV}={scheme}://..." if location is None else f"{scheme}://..."
        raise StoreError(f"{named} is not a store this version can open: "
                         "use a SQLite file path (e.g. ~/nbprofile.db)")
    return SQLiteStore(location, notice=notice, recover=repair and recover, repair=repair)
