"""`nbprofile delete`: named runs, or a retention by age; listed first, asked at a terminal,
``--yes`` elsewhere; what is left is what `nbprofile runs` shows."""

from __future__ import annotations

import io
import os
import socket
import time
from pathlib import Path

import pytest

from nbprofile.cli.main import main
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, code_hash, current_user
from nbprofile.store import SQLiteStore

DAY = 86400.0


def store_run(db: Path, run_id: str, days_ago: float, cells: int = 2, user: str | None = None,
              host: str | None = None) -> None:
    store = SQLiteStore(db)
    started = time.time() - days_ago * DAY
    run = RunInfo(run_id=run_id, notebook="/nb/a.ipynb", kernel_id=None, started_at=started,
                  user=current_user() if user is None else user, host=host or socket.gethostname())
    for seq in range(1, cells + 1):
        store.write(CellRecord(run_id=run_id, seq=seq, notebook="/nb/a.ipynb", cell_id=f"c{seq}",
                               execution_count=seq, code_hash=code_hash(f"step({seq})"),
                               source=f"step({seq})",
                               started_at=started + seq, status="ok", error_type=None, overhead_s=1e-5,
                               readings={"wall_s": Reading(0.5, "s", "measured", "perf_counter")}), run)
    store.close()


def stored_runs(db: Path) -> list[str]:
    store = SQLiteStore(db)
    try:
        return [run["run_id"] for run in store.runs()]
    finally:
        store.close()


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_retention_deletes_the_old_runs_and_says_what_went(_isolated_store: Path,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    for run_id, days in (("old-1", 200), ("old-2", 190), ("recent", 3)):
        store_run(_isolated_store, run_id, days)
    assert main(["delete", "--older-than", "180d", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 runs and 4 records to delete from" in out and "old-1" in out and "recent" not in out
    assert "dry run: nothing deleted" in out
    assert stored_runs(_isolated_store) == ["recent", "old-2", "old-1"]
    assert main(["delete", "--older-than", "180d", "--yes"]) == 0
    assert "deleted 2 runs and 4 records from" in capsys.readouterr().out
    assert stored_runs(_isolated_store) == ["recent"]
    assert main(["delete", "--older-than", "180d", "--yes"]) == 0
    assert "no runs to delete" in capsys.readouterr().out


def test_a_named_run_is_asked_about_at_a_terminal(_isolated_store: Path, capsys: pytest.CaptureFixture[str],
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    store_run(_isolated_store, "first", 2, cells=1)
    store_run(_isolated_store, "second", 1, cells=1)
    monkeypatch.setattr("sys.stdin", _Terminal("n\n"))
    assert main(["delete", "first"]) == 1
    out = capsys.readouterr().out
    assert "Delete 1 run and 1 record? [y/N]" in out and "nothing deleted" in out
    assert stored_runs(_isolated_store) == ["second", "first"]
    monkeypatch.setattr("sys.stdin", _Terminal("y\n"))
    assert main(["delete", "previous"]) == 0  # as show and compare name runs
    assert "deleted 1 run and 1 record" in capsys.readouterr().out
    assert stored_runs(_isolated_store) == ["second"]


def test_without_a_terminal_it_takes_yes_to_delete(_isolated_store: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store_run(_isolated_store, "only", 1)
    monkeypatch.setattr("sys.stdin", io.StringIO("y\n"))  # piped: not a person answering
    assert main(["delete", "only"]) == 2
    assert "nothing deleted: no terminal to ask at; add --yes" in capsys.readouterr().err
    assert stored_runs(_isolated_store) == ["only"]


@pytest.mark.parametrize(("argv", "says"), [
    (["delete"], "name the runs to delete, or --older-than an age (e.g. 180d), one or the other"),
    (["delete", "x", "--older-than", "2d"], "one or the other"),
    (["delete", "no-such-run", "--yes"], "no run 'no-such-run' in"),
])
def test_what_to_delete_must_be_said_once_and_exist(argv: list[str], says: str, _isolated_store: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    store_run(_isolated_store, "kept", 1)
    assert main(argv) == 2
    assert says in capsys.readouterr().err
    assert stored_runs(_isolated_store) == ["kept"]


def test_an_age_is_a_number_and_a_unit(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["delete", "--older-than", "soon"])
    assert exited.value.code == 2
    assert "'soon' is not an age: use a number and d, h, m or w (90d, 12h, 2w)" in capsys.readouterr().err


def test_mine_keeps_to_ones_own_runs(_isolated_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_run(_isolated_store, "theirs", 300, user="grace-other")
    store_run(_isolated_store, "ours", 300)
    assert main(["delete", "theirs", "--mine", "--yes"]) == 2
    assert "run theirs is grace-other's, not yours (--mine)" in capsys.readouterr().err
    assert main(["delete", "--older-than", "30d", "--mine", "--yes"]) == 0
    assert stored_runs(_isolated_store) == ["theirs"]


def test_a_run_whose_kernel_still_runs_here_is_not_deleted(_isolated_store: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The kernel holds its journal's lock for life: while it does, its run is not deleted
    (its next cells would be stored under a run no list shows); once it is gone, it is."""
    from nbprofile.store.journal import JournalWriter, journal_folder, journal_name, kernel_writing

    store_run(_isolated_store, "live", 0)
    folder = journal_folder(str(_isolated_store))
    kernel = JournalWriter(folder, journal_name("live").replace(".jsonl", "-1.jsonl"))
    assert kernel_writing(folder, "live") == os.getpid() and kernel_writing(folder, "liv") is None
    assert main(["delete", "live", "--yes"]) == 2
    assert ("run live is still being written by a kernel on this machine (pid "
            f"{os.getpid()}): shut that kernel down first; nothing deleted") in capsys.readouterr().err
    assert stored_runs(_isolated_store) == ["live"]
    kernel.close(remove=False)  # as a killed kernel leaves it: no lock
    assert kernel_writing(folder, "live") is None
    assert main(["delete", "live", "--yes"]) == 0
    assert stored_runs(_isolated_store) == []


def test_a_recent_run_of_another_machine_is_named_as_maybe_still_running(
        _isolated_store: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store_run(_isolated_store, "theirs-now", 0, host="gpu-box-7")
    store_run(_isolated_store, "here-now", 0)
    store_run(_isolated_store, "theirs-last-week", 7, host="gpu-box-7")
    assert main(["delete", "theirs-now", "here-now", "theirs-last-week", "--dry-run"]) == 0
    out = " ".join(capsys.readouterr().out.split())
    assert "note: run theirs-now had a cell" in out and "ago on gpu-box-7; if its kernel still runs" in out
    assert "note: run here-now" not in out and "note: run theirs-last-week" not in out
