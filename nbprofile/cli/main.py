"""The ``nbprofile`` command: run a notebook headless as a CI gate, list, show, compare and export runs.

Errors from nbprofile become one line on stderr and exit status 2; the exit
status of ``run`` is 0 when every budget holds, 1 when one fails (a cell stopped
by its ``%%budget --strict`` or ``--enforce`` included), 2 when the notebook itself
fails (a cell raised, with ``--allow-errors`` too; a timeout; the kernel died) or
cannot run (a bad budget file included).
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Sequence

from nbprofile._version import __version__
from nbprofile.cli import commands, delete
from nbprofile.errors import NbprofileError
from nbprofile.metrics import CATALOG
from nbprofile.report import registry

#: the largest count and table width accepted: beyond any screen or listing, and within what
#: SQLite's LIMIT takes (a larger int raises OverflowError deep in the store)
MAX_COUNT = 1_000_000
MAX_WIDTH = 10_000


def _whole(text: str, what: str, lowest: int, highest: int) -> int:
    """``text`` as a whole number from ``lowest`` to ``highest``, else a one-line argparse error."""
    digits = text.strip().lstrip("+-")
    if not digits.isdigit() or not digits.isascii():
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of {what}")
    # the length first: int() of a 5000-digit word is refused by Python itself, and slow before that
    if len(digits) > len(str(highest)) or not lowest <= int(text) <= highest:
        raise argparse.ArgumentTypeError(f"{text.strip()} {what} is out of range: use {lowest:,} to {highest:,}")
    return int(text)


def _count(text: str) -> int:
    """How many runs to list: 1 to :data:`MAX_COUNT`."""
    return _whole(text, "runs", 1, MAX_COUNT)


def _width(text: str) -> int:
    """A table width: at least 40 columns, or the table cannot show anything."""
    return _whole(text, "columns", 40, MAX_WIDTH)


def _seconds(text: str) -> float:
    """A per-cell timeout: a finite number of seconds > 0 (``inf`` or ``nan`` would reach nbclient)."""
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(seconds) or seconds <= 0:
        raise argparse.ArgumentTypeError(f"{text}: a timeout is a finite number of seconds > 0, e.g. 600")
    return seconds


def _notebook_arguments(parser: argparse.ArgumentParser, help: str) -> None:
    """A notebook named as the positional argument or, as ``compare`` and ``show`` name it, with
    ``--notebook``: either works (:func:`_one_notebook` makes them one)."""
    parser.add_argument("notebook", nargs="?", help=help)
    parser.add_argument("--notebook", dest="notebook_option", metavar="NOTEBOOK", default=None,
                        help="the same, as compare and show take it")


def _one_notebook(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    option = getattr(args, "notebook_option", None)
    if option is None:
        return
    if args.notebook is not None and args.notebook != option:
        parser.error(f"two notebooks named ({args.notebook} and --notebook {option}): name one")
    args.notebook = option


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="nbprofile", description="Measure notebooks cell by cell: run them, list and show runs.")
    parser.add_argument("--version", action="version", version=f"nbprofile {__version__}")
    parser.add_argument("--db", help="record store (default: $NBPROFILE_DB or the user's store)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = sub.add_parser("run", help="execute a notebook in a fresh kernel with every cell measured")
    run.add_argument("notebook", help="the .ipynb file to execute")
    run.add_argument("--timeout", type=_seconds, default=None, help="seconds per cell (default: none)")
    run.add_argument("--kernel", default=None, help="kernel name (default: the notebook's)")
    run.add_argument("--output", "-o", default=None, help="save the executed notebook here")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress lines")
    run.add_argument("--allow-errors", action="store_true",
                     help="run past a cell that raises; every cell is recorded, and the run still exits 2")
    run.add_argument("--budget-file", default=None, help="TOML budgets to judge the run against")
    run.add_argument("--baseline", default=None,
                     help="run id or `latest`: relative limits compare with this run (default: each cell's previous run)")
    run.add_argument("--report", default=None, help="also write a report (format from the suffix)")
    run.add_argument("--json", default=None, help="write a JSON summary of the run")
    run.add_argument("--junit", default=None, help="write JUnit XML: one test case per budgeted cell")
    run.set_defaults(func=commands.cmd_run)

    compare = sub.add_parser("compare", help="per-cell deltas between two runs")
    compare.add_argument("a", nargs="?", default="previous", help="run id, latest or previous (default: previous)")
    compare.add_argument("b", nargs="?", default="latest", help="run id, latest or previous (default: latest)")
    compare.add_argument("--notebook", default=None, help="latest / previous of this notebook")
    compare.add_argument("--include-nbprofile-cells", action="store_true",
                         help="keep the cells that ran nbprofile's own magics (left out by default)")
    compare.add_argument("--metrics", default="wall_s,rss_peak_bytes",
                         help=f"comma-separated reading keys ({', '.join(m.key for m in CATALOG.columns)}, ...)")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a cell regressed")
    compare.add_argument("--width", type=_width, default=140, help="columns of the table (default: 140)")
    compare.set_defaults(func=commands.cmd_compare)

    runs = sub.add_parser("runs", help="list stored runs, newest first")
    _notebook_arguments(runs, "only this notebook's runs (default: every notebook's)")
    runs.add_argument("--limit", type=_count, default=20, help="how many runs (default: 20)")
    runs.add_argument("--mine", action="store_true", help="only your runs (a team store holds everyone's)")
    runs.add_argument("--width", type=_width, default=120, help="columns of the table (default: 120)")
    runs.set_defaults(func=commands.cmd_runs)

    names = ", ".join(f.label for f in registry.FORMATS.values())
    report = sub.add_parser("report", help=f"export a run (or compare two) as {names}")
    _notebook_arguments(report, "runs of this notebook (default: any)")
    pick = report.add_mutually_exclusive_group()
    pick.add_argument("--run", default="latest", help="run id, latest or previous (default: latest)")
    pick.add_argument("--compare", nargs=2, metavar=("A", "B"), help="report B compared with A")
    report.add_argument("--format", "-f", choices=registry.NAMES, default=None,
                        help=f"default: from the output file's suffix, else {registry.DEFAULT}")
    report.add_argument("--output", "-o", default=None, help="default: nbprofile-<run>.<format> here")
    report.set_defaults(func=commands.cmd_report)

    forget = sub.add_parser("delete", help="delete runs and their records: the runs named, or every run "
                                           "older than an age")
    forget.add_argument("runs", nargs="*", metavar="RUN", help="a run id (as `nbprofile runs` lists them), "
                        "latest or previous")
    forget.add_argument("--older-than", type=delete.parse_age, default=None, metavar="AGE",
                        help="every run that started more than AGE ago: 180d, 12h, 30m, 2w")
    forget.add_argument("--notebook", default=None,
                        help="only this notebook's runs (latest / previous of it)")
    forget.add_argument("--mine", action="store_true", help="only your runs (a team store holds everyone's)")
    forget.add_argument("--dry-run", action="store_true", help="list what would be deleted, delete nothing")
    forget.add_argument("--yes", "-y", action="store_true",
                        help="delete without asking (needed where there is no terminal: a cron job, CI)")
    forget.add_argument("--width", type=_width, default=120, help="columns of the table (default: 120)")
    forget.set_defaults(func=delete.cmd_delete)

    doctor = sub.add_parser("doctor", help="what can be measured on this machine, and how to fix what cannot")
    doctor.add_argument("--width", type=_width, default=120, help="columns of the table (default: 120)")
    doctor.set_defaults(func=commands.cmd_doctor)

    show = sub.add_parser("show", help="the cells of a run (default: the latest)")
    show.add_argument("run", nargs="?", default="latest", help="a run id, latest or previous")
    show.add_argument("--notebook", default=None, help="latest / previous of this notebook")
    show.set_defaults(func=commands.cmd_show)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _one_notebook(parser, args)
    try:
        return int(args.func(args))
    except (NbprofileError, ValueError) as exc:
        print(f"nbprofile {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
