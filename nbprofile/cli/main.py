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
    import os

    from nbprofile import gate
    from nbprofile.runner import echo_progress, run_notebook

    budgets = None
    if args.budget_file:
        from nbprofile.budget_file import load_budget_file

        budgets = load_budget_file(args.budget_file)  # a bad file stops here, before any kernel starts
    notebook = os.path.abspath(args.notebook)
    baseline = None
    if args.baseline:
        from nbprofile.selection import resolve_run

        store = _store(args.db)
        baseline = resolve_run(store, args.baseline, notebook)["run_id"]
        store.close()
    result = run_notebook(
        args.notebook, timeout=args.timeout, kernel_name=args.kernel, db=args.db,
        progress=None if args.quiet else echo_progress, output=args.output, baseline_run=baseline,
    )
    store = _store(args.db)
    judged = (gate.apply_budget_file(store, result.records, budgets, notebook, baseline)
              if budgets is not None and result.records else gate.verdicts_of(result.records))
    failed_cell = None
    if result.failed_cell is not None:
        failed_cell = next((r.cell_id for r in result.records if r.status != "ok"), None)
    exit_code = 2 if result.error is not None else (1 if judged.failed else 0)

    if result.records:
        _print_records(result.records, f"{result.notebook}: run {result.run_id}")
    by_id = {r.id: r for r in result.records}
    for record_id, verdict in judged.cells.items():
        record = by_id[record_id]
        for item in verdict.failed:
            print(f"budget failed in cell {record.cell_id or record.code_hash}: {item.describe()}", file=sys.stderr)
    if judged.totals is not None:
        for item in judged.totals.items:
            print(f"run totals: {item.status}: {item.describe()}", file=sys.stderr)
    for cell_id in judged.unmatched:
        print(f"budget file: no cell with id {cell_id} in this notebook", file=sys.stderr)
    if result.error is not None:
        print(f"nbprofile run: {result.error}", file=sys.stderr)
    failures = sum(1 for v in judged.cells.values() if v.status == "fail")
    if result.run_id:  # empty when the notebook could not even be read
        print(f"{len(result.records)} cells measured in {result.elapsed_s:.1f} s, {failures} budget failures; "
              f"run {result.run_id}" + (f" (baseline {baseline})" if baseline else ""), file=sys.stderr)

    if args.json:
        gate.write_json(args.json, gate.summary(notebook, result.run_id, result.records, judged,
                                                result.error, exit_code, result.elapsed_s))
    if args.junit:
        with open(args.junit, "w", encoding="utf-8") as f:
            f.write(gate.junit_xml(notebook, result.records, judged, result.error, failed_cell,
                                   result.elapsed_s))
    if args.report and result.records:
        from nbprofile.selection import write_report

        path, _ = write_report(store, None, args.report, result.run_id,
                               (baseline, result.run_id) if baseline else None, notebook)
        print(f"report: {path}", file=sys.stderr)
    store.close()
    return exit_code


def cmd_compare(args: argparse.Namespace) -> int:
    import os

    from rich.console import Console
    from rich.table import Table

    from nbprofile.compare import compare_runs
    from nbprofile.report.model import MARK, first_line, show_total
    from nbprofile.selection import ALIASES, resolve_run

    store = _store(args.db)
    notebook = os.path.abspath(args.notebook) if args.notebook else None
    if notebook is None and args.a in ALIASES and args.b in ALIASES:
        # "the last two runs" are the last two of one notebook: the one run most recently
        recent = store.runs(None, limit=200)
        same = [r for r in recent if r["notebook"] == recent[0]["notebook"]]
        if len(same) < 2:
            raise NbprofileError(f"the latest run's notebook has no earlier run in {store.path} to compare with; "
                                 "name two runs (`nbprofile runs` lists them)")
        a, b = same[ALIASES[args.a]], same[ALIASES[args.b]]
    else:
        a, b = resolve_run(store, args.a, notebook), resolve_run(store, args.b, notebook)
    comparison = compare_runs(store.records(a["run_id"]), store.records(b["run_id"]))
    metrics = [m for m in args.metrics.split(",") if m]
    title = f"run {a['run_id']} → run {b['run_id']}"
    if a["notebook"] == b["notebook"] and a["notebook"]:
        title = f"{_short_path(a['notebook'])}: {title}"
    table = Table(title=title, title_justify="left")
    table.add_column("cell", overflow="fold")
    from nbprofile.report.model import COLUMNS

    titles = dict(COLUMNS)
    for metric in metrics:
        title = titles.get(metric, metric)
        table.add_column(f"{title} before", justify="right")
        table.add_column(f"{title} now", justify="right")
        table.add_column("change", justify="right")
    unit = {"wall_s": "s", "cpu_s": "s", "gpu_time_s": "s", "rss_peak_bytes": "B", "vram_peak_bytes": "B",
            "energy_j": "J", "co2_g": "g", "llm_tokens": "tokens", "cost_usd": "USD"}
    for cell in comparison.cells:
        row = [("! " if cell.regression else "  ") + first_line(cell.source, 50)]
        for metric in metrics:
            d = cell.delta.get(metric)
            row += [MARK.get(cell.method_a.get(metric) or "", "")
                    + show_total(cell.a.get(metric), metric, unit.get(metric, "")),
                    MARK.get(cell.method_b.get(metric) or "", "")
                    + show_total(cell.b.get(metric), metric, unit.get(metric, "")),
                    "" if d is None or d.pct is None else f"{d.pct * 100:+.1f}%"]
        table.add_row(*row)
    Console(width=args.width, color_system=None, markup=False).print(table)
    print(f"{len(comparison.regressions)} cells regressed (! marks them: more than +10% and a noticeable amount);"
          " ~ marks an estimated or sampled number")
    return 1 if (args.fail_on_regression and comparison.regressions) else 0


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
    Console(width=args.width, color_system=None, markup=False).print(table)
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


def cmd_doctor(args: argparse.Namespace) -> int:
    from nbprofile.doctor import run_doctor

    doctor = run_doctor()
    print(doctor.to_text(args.width))
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
    run.add_argument("--budget-file", default=None, help="TOML budgets to judge the run against")
    run.add_argument("--baseline", default=None,
                     help="run id or `latest`: relative limits compare with this run (default: each cell's previous run)")
    run.add_argument("--report", default=None, help="also write a report (format from the suffix)")
    run.add_argument("--json", default=None, help="write a JSON summary of the run")
    run.add_argument("--junit", default=None, help="write JUnit XML: one test case per budgeted cell")
    run.set_defaults(func=cmd_run)

    compare = sub.add_parser("compare", help="per-cell deltas between two runs")
    compare.add_argument("a", nargs="?", default="previous", help="run id, latest or previous (default: previous)")
    compare.add_argument("b", nargs="?", default="latest", help="run id, latest or previous (default: latest)")
    compare.add_argument("--notebook", default=None, help="latest / previous of this notebook")
    compare.add_argument("--metrics", default="wall_s,rss_peak_bytes",
                         help="comma-separated reading keys (wall_s, cpu_s, rss_peak_bytes, energy_j, cost_usd, ...)")
    compare.add_argument("--fail-on-regression", action="store_true", help="exit 1 when a cell regressed")
    compare.add_argument("--width", type=int, default=140)
    compare.set_defaults(func=cmd_compare)

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

    doctor = sub.add_parser("doctor", help="what can be measured on this machine, and how to fix what cannot")
    doctor.add_argument("--width", type=int, default=120)
    doctor.set_defaults(func=cmd_doctor)

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
