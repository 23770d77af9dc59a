"""The PostgreSQL store against a real server: its migrations, its password kept out of every
message and row, a server that goes away (nothing lost, one warning), and three real kernels
writing to one database."""

from __future__ import annotations

import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from nbprofile.errors import NbprofileWarning, StoreError
from nbprofile.store import open_store
from nbprofile.store.migrations import MIGRATIONS
from nbprofile.store.postgres_schema import BODIES
from tests.store.test_store_contract import make, run_info
from tests.support.kernel import Kernel, kernel_env
from tests.support.postgres import PostgresServer, free_port, start_server


def wait_for(condition: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.1)


def test_the_same_named_migrations_are_applied_once(pg_url: str) -> None:
    assert list(BODIES) == [name for name, _ in MIGRATIONS]
    open_store(pg_url).close()
    store = open_store(pg_url)
    import psycopg

    with psycopg.connect(pg_url, connect_timeout=10) as conn:
        names = [row[0] for row in conn.execute("SELECT name FROM migrations ORDER BY name")]
    store.close()
    assert names == [name for name, _ in MIGRATIONS]


def test_the_password_is_in_no_path_message_or_row(pg_server: PostgresServer, pg_url: str) -> None:
    secret = "pw-not-shown-4f9a"  # tests/support/postgres.py's role password
    assert secret in pg_url
    store = open_store(pg_url)
    store.write(make("r1", 1, "c1"), run_info("r1"))
    assert secret not in store.path and "***" in store.path
    import psycopg

    with psycopg.connect(pg_url, connect_timeout=10) as conn:
        rows = [str(row) for table in ("runs", "cells", "reading_meta", "migrations")
                for row in conn.execute(f"SELECT t::text FROM {table} t")]  # noqa: S608 (fixed names)
    store.close()
    assert rows and not any(secret in row for row in rows)
    wrong = pg_url.replace(secret, "not-the-password")
    with pytest.raises(StoreError) as failed:
        open_store(wrong)
    assert "password authentication failed" in str(failed.value)
    assert "not-the-password" not in str(failed.value) and "\n" not in str(failed.value)


def test_a_server_that_is_not_there_fails_at_once_in_one_line(pg_server: PostgresServer) -> None:
    url = f"postgresql://someone:hunter2@127.0.0.1:{free_port()}/nothing"
    started = time.monotonic()
    with pytest.raises(StoreError) as failed:
        open_store(url)
    message = str(failed.value)
    assert time.monotonic() - started < 5
    assert "hunter2" not in message and "\n" not in message and "someone:***@127.0.0.1" in message


@pytest.fixture
def own_server() -> Iterator[PostgresServer]:
    """A server of this test's own: the test stops and starts it."""
    from tests.support.postgres import binaries

    if binaries() is None:
        pytest.skip("PostgreSQL is not installed (scripts/test.sh installs Debian's postgresql package)")
    server = start_server()
    yield server
    server.destroy()


def test_a_server_stopped_mid_run_loses_nothing_and_warns_once(
        shell: Any, own_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbprofile.engine import current
    from nbprofile.engine import recorder as recorder_module

    monkeypatch.setattr(recorder_module, "STORE_RETRY_S", 0.5)
    url = own_server.new_database()
    monkeypatch.setenv("NBPROFILE_DB", url)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        shell.run_line_magic("load_ext", "nbprofile")
        shell.run_line_magic("nbprofile", "footer off")
        assert shell.run_cell("before = 1").success
        assert current.current().recorder.sync(force=True)
        own_server.stop()
        for i in range(4):
            assert shell.run_cell(f"down{i} = {i}").success
        assert wait_for(lambda: current.current().recorder.store_error, 20)
        assert not current.current().recorder.sync(force=True)
        own_server.start()
        assert wait_for(lambda: current.current().recorder.unsaved == [], 30)
        assert shell.run_cell("after = 2").success
        assert current.current().recorder.sync(force=True)
        current.install(None).close()  # while its server still runs
    messages = [str(w.message) for w in caught if issubclass(w.category, NbprofileWarning)]
    assert len(messages) == 1, messages
    assert "journal" in messages[0] and "pw-not-shown" not in messages[0], messages
    store = open_store(url)
    sources = [r.source for r in store.history(None, 100)]
    runs = store.runs()
    store.close()
    assert sources == ["before = 1", "down0 = 0", "down1 = 1", "down2 = 2", "down3 = 3", "after = 2"]
    assert runs[0]["executions"] == 6 and runs[0]["user"] and runs[0]["host"]


def test_three_kernels_write_every_record_to_one_database(pg_url: str, tmp_path: Path) -> None:
    kernels = []
    try:
        for k in range(3):
            env = kernel_env(tmp_path / f"k{k}", tmp_path / "unused.db", f"/team/nb{k % 2}.ipynb")
            env["NBPROFILE_DB"] = pg_url
            kernels.append(Kernel(env))
        for kernel in kernels:
            assert kernel.run("%load_ext nbprofile", settle=False).status == "ok"
        for i in range(5):
            for k, kernel in enumerate(kernels):
                reply = kernel.run(f"x{i} = {k} * {i}", cell_id=f"cell-{i}", settle=i == 4)
                assert reply.status == "ok" and reply.footers, reply
    finally:
        for kernel in kernels:
            kernel.shutdown()
    store = open_store(pg_url)
    runs = store.runs()
    per_run = {r["run_id"]: [rec.source for rec in store.records(r["run_id"])] for r in runs}
    nb0 = store.runs("/team/nb0.ipynb")
    store.close()
    assert len(runs) == 3
    assert all(sources[-5:] == [f"x{i} = {k} * {i}" for i in range(5)]
               for sources in per_run.values() for k in [int(sources[-1].split()[2])])
    assert sorted(r["executions"] for r in runs) == [5, 5, 5]
    assert len(nb0) == 2 and all(r["cells"] == 5 for r in runs)


def test_every_statement_has_a_time_limit_unless_the_url_sets_its_own(pg_url: str) -> None:
    store = open_store(pg_url)
    with store._session("read"):
        limit = store._execute("SHOW statement_timeout").fetchone()[0]
    store.close()
    own = open_store(pg_url + "?options=-c%20statement_timeout%3D5s")
    with own._session("read"):
        chosen = own._execute("SHOW statement_timeout").fetchone()[0]
    own.close()
    assert (limit, chosen) == ("1min", "5s")


def test_the_doctor_says_whether_a_team_store_answers_never_its_password(
        pg_server: PostgresServer, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from nbprofile.engine.doctor import run_doctor

    monkeypatch.setenv("NBPROFILE_DB", pg_url)
    row = next(r for r in run_doctor().rows if r.name == "store")
    assert row.status == "ok" and "database server, reachable" in row.detail
    assert "will be created" not in row.detail
    closed = pg_url.replace(f":{pg_server.port}/", f":{free_port()}/")
    monkeypatch.setenv("NBPROFILE_DB", closed)
    row = next(r for r in run_doctor().rows if r.name == "store")
    assert row.status == "failing" and row.fix and "start the server" in row.fix
    secret = pg_url.split(":")[2].split("@")[0]
    assert secret not in row.detail + row.fix
