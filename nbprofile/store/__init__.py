"""Record stores: where cell records are kept and read back.

:class:`~nbprofile.store.base.RecordStore` is what the engine, the server, the
reports and the CLI need; :class:`~nbprofile.store.sqlite.SQLiteStore` is the
default (one file per user, ``$NBPROFILE_DB`` to move it);
:class:`~nbprofile.store.postgres.PostgresStore` a team's, on a PostgreSQL server
(``$NBPROFILE_DB=postgresql://user@host/db``). :func:`open_store` opens the one a location names.
"""

from __future__ import annotations

import os
from collections.abc import Callable

from nbprofile.errors import StoreError
from nbprofile.store.base import DB_ENV, RecordStore, default_path
from nbprofile.store.location import POSTGRES_SCHEMES, scheme_of
from nbprofile.store.sqlite import SQLiteStore

__all__ = ["DB_ENV", "RecordStore", "SQLiteStore", "default_path", "open_store"]


def open_store(location: str | os.PathLike[str] | None = None, *,
               notice: Callable[[str], None] | None = None, repair: bool = True,
               recover: bool = True) -> RecordStore:
    """The store at ``location`` (a file path, or a PostgreSQL URL; default ``$NBPROFILE_DB``,
    else the user's store).

    With ``repair`` false (the doctor looks, and changes nothing) a damaged file is an
    error rather than set aside, and no journal is recovered; with ``recover`` false, the
    caller recovers the journals of gone kernels itself (``nbprofile run`` says how its
    kernel ended).

    ``postgresql://user@host/db`` opens a team's store on that server
    (:class:`~nbprofile.store.postgres.PostgresStore`); any other URL is refused with a
    one-line error rather than taken for a file path.
    """
    where = str(location) if location is not None else os.environ.get(DB_ENV, "")
    scheme = scheme_of(where)
    if scheme in POSTGRES_SCHEMES:
        from nbprofile.store.postgres import PostgresStore

        return PostgresStore(where, notice=notice, recover=repair and recover)
    if scheme is not None:
        named = f"{DB_ENV}={scheme}://..." if location is None else f"{scheme}://..."
        raise StoreError(f"{named} is not a store this version can open: use a SQLite file path "
                         "(e.g. ~/nbprofile.db) or postgresql://user@host/database")
    return SQLiteStore(location, notice=notice, recover=repair and recover, repair=repair)
