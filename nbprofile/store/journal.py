"""A kernel's journal: its records as lines in an append-only file of its own, beside the store.

A cell's record is one ``write`` to the journal before its footer shows; moving
it into the store (SQLite, and its locks and commits) happens later, in batches,
off the cell's path (:mod:`nbprofile.store.ingest`). No fsync: like SQLite's WAL
with ``synchronous=NORMAL``, a line handed to the OS survives the kernel being
killed, though not a power cut in the next moments.

Each line is one JSON object (ASCII only: a string that is not valid Unicode,
such as a lone surrogate from a non-UTF-8 file name, is kept as its ``\\udcXX``
escape and comes back unchanged), with ``k`` its kind:

* ``run``: the run (written first, and again when the run learns more about itself);
* ``start``: a cell began (seq of the cell, when, its id, count and source);
* ``rec``: a record (``cell`` true when it ends the started cell, false for a
  ``measure()`` block inside it), its readings as ``[value, meta id]``;
* ``meta``: what a meta id stands for (unit, method, source, note), written once per
  journal before the first record that uses it: a record's line is then a quarter of
  its full length, and a quarter of the time to encode;
* ``drop``: the started cell will have no record (measuring was switched off in it);
* ``beat``: a running cell is still alive, with the RSS high-water mark so far;
* ``end``: the kernel closed its journal cleanly.

The kernel holds an exclusive ``flock`` on its journal for as long as it lives;
the lock goes when the process does, however it dies, so any other process can
tell a journal whose kernel is gone (:func:`owner_gone`) and recover it: write
what is left into the store, and, for a cell that started and never ended, a
record of status ``died``.
"""

from __future__ import annotations

import json
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from nbprofile.record import CellRecord, RunInfo, current_user, finite
from nbprofile.store.location import folder_key, scheme_of

try:  # not on Windows: there, a journal's kernel is taken as gone once its pid is
    import fcntl
except ImportError:  # pragma: no cover - POSIX everywhere nbprofile is tested
    fcntl = None  # type: ignore[assignment]

SUFFIX = ".jsonl"

# Built once (json.dumps with options builds an encoder per call). ASCII output keeps
# lone surrogates as escapes; non-finite numbers are refused here and cleaned below.
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False, allow_nan=False).encode


def journal_folder(store_path: str) -> Path:
    """Where the journals of the store at ``store_path`` live: a folder beside the file
    (for a SQLite URI, ``file:records.db?mode=ro``, beside the file it names)."""
    if scheme_of(store_path) is not None:  # a server's store: journals stay on this machine
        from jupyter_core.paths import jupyter_data_dir

        return Path(jupyter_data_dir()) / "nbprofile" / "journals" / folder_key(store_path)
    if store_path.startswith("file:"):
        store_path = store_path[len("file:"):].split("?", 1)[0]
    if store_path in (":memory:", ""):
        return Path(tempfile.gettempdir()) / f"nbprofile-journals-{os.getuid() if hasattr(os, 'getuid') else 0}"
    return Path(store_path + ".journals")


def journal_name(run_id: str) -> str:
    """One journal per kernel process: the host and pid say whose it is, the run id which run."""
    host = "".join(c if c.isalnum() or c in "-." else "_" for c in socket.gethostname())[:64]
    return f"{host}-{os.getpid()}-{run_id}{SUFFIX}"


def encode_line(entry: dict[str, Any]) -> bytes:
    """One journal line; a non-finite number becomes null (JSON has no Infinity)."""
    try:
        text = _encode(entry)
    except ValueError:  # inf or nan somewhere: never written as such
        text = _encode(finite(entry))
    return text.encode("ascii") + b"\n"


# -- records as lines ---------------------------------------------------------
def record_entry(record: CellRecord, *, ends_cell: bool) -> dict[str, Any]:
    """A record as a ``rec`` line: its fields in order (readings keep their positional form)."""
    r = record
    return {"k": "rec", "cell": ends_cell, "r": [
        r.run_id, r.seq, r.notebook, r.cell_id, r.execution_count, r.code_hash, r.source,
        r.started_at, r.status, r.error_type, r.readings, r.overhead_s, r.name, r.budget,
        r.verdict, r.verdict_status, r.notes, r.schema_version, r.insights]}


def run_entry(run: RunInfo) -> dict[str, Any]:
    return {"k": "run", "run": {
        "run_id": run.run_id, "notebook": run.notebook, "kernel_id": run.kernel_id,
        "started_at": run.started_at, "host": run.host, "python": run.python,
        "platform": run.platform, "nbprofile": run.nbprofile, "pid": run.pid, "user": run.user,
        "extra": run.extra}}


def run_from_entry(data: dict[str, Any]) -> RunInfo:
    return RunInfo(run_id=data["run_id"], notebook=data["notebook"], kernel_id=data["kernel_id"],
                   started_at=data["started_at"], host=data["host"], python=data["python"],
                   platform=data["platform"], nbprofile=data["nbprofile"], pid=data["pid"],
                   # journals written before runs had a user: the journal's folder is this user's
                   user=data.get("user") or current_user(), extra=dict(data.get("extra") or {}))


