"""What the rest of nbprofile needs from a record store, and where the default one lives."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from nbprofile.record import CellRecord, RunInfo
from nbprofile.store.forget import Deleted
from nbprofile.store.ingest import JournalTransaction
from nbprofile.store.location import masked, scheme_of

DB_ENV = "NBPROFILE_DB"


def default_path() -> Path:
    """``$NBPROFILE_DB``, else ``nbprofile/records.db`` in Jupyter's data directory."""
    override = os.environ.get(DB_ENV)
    if override:
        if scheme_of(override) is not None:  # a server's URL, its password masked: never a file
            return Path(masked(override))
        return Path(override).expanduser()
    from jupyter_core.paths import jupyter_data_dir

    return Path(jupyter_data_dir()) / "nbprofile" / "records.db"


class RecordStore(Protocol):
    """What the engine, the server, the reports and the CLI need from a store.

    A run is a dict: ``run_id``, ``notebook``, ``kernel_id``, ``host``, ``user``, ``started_at``
    (epoch seconds), ``info`` (the run's stored facts), ``cells`` (distinct cells), ``executions``
    (every execution: a cell run twice counts twice), ``wall_s`` (over all executions),
    ``budget_failures`` and ``last_cell_at``.
    """

    path: str

    def write(self, record: CellRecord, run: RunInfo | None = None) -> int: ...
    def records(self, run_id: str) -> list[CellRecord]: ...
    def history(self, notebook: str | None, limit: int = 20, run_id: str | None = None) -> list[CellRecord]: ...
    def previous(self, cell_id: str | None, code_hash: str, notebook: str | None,
                 before_id: int | None = None) -> CellRecord | None: ...
    def find_in_run(self, run_id: str, cell_id: str | None, cell_hash: str) -> CellRecord | None: ...
    def set_verdict(self, record_id: int, verdict: dict[str, Any] | None, status: str | None,
                    budget: dict[str, Any] | None = None) -> None: ...
    def run(self, run_id: str) -> dict[str, Any] | None: ...
    # user: one user's runs; None: everyone's (a team store's runs; a SQLite file's are one user's)
    def runs(self, notebook: str | None = None, limit: int = 50,
             user: str | None = None) -> list[dict[str, Any]]: ...
    def runs_of(self, notebook: str, kernel_ids: set[str] | frozenset[str] = frozenset(),
                limit: int = 200, user: str | None = None) -> list[dict[str, Any]]: ...
    def runs_before(self, started_before: float, notebook: str | None = None,
                    user: str | None = None) -> list[dict[str, Any]]: ...
    def delete_runs(self, run_ids: Sequence[str]) -> Deleted: ...
    def count(self) -> int: ...
    def close(self) -> None: ...
    # journals (nbprofile.store.journal): batches of lines, each with the journal's new offset
    def journal_transaction(self, name: str) -> AbstractContextManager[JournalTransaction]: ...
    def forget_journal(self, name: str) -> None: ...
    def recover_journals(self, causes: Callable[[str], str | None] | None = None) -> int: ...
