"""The ``nbprofile`` command: run a notebook headless, list runs, show a run.

Errors from nbprofile become one line on stderr and exit status 2; the exit
status of ``run`` is 0 when every budget holds, 1 when one fails, 2 when the
notebook itself fails.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from typing import Sequence

from nbprofile._version import __version__
from nbprofile.errors import NbprofileError


def _store(db: str | None):  # type: ignore[no-untyped-def]
    from nbprofile.store import SQLiteStore

    return SQLiteStore(db)


def _print_records(records: Sequence[object], title: str) -> None:
    from nbprofile.display import RecordTable

    print(repr(RecordTable(records, title)))  # type: ignore[arg-type]


def cmd_run(args: argparse.Namespace) -> int:
    from nbprofile.runner import echo_progress, run_notebook

    result = run_notebook(
        args.notebook, timeout=args.timeout, kernel_name=args.kernel, db=args.db,
        progress=None if args.quiet else echo_progress, output=args.output,
    )
    if result.records:
        _print_records(result.records, f"{result.notebook}: run {result.run_id}")
    failures = result.budget_failures
    for record in failures:
        from nbprofile.budget_eval import Verdict

        verdict = Verdict.from_json(record.verdict or {})
        where = record.cell_id or record.code_hash
        for item in verdict.failed:
            print(f"budget failed in cell {where}: {item.describe()}", file=sys.stderr)
    if result.error is not None:
        print(f"nbprofile run: {result.error}", file=sys.stderr)
    summary = (f"{len(result.records)} cells measured in {result.elapsed_s:.1f} s, "
               f"{len(failures)} budget failures; run {result.run_id}")
    print(summary, file=sys.stderr)
    return result.exit_code


def cmd_runs(args: argparse.Namespace) -> int:
    import os

    store = _store(args.db)
    notebook = os.path.abspath(args.notebook) if args.notebook else None
    runs = store.runs(notebook, limit=args.limit)
    if not runs:
        print("no runs stored" + (f" for {notebook}" if notebook else "") + f" in {store.path}")
        return 0
    from rich.console import Console
    from rich.table import Table

    from nbprofile.format import format_duration

    table = Table(title=f"runs in {store.path}", title_justify="left")
    for header in ("run", "started (UTC)", "notebook", "cells", "wall", "budget failures"):
        table.add_column(header, overflow="fold")
    for run in runs:
        started = datetime.fromtimestamp(run["started_at"], timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        wall = format_duration(run["wall_s"], ascii=True) if run["wall_s"] is not None else ""
        table.add_row(run["run_id"], started, _short_path(run["notebook"]), str(run["cells"]),
                      wall, str(run["budget_failures"]))
    Console(width=args.width, color_system=None).print(table)
    return 0


def _short_path(path: str | None) -> str:
    """A notebook path as the user would type it: relative when under the current folder."""
    import os

    if not path:
        return "(no notebook)"
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def cmd_show(args: argparse.Namespace) -> int:
    store = _store(args.db)
    run_id = args.run
    if run_id in (None, "latest"):
        runs = store.runs(limit=1)
        if not runs:
            print(f"no runs stored in {store.path}")
            return 0
        run_id = runs[0]["run_id"]
    records = store.records(run_id)
    if not records:
        raise NbprofileError(f"no run {run_id!r} in {store.path}; `nbprofile runs` lists the runs")
    _print_records(records, f"run {run_id} ({records[0].notebook or 'no notebook'})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    import os

    from nbprofile.selection import write_report

    store = _store(args.db)
    notebook = os.path.abspath(args.notebook) if args.notebook else None
    compare = tuple(args.compare) if args.compare else None
    path, fmt = write_report(store, args.format, args.output, args.run, compare, notebook)  # type: ignore[arg-type]
    print(f"wrote {fmt} report to {path}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbprofile", description="Measure notebooks cell by cell: run them, list and show runs.")
    parser.add_argument("--version", action="version", version=f"nbprofile {__version__}")
    parser.add_argument("--db", help="record store (default: $NBPROFILE_DB or the user's store)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="execute a notebook in a fresh kernel with every cell measured")
    run.add_argument("notebook")
    run.add_argument("--timeout", type=float, default=None, help="seconds per cell (default: none)")
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    run.add_argument("--output", "-o", default=None, help="save the executed notebook here")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    run.set_defaults(func=cmd_run)

    runs = sub.add_parser("runs", help="list stored runs, newest first")
    runs.add_argument("notebook", nargs="?")
    runs.add_argument("--limit", type=int, default=20)
    runs.add_argument("--width", type=int, default=120)
    runs.set_defaults(func=cmd_runs)

    report = sub.add_parser("report", help="export a run (or compare two) as HTML, Markdown, JSON or CSV")
    report.add_argument("notebook", nargs="?", help="runs of this notebook (default: any)")
    pick = report.add_mutually_exclusive_group()
    pick.add_argument("--run", default="latest", help="run id, latest or previous (default: latest)")
    pick.add_argument("--compare", nargs=2, metavar=("A", "B"), help="report B compared with A")
    report.add_argument("--format", "-f", choices=("html", "md", "json", "csv"), default=None,
                        help="default: from the output file's suffix, else html")
    report.add_argument("--output", "-o", default=None, help="default: nbprofile-<run>.<format> here")
    report.set_defaults(func=cmd_report)

    show = sub.add_parser("show", help="the cells of a run (default: the latest)")
    show.add_argument("run", nargs="?", default="latest")
    show.set_defaults(func=cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except (NbprofileError, ValueError) as exc:
        print(f"nbprofile {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
