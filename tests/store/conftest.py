"""A PostgreSQL server for the store's tests (tests/support/postgres.py), started once a
session; each test gets a database and role of its own. ``any_store`` runs a test on both
backends."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.postgres import PostgresServer, binaries, start_server


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql/*/bin): "
                    "scripts/test.sh installs Debian's postgresql package")
    pytest.importorskip("psycopg", reason="psycopg is not installed: pip install -e '.[test]'")
    server = start_server()
    yield server
    server.destroy()


@pytest.fixture
def pg_url(pg_server: PostgresServer) -> str:
    """The URL (with its password) of a new, empty database."""
    return pg_server.new_database()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Callable[..., Any]]:
    """``any_store()`` opens a store (again, on the same database, each call) on the backend."""
    from nbprofile.store import open_store

    where = str(tmp_path / "s.db") if request.param == "sqlite" else request.getfixturevalue("pg_url")
    opened: list[Any] = []

    def make(**kwargs: Any) -> Any:
        store = open_store(where, **kwargs)
        opened.append(store)
        return store

    make.where = where  # type: ignore[attr-defined]
    make.backend = request.param  # type: ignore[attr-defined]
    yield make
    for store in opened:
        store.close()
