"""The Markdown report: tables for a paper appendix or a pull request.

Several cost indicators side by side, each with its method, as "The Efficiency
Misnomer" and "Power Hungry Processing" ask: a reader sees which numbers were
measured and which estimated.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from nbprofile.metrics import is_peak, label_of
from nbprofile.record import CellRecord
from nbprofile.report.model import ReportModel, build, describe_delta, show_compared
from nbprofile.report.tables import status_text


def _cell(text: str) -> str:
    """Escape what would break a Markdown table cell, for text inside a code span (shown literally)."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ").replace("`", "'")


#: Markdown punctuation that could start emphasis, a link or image (``![](http://...)`` would fetch
#: from anywhere), a code span, or end a table cell: each is backslash-escaped in plain text
_MARKDOWN_PUNCTUATION = re.compile(r"([\\`*_\[\]|])")
#: ``<`` opening a tag, comment or autolink: written as an entity, which every renderer shows as ``<``
#: (``<=`` and ``< 5`` stay readable: no renderer reads them as HTML)
_TAG_START = re.compile(r"<(?=[A-Za-z/!?])")
_ENTITY = re.compile(r"&(?=#?[0-9A-Za-z]+;)")


def _text(text: str) -> str:
    """Plain text (a title, a status, a budget's words) as inert Markdown in a table cell or
    heading: no HTML, no link, no emphasis, no cell boundary, on one line."""
    text = " ".join(text.splitlines())
    text = _MARKDOWN_PUNCTUATION.sub(r"\\\1", text)
    return _TAG_START.sub("&lt;", _ENTITY.sub("&amp;", text))


def render(model: ReportModel) -> str:
    out = [f"# {_text(model.title)}", ""]
    out.append(f"Run `{_cell(str(model.run.get('run_id', '')))}`, {len(model.rows)} cells, "
               f"{model.failures} budget failures. `~` marks an estimated or sampled number; "
               "`n/a` one that could not be measured here; `≥` a total over the cells that could be.")
    out += ([""] + [f"- **{_text(line)}**" for line in model.deaths]) if model.deaths else []  # said first
    heads = [_text(f"{t} (max)" if is_peak(k) else t) for k, t in model.columns]
    out += ["", "## Totals", "", "| " + " | ".join(heads) + " |",
            "|" + "---:|" * len(model.columns),
            "| " + " | ".join(_text(model.totals[k]) for k, _ in model.columns) + " |", ""]
    out += ["## Cells", "", "| # | cell | status | " + " | ".join(_text(t) for _, t in model.columns) + " | budget |",
            "|---:|---|---|" + "---:|" * len(model.columns) + "---|"]
    for row in model.rows:
        record = row.record
        status = _text(status_text(record))  # the error type is the user's exception's name
        values = " | ".join(_text(row.values[k].text) for k, _ in model.columns)
        budget = "; ".join(f"{'✓' if s == 'pass' else '✗' if s == 'fail' else '?'} {d}" for s, d in row.budget)
        out.append(f"| {row.number} | `{_cell(row.label)}` | {status} | {values} | {_text(budget)} |")
    if model.comparison is not None:
        other = (model.other_run or {}).get("run_id", "?")
        out += ["", f"## Compared with run `{_cell(str(other))}`", "",
                f"| cell | {label_of('wall_s')} before | {label_of('wall_s')} now | change | regression |", "|---|---:|---:|---:|---|"]
        if model.comparison.left_out:
            out[-2:-2] = [f"{model.comparison.left_out} of nbprofile's own cells (`%nbprofile`, "
                          "`%load_ext nbprofile`) left out.", ""]
        for i, cell in enumerate(model.comparison.cells):
            label = cell.source.strip().splitlines()[0] if cell.source.strip() else cell.key
            out.append(f"| `{_cell(label[:60])}` | {_text(show_compared(model.comparison, 'wall_s', i, 'a'))} | "
                       f"{_text(show_compared(model.comparison, 'wall_s', i, 'b'))} | "
                       f"{_text(describe_delta(model.comparison, 'wall_s', i))} | "
                       f"{_text(cell.regression_text())} |")
    if model.hotspots:
        out += ["", "## Where the time went", "",
                "In the cells that ran over a second, sampled: each function's share of the samples."]
        for number, label, lines, _how in model.hotspots:
            out += ["", f"- {number} `{_cell(label)}`: " + "; ".join(_text(line) for line in lines)]
    out += ["", "## Methods", "", "| quantity | cells by method |", "|---|---|"]
    for key, counts in model.methods.items():
        out.append(f"| {_text(label_of(key))} | "  # keys and methods come from the store's records
                   + _text(", ".join(f"{m}: {n}" for m, n in sorted(counts.items()))) + " |")
    if model.environment:
        out += ["", "## Environment", "", "| | |", "|---|---|"]
        out += [f"| {_text(k)} | {_text(v)} |" for k, v in model.environment]
    return "\n".join(out) + "\n"


def to_markdown(records: Sequence[CellRecord], run: dict[str, Any], *,
                other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    return render(build(records, run, other=other, other_run=other_run))
