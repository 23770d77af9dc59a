"""A throwaway PostgreSQL server for the tests: ``initdb`` into a temp folder, started on a free
port on 127.0.0.1 (no Unix socket), with a password for TCP logins.

As root (CI), PostgreSQL refuses to run: the server runs as the ``postgres`` user
(``runuser``). Its binaries are found on PATH, else in Debian's /usr/lib/postgresql/<v>/bin.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from dataclasses import dataclass
from pathlib import Path

ADMIN = "nbadmin"


def binaries() -> Path | None:
    """The folder holding initdb and pg_ctl; None where PostgreSQL is not installed."""
    found = shutil.which("pg_ctl")
    if found and shutil.which("initdb"):
        return Path(os.path.realpath(found)).parent
    def version(pg_ctl: str) -> int:
        name = Path(pg_ctl).parent.parent.name
        return int(name) if name.isdigit() else 0

    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=version)
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class PostgresServer:
    bin: Path
    data: Path
    port: int
    password: str
    _as: list[str]

    def _run(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run([*self._as, *args], capture_output=True, text=True, timeout=timeout)
        if done.returncode != 0:
            what = " ".join(args[:2])
            raise RuntimeError(f"{what} failed ({done.returncode}): {done.stderr or done.stdout}")

    def start(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.data / "server.log"),
                  "-w", "-t", "60", "start")

    def stop(self) -> None:
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "stop")

    def url(self, user: str = ADMIN, password: str | None = None, database: str = "postgres") -> str:
        secret = self.password if password is None else password
        return f"postgresql://{user}:{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self, user: str | None = None, password: str = "pw-not-shown-4f9a") -> str:
        """A database of its own, owned by a new role with a password; its URL."""
        import psycopg

        name = f"nb_{uuid.uuid4().hex[:10]}"
        role = user or name
        with psycopg.connect(self.url(), autocommit=True, connect_timeout=10) as conn:
            exists = conn.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (role,)).fetchone()
            if not exists:
                conn.execute(f'CREATE ROLE "{role}" LOGIN PASSWORD \'{password}\'')
            conn.execute(f'CREATE DATABASE "{name}" OWNER "{role}"')
        return self.url(role, password, name)

    def destroy(self) -> None:
        try:
            self.stop()
        finally:
            shutil.rmtree(self.data.parent, ignore_errors=True)


def start_server() -> PostgresServer:
    """initdb, configure (127.0.0.1 only, a free port, passwords over TCP), start."""
    folder = binaries()
    if folder is None:
        raise FileNotFoundError("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql")
    root = Path(tempfile.mkdtemp(prefix="nbprofile-pg-"))
    data = root / "data"
    password = uuid.uuid4().hex
    pwfile = root / "pw"
    pwfile.write_text(password + "\n")
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL will not run as root
        run_as = ["runuser", "-u", "postgres", "--"]
        shutil.chown(root, "postgres")
        shutil.chown(pwfile, "postgres")
    done = subprocess.run([*run_as, str(folder / "initdb"), "-D", str(data), "-U", ADMIN,
                           "-A", "scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8", "--no-sync"],
                          capture_output=True, text=True, timeout=120)
    if done.returncode != 0:
        raise RuntimeError(f"initdb failed: {done.stderr or done.stdout}")
    port = free_port()
    conf = (f"\nlisten_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = ''\n"
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\nmax_connections = 100\n")
    subprocess.run([*run_as, "sh", "-c", f"cat >> {data / 'postgresql.conf'}"], input=conf, text=True,
                   check=True, timeout=30)
    server = PostgresServer(folder, data, port, password, run_as)
    server.start()
    return server
