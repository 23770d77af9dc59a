"""What each ``nbprofile`` subcommand does; their arguments are defined in :mod:`nbprofile.cli.main`."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any

from rich import box
from rich.table import Table

from nbprofile.budgets.file import BudgetFile, load_budget_file
from nbprofile.cli import gate
from nbprofile.cli.runner import RunResult, echo_progress, run_notebook
from nbprofile.engine.doctor import run_doctor
from nbprofile.errors import NbprofileError
from nbprofile.format import counted, format_duration, format_percent, method_mark
from nbprofile.metrics import REGRESSION_FRACTION, label_of
from nbprofile.record import CellRecord, current_user
from nbprofile.report.compare import compare_runs
from nbprofile.report.died import DIED_IN, MARK
from nbprofile.report.model import show_total
from nbprofile.report.tables import RecordTable, first_line, render_text
from nbprofile.report.write import write_report
from nbprofile.store import open_store
from nbprofile.store.base import RecordStore
from nbprofile.store.selection import ALIASES, latest_pair, resolve_run


def _print_records(records: Sequence[CellRecord], title: str) -> None:
    print(repr(RecordTable(records, title)))


def notebook_path(path: str | None) -> str | None:
    return os.path.abspath(path) if path else None


def short_path(path: str | None, launched_by: str | None = None) -> str:
    """A notebook path as the user would type it: relative when under the current folder;
    without one, what started the kernel (``papermill …``, ``python run.py``) where known."""
    if not path:
        return f"(no notebook: {launched_by})" if launched_by else "(no notebook)"
    relative = os.path.relpath(path)
    return path if relative.startswith("..") else relative


def _tail(text: str, width: int) -> str:
    """``…/folder/notebook.ipynb``: the end of a long path, where its name is."""
    return text if len(text) <= width else "…" + text[-(width - 1):]


def cmd_run(args: argparse.Namespace) -> int:
    # a bad budget file stops here, before any kernel starts
    budgets = load_budget_file(args.budget_file) if args.budget_file else None
    notebook = os.path.abspath(args.notebook)
    if budgets is not None:
        # a notebook key naming no notebook (a typo) would otherwise leave its budgets unchecked
        budgets.check_notebook_keys(args.notebook)
    baseline = None
    if args.baseline:
        store = open_store(args.db)
        try:
            baseline = resolve_run(store, args.baseline, notebook)["run_id"]
        finally:
            store.close()
    result = run_notebook(
        args.notebook, timeout=args.timeout, kernel_name=args.kernel, db=args.db,
        progress=None if args.quiet else echo_progress, output=args.output, baseline_run=baseline,
        allow_errors=args.allow_errors,
    )
    store = open_store(args.db)
    try:
        return _report_run(args, store, result, budgets, notebook, baseline)
    finally:
        store.close()


def _report_run(args: argparse.Namespace, store: RecordStore, result: RunResult,
                budgets: BudgetFile | None, notebook: str, baseline: str | None) -> int:
    judged = (gate.apply_budget_file(store, result.records, budgets, notebook, baseline)
              if budgets is not None and result.records else gate.verdicts_of(result.records))
    failed_cell = None
    if result.failed_cell is not None:
        failed_cell = next((r.cell_id for r in result.records if r.status != "ok"), None)
    # a cell stopped by its own %%budget --strict/--enforce is a budget failure (1), not a crash (2)
    exit_code = 2 if result.error is not None else (1 if judged.failed or result.budget_stops else 0)
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
    for stop in result.budget_stops:
        print(f"nbprofile run: {stop}", file=sys.stderr)
    if result.error is not None:
        print(f"nbprofile run: {result.error}", file=sys.stderr)
    if result.run_id:  # empty when the notebook could not even be read
        against = f" (baseline {baseline})" if baseline else ""
        print(f"{counted(len(result.records), 'cell')} measured in {result.elapsed_s:.1f} s, "
              f"{_failures_text(judged)}; run {result.run_id}{against}", file=sys.stderr)
    if args.json:
        gate.write_json(args.json, gate.summary(notebook, result.run_id, result.records, judged,
                                                result.error, exit_code, result.elapsed_s))
    if args.junit:
        with open(args.junit, "w", encoding="utf-8") as f:
            f.write(gate.junit_xml(notebook, result.records, judged, result.error, failed_cell,
                                   result.elapsed_s))
    if args.report and result.records:
        path, _ = write_report(store, None, args.report, result.run_id,
                               (baseline, result.run_id) if baseline else None, notebook)
        print(f"report: {path}", file=sys.stderr)
    return exit_code


def _failures_text(judged: gate.GateResult) -> str:
    """``2 budget failures``, ``1 budget failure (run totals: time, energy)``: failed cells and the totals."""
    count = judged.failure_count
    text = counted(count, "budget failure")
    totals = judged.failed_total_labels
    return f"{text} (run totals: {', '.join(totals)})" if totals else text


def cmd_compare(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    try:
        notebook = notebook_path(args.notebook)
        if notebook is None and args.a in ALIASES and args.b in ALIASES:
            a, b = latest_pair(store, args.a, args.b)  # the last runs of one notebook: the latest one's
        else:
            a, b = resolve_run(store, args.a, notebook), resolve_run(store, args.b, notebook)
        # nbprofile's own magic cells are left out unless asked for (an option main.py may define)
        comparison = compare_runs(store.records(a["run_id"]), store.records(b["run_id"]),
                                  own_cells=bool(getattr(args, "include_nbprofile_cells", False)))
    finally:
        store.close()
    metrics = [m for m in args.metrics.split(",") if m]
    title = f"run {a['run_id']} → run {b['run_id']}"
    if a["notebook"] == b["notebook"] and a["notebook"]:
        title = f"{short_path(a['notebook'])}: {title}"
    table = Table(title=title, title_justify="left")
    table.add_column("cell", overflow="fold")
    for metric in metrics:
        label = label_of(metric)
        table.add_column(f"{label} before", justify="right")
        table.add_column(f"{label} now", justify="right")
        table.add_column("change", justify="right")
    # which metrics regressed, by how much: possibly one not in the columns (CPU behind a faster wall time)
    table.add_column("regressed", overflow="fold")
    for cell in comparison.cells:
        mark = f"{MARK} " if cell.died else "! " if cell.regression else "  "
        row = [mark + first_line(cell.source, 50)]
        for metric in metrics:
            d = cell.delta.get(metric)
            # a died cell's numbers are partial: no change is computed, the column says why
            change = "" if d is None or d.pct is None else format_percent(d.pct, signed=True)
            row += [method_mark(cell.method_a.get(metric)) + show_total(cell.a.get(metric), metric),
                    method_mark(cell.method_b.get(metric)) + show_total(cell.b.get(metric), metric),
                    DIED_IN[cell.died] if cell.died else change]
        table.add_row(*row, cell.regression_text())
    print(render_text(table, args.width))
    print(f"{counted(len(comparison.regressions), 'cell')} regressed (! marks them, `regressed` says in what:"
          f" more than +{REGRESSION_FRACTION:.0%} "
          "and a noticeable amount); ~ marks an estimated or sampled number")
    if comparison.left_out:
        print(f"{comparison.left_out} of nbprofile's own cells (%nbprofile, %load_ext nbprofile) left out")
    died = sum(1 for c in comparison.cells if c.died)
    if died:
        print(f"{counted(died, 'cell')} where the kernel died ({MARK} marks them: their numbers stop where"
              " the kernel was last seen, so they are not compared)")
    return 1 if (args.fail_on_regression and comparison.regressions) else 0


def cmd_runs(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    try:
        notebook = notebook_path(args.notebook)
        mine = current_user() if getattr(args, "mine", False) else None  # None: everyone's
        runs = store.runs(notebook, limit=args.limit, user=mine)
        if not runs:
            print("no runs stored" + (f" for {notebook}" if notebook else "") + f" in {store.path}")
            return 0
        title = f"runs in {store.path}"
    finally:
        store.close()
    print(render_text(runs_table(runs, title), args.width))
    return 0


def runs_table(runs: Sequence[dict[str, Any]], title: str) -> Table:
    """Runs, a row each: id, start, notebook, user (where they are several), cells, time, failures."""
    # no vertical rules: the notebook path fits whole in 80 columns
    table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD, pad_edge=False,
                  collapse_padding=True)
    names = [_tail(short_path(run["notebook"], run["info"].get("launched_by")), 40) for run in runs]
    table.add_column("run", no_wrap=True)
    table.add_column("started (UTC)", max_width=10)  # the date above the time
    # the notebook whole (its path cut from the left past 40 characters): the other columns wrap first
    table.add_column("notebook", overflow="fold", min_width=max(len(n) for n in names))
    users = {run.get("user") for run in runs} - {None, ""}  # runs stored before users were: unknown
    if len(users) > 1:  # a team store: whose run each is
        table.add_column("user", overflow="fold")
    table.add_column("cells", overflow="fold")
    table.add_column(label_of("wall_s"))
    table.add_column("failed", overflow="fold")
    # a cell run twice in one kernel is one cell and two executions; the time is that of all of them
    table.caption = ("cells: distinct cells (and executions, where a cell ran more than once); "
                     f"{label_of('wall_s')}: all executions; failed: budget failures")
    table.caption_justify = "left"
    for run, name in zip(runs, names):
        started = datetime.fromtimestamp(run["started_at"], timezone.utc).strftime("%Y-%m-%d %H:%M")
        wall = format_duration(run["wall_s"]) if run["wall_s"] is not None else ""
        cells, executions = run["cells"], run.get("executions", run["cells"])
        who = [run.get("user") or ""] if len(users) > 1 else []
        table.add_row(run["run_id"], started, name, *who,
                      str(cells) if cells == executions else f"{cells} ({executions})",
                      wall, str(run["budget_failures"]))
    return table


def cmd_show(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    try:
        notebook = notebook_path(args.notebook)
        if not store.runs(notebook, limit=1):
            where = f" of {notebook}" if notebook else ""
            print(f"no runs{where} stored in {store.path}")
            return 0
        if args.run == "previous" and notebook is None:  # as compare takes it: the latest notebook's
            run = latest_pair(store, "previous", "latest")[0]
        else:
            run = resolve_run(store, args.run, notebook)
        run_id = run["run_id"]
        records = store.records(run_id)
        if not records:
            raise NbprofileError(f"run {run_id!r} has no cells in {store.path}; `nbprofile runs` lists the runs")
    finally:
        store.close()
    _print_records(records, f"run {run_id} ({records[0].notebook or 'no notebook'})")
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    store = open_store(args.db)
    try:
        compare = tuple(args.compare) if args.compare else None
        path, fmt = write_report(store, args.format, args.output, args.run, compare,
                                 notebook_path(args.notebook))
    finally:
        store.close()
    print(f"wrote {fmt} report to {path}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    print(run_doctor().to_text(args.width))
    return 0
