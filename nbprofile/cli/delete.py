"""``nbprofile delete``: runs and their records out of the store, named or by age.

A team's store keeps a retention (``--older-than 180d`` from a monthly job); anyone may
delete a run that should not have been kept. What would go is listed first, and asked
about where a person is at the terminal; elsewhere (a cron job, CI) ``--yes`` says so.
"""

from __future__ import annotations

import argparse
import re
import socket
import sys
import time
from typing import Any

from nbprofile.cli.commands import notebook_path, runs_table
from nbprofile.errors import NbprofileError
from nbprofile.format import counted, format_duration
from nbprofile.record import current_user
from nbprofile.report.tables import render_text
from nbprofile.store import open_store
from nbprofile.store.base import RecordStore
from nbprofile.store.forget import still_written
from nbprofile.store.selection import resolve_run

_AGE = re.compile(r"(\d+(?:\.\d+)?)\s*([wdhm])")
_SECONDS = {"w": 7 * 86400, "d": 86400, "h": 3600, "m": 60}
#: runs listed before asking; the rest are counted
_SHOWN = 20
#: a run with a cell this recent may have a kernel still running
RECENT_S = 600.0


def parse_age(text: str) -> float:
    """An age in seconds, from ``90d``, ``12h``, ``30m`` or ``2w``."""
    found = _AGE.fullmatch(text.strip().lower())
    if found is None or float(found[1]) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r} is not an age: use a number and d, h, m or w "
                                         "(90d, 12h, 2w)")
    return float(found[1]) * _SECONDS[found[2]]


def cmd_delete(args: argparse.Namespace) -> int:
    if bool(args.runs) == (args.older_than is not None):
        raise NbprofileError("name the runs to delete, or --older-than an age (e.g. 180d), one or the other")
    store = open_store(args.db)
    try:
        runs = _chosen(store, args)
        if not runs:
            print(f"no runs to delete in {store.path}")
            return 0
        records = sum(run.get("executions", run["cells"]) for run in runs)
        what = f"{counted(len(runs), 'run')} and {counted(records, 'record')}"
        shown = f" (the newest {_SHOWN} shown)" if len(runs) > _SHOWN else ""
        title = f"{what} to delete from {store.path}{shown}"
        print(render_text(runs_table(runs[:_SHOWN], title), args.width))
        for run in runs:
            _refuse_if_live(store, run)
        if args.dry_run:
            print("dry run: nothing deleted")
            return 0
        if not args.yes and not _confirmed(f"Delete {what}? [y/N] "):
            print("nothing deleted")
            return 1
        deleted = store.delete_runs([run["run_id"] for run in runs])
    finally:
        store.close()
    gone = f"{counted(deleted.runs, 'run')} and {counted(deleted.records, 'record')}"
    print(f"deleted {gone} from {store.path}")
    return 0


def _chosen(store: RecordStore, args: argparse.Namespace) -> list[dict[str, Any]]:
    notebook = notebook_path(args.notebook)
    user = current_user() if args.mine else None
    if args.older_than is not None:
        return list(store.runs_before(time.time() - args.older_than, notebook, user))
    runs: dict[str, dict[str, Any]] = {}
    for ref in args.runs:
        run = resolve_run(store, ref, notebook)
        if user is not None and run.get("user") != user:
            raise NbprofileError(f"run {run['run_id']} is {run.get('user') or 'nobody'}'s, not yours "
                                 "(--mine): leave --mine out to delete it")
        runs[run["run_id"]] = run
    return list(runs.values())


def _refuse_if_live(store: RecordStore, run: dict[str, Any]) -> None:
    """A run whose kernel still runs would go on getting cells under the deleted run's id,
    where no list shows them: refused where the kernel is on this machine (it holds its
    journal), said where it may be on another."""
    refused = still_written(store.path, run["run_id"])
    if refused is not None:
        raise NbprofileError(refused)
    last = run.get("last_cell_at")
    elsewhere = run.get("host") not in (None, socket.gethostname())
    if elsewhere and last is not None and time.time() - last < RECENT_S:
        ago = format_duration(max(0.0, time.time() - last))
        print(f"note: run {run['run_id']} had a cell {ago} ago on {run['host']}; if its kernel still runs, "
              "shut it down first, or its next cells are stored under the deleted run, where no list "
              "shows them")


def _confirmed(question: str) -> bool:
    if not sys.stdin.isatty():
        raise NbprofileError("nothing deleted: no terminal to ask at; add --yes to delete without asking "
                             "(or --dry-run to list)")
    try:
        return input(question).strip().lower() in ("y", "yes")
    except (EOFError, KeyboardInterrupt):  # Ctrl-D or Ctrl-C at the question: a no
        print()
        return False
