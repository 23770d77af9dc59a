"""The Markdown report: tables for a paper appendix or a pull request.

Several cost indicators side by side, each with its method, as "The Efficiency
Misnomer" and "Power Hungry Processing" ask: a reader sees which numbers were
measured and which estimated.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from nbprofile.metrics import is_peak, label_of
from nbprofile.record import CellRecord
from nbprofile.report.model import ReportModel, build, describe_delta, show_total
from nbprofile.report.tables import status_text


def _cell(text: str) -> str:
    """Escape what would break a Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


def render(model: ReportModel) -> str:
    out = [f"# {_cell(model.title)}", ""]
    out.append(f"Run `{_cell(str(model.run.get('run_id', '')))}`, {len(model.rows)} cells, "
               f"{model.failures} budget failures. `~` marks an estimated or sampled number; "
               "`n/a` one that could not be measured here; `≥` a total over the cells that could be.")
    heads = [f"{t} (max)" if is_peak(k) else t for k, t in model.columns]
    out += ["", "## Totals", "", "| " + " | ".join(heads) + " |",
            "|" + "---:|" * len(model.columns),
            "| " + " | ".join(_cell(model.totals[k]) for k, _ in model.columns) + " |", ""]
    out += ["## Cells", "", "| # | cell | status | " + " | ".join(t for _, t in model.columns) + " | budget |",
            "|---:|---|---|" + "---:|" * len(model.columns) + "---|"]
    for row in model.rows:
        record = row.record
        status = status_text(record)
        values = " | ".join(_cell(row.values[k].text) for k, _ in model.columns)
        budget = "; ".join(f"{'✓' if s == 'pass' else '✗' if s == 'fail' else '?'} {d}" for s, d in row.budget)
        out.append(f"| {row.number} | `{_cell(row.label)}` | {status} | {values} | {_cell(budget)} |")
    if model.comparison is not None:
        other = (model.other_run or {}).get("run_id", "?")
        out += ["", f"## Compared with run `{_cell(str(other))}`", "",
                f"| cell | {label_of('wall_s')} before | {label_of('wall_s')} now | change | regression |", "|---|---:|---:|---:|---|"]
        for i, cell in enumerate(model.comparison.cells):
            label = cell.source.strip().splitlines()[0] if cell.source.strip() else cell.key
            out.append(f"| `{_cell(label[:60])}` | {show_total(cell.a['wall_s'], 'wall_s')} | "
                       f"{show_total(cell.b['wall_s'], 'wall_s')} | "
                       f"{describe_delta(model.comparison, 'wall_s', i)} | {'yes' if cell.regression else ''} |")
    out += ["", "## Methods", "", "| quantity | cells by method |", "|---|---|"]
    for key, counts in model.methods.items():
        out.append(f"| {label_of(key)} | "
                   + ", ".join(f"{m}: {n}" for m, n in sorted(counts.items())) + " |")
    if model.environment:
        out += ["", "## Environment", "", "| | |", "|---|---|"]
        out += [f"| {_cell(k)} | {_cell(v)} |" for k, v in model.environment]
    return "\n".join(out) + "\n"


def to_markdown(records: Sequence[CellRecord], run: dict[str, Any], *,
                other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    return render(build(records, run, other=other, other_run=other_run))