# -- the kernel's side --------------------------------------------------------
class JournalWriter:
    """The journal a kernel appends to: opened once, one ``write`` per line, locked for life.

    Only the process that opened it writes: a forked child's appends are dropped
    (it shares the file, and its records are not this kernel's cells).
    """

    def __init__(self, folder: Path, name: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.path = folder / name
        self._pid = os.getpid()
        self._fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(self._fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as exc:
                os.close(self._fd)
                raise OSError(f"the journal {self.path} is held by another process: {exc}") from exc
        self.size = os.fstat(self._fd).st_size
        self.closed = False
        self._metas: dict[tuple[Any, ...], int] = {}  # (unit, method, source, note) -> id in this file

    @property
    def owned(self) -> bool:
        """False in a forked child: it must not write."""
        return os.getpid() == self._pid and not self.closed

    def append(self, entry: dict[str, Any]) -> int:
        """Write one line; return the journal's size after it. Raises OSError (disk full...)."""
        if not self.owned:
            return self.size
        data = self._record_lines(entry) if entry.get("k") == "rec" else encode_line(entry)
        view = memoryview(data)
        while view:  # a regular file takes it in one write unless the disk is full
            written = os.write(self._fd, view)
            view = view[written:]
        self.size += len(data)
        return self.size

    def _record_lines(self, entry: dict[str, Any]) -> bytes:
        """A ``rec`` line with its readings as ``[value, meta id]``, after a ``meta`` line for
        each (unit, method, source, note) this journal has not described yet."""
        fields = list(entry["r"])
        metas = self._metas
        described: list[bytes] = []
        compact: dict[str, tuple[Any, int]] = {}
        for key, reading in fields[10].items():
            meta = tuple(reading[1:])
            found = metas.get(meta)
            if found is None:
                found = metas[meta] = len(metas)
                described.append(encode_line({"k": "meta", "id": found, "m": meta}))
            compact[key] = (reading[0], found)
        fields[10] = compact
        line = encode_line({"k": "rec", "cell": entry["cell"], "r": fields})
        return b"".join(described) + line if described else line

    def read(self, offset: int, limit: int) -> bytes:
        """Bytes from ``offset`` (read through the open file: a deleted journal still reads)."""
        return os.pread(self._fd, limit, offset)

    def replaced(self) -> bool:
        """True when the file at the journal's path is gone or is another file."""
        try:
            on_disk = os.stat(self.path)
        except FileNotFoundError:
            return True
        mine = os.fstat(self._fd)
        return (on_disk.st_dev, on_disk.st_ino) != (mine.st_dev, mine.st_ino)

    def close(self, *, remove: bool) -> None:
        if self.closed or os.getpid() != self._pid:
            return
        self.closed = True
        if remove:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self._fd)  # releases the lock


# -- everyone's side ----------------------------------------------------------
def journals(folder: Path) -> Iterator[Path]:
    """The journals in a folder, oldest first."""
    try:
        found = [p for p in folder.iterdir() if p.name.endswith(SUFFIX)]
    except (FileNotFoundError, NotADirectoryError):
        return iter(())
    return iter(sorted(found, key=lambda p: p.stat().st_mtime if p.exists() else 0.0))


class Claim:
    """A journal whose kernel is gone, locked by this process while it recovers it."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd

    def read(self, offset: int, limit: int) -> bytes:
        return os.pread(self._fd, limit, offset)

    @property
    def last_modified(self) -> float:
        return os.fstat(self._fd).st_mtime

    def release(self, *, remove: bool) -> None:
        if remove:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass
        os.close(self._fd)


def claim_if_orphaned(path: Path) -> Claim | None:
    """Lock a journal whose kernel is gone (its lock went with it); None while it lives
    or while another process is recovering it."""
    try:
        fd = os.open(path, os.O_RDWR | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    if fcntl is None:  # pragma: no cover
        if _pid_alive(path):
            os.close(fd)
            return None
        return Claim(path, fd)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return None
    if os.path.exists(path) and os.stat(path).st_ino == os.fstat(fd).st_ino:
        return Claim(path, fd)
    os.close(fd)  # recovered and removed by another process between open and lock
    return None


def kernel_writing(folder: Path, run_id: str) -> int | None:
    """The pid of a kernel of this machine still writing this run (it holds its journal's
    lock: ``host-pid-run-part.jsonl``); None where none is."""
    for path in journals(folder):
        head, _, part = path.name[:-len(SUFFIX)].rpartition("-")  # host-pid-run, part
        if not part.isdigit() or not head.endswith("-" + run_id):
            continue
        pid = head[:-len(run_id) - 1].rpartition("-")[2]
        if pid.isdigit() and _held(path):
            return int(pid)
    return None


def _held(path: Path) -> bool:
    """Whether a process holds the journal's lock (tried, and let go at once if free)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:  # removed meanwhile: its kernel ended
        return False
    try:
        if fcntl is None:  # pragma: no cover
            return _pid_alive(path)
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except OSError:
            return True
        return False
    finally:
        os.close(fd)  # closing lets go of the lock, if it was taken


def _pid_alive(path: Path) -> bool:  # pragma: no cover - only where flock is missing
    try:
        pid = int(path.name.split("-")[-3])  # host-pid-run-part.jsonl
        os.kill(pid, 0)
    except (ValueError, IndexError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def complete_lines(data: bytes) -> tuple[list[dict[str, Any]], int]:
    """The whole lines in ``data`` (a kernel killed mid-write leaves a partial last one,
    which waits until its writer finishes it, or is dropped once the kernel is gone),
    and how many bytes they span. A line that is not JSON is skipped: it cannot be a record."""
    end = data.rfind(b"\n") + 1
    entries: list[dict[str, Any]] = []
    for line in data[:end].splitlines():
        if not line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if isinstance(entry, dict):
            entries.append(entry)
    return entries, end
