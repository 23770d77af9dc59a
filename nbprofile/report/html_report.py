"""The HTML report: one self-contained file (inline CSS and SVG, no script, no
network), printable, with every user-provided string escaped."""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import Any

from nbprofile.format import format_value
from nbprofile.metrics import REGRESSION_FRACTION, is_peak, label_of, unit_of
from nbprofile.record import CellRecord
from nbprofile.report import charts
from nbprofile.report.compare import match_key
from nbprofile.report.died import MARK, died_cause, died_summary, is_died
from nbprofile.report.model import ReportModel, build, describe_delta, show_compared

esc = html.escape

CSS = """
:root { color-scheme: light dark; --fg: #1d1d1f; --muted: #6e6e73; --line: #d2d2d7; --bar: #3b7dd8;
  --fail: #c62828; --pass: #2e7d32; --warn: #b26a00; --bg: #fff; }
@media (prefers-color-scheme: dark) { :root { --fg: #e8e8ed; --muted: #a1a1a6; --line: #424245;
  --bg: #1c1c1e; --bar: #6ea8fe; } }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--fg);
  background: var(--bg); margin: 2rem auto; max-width: 1200px; padding: 0 1rem; }
h1 { font-size: 1.4rem; margin-bottom: .2rem; } h2 { font-size: 1.1rem; margin-top: 2rem; }
.sub { color: var(--muted); margin-top: 0; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid var(--line); padding: .25rem .5rem; text-align: right; vertical-align: top; }
th { position: sticky; top: 0; background: var(--bg); }
td.src, th.src, td.lbl { text-align: left; } td.src code { white-space: pre-wrap; word-break: break-word; }
.na { color: var(--muted); } .est { font-style: italic; }
.chip { display: inline-block; border-radius: 3px; padding: 0 .35rem; margin: 1px; font-size: 12px;
  border: 1px solid currentColor; text-align: left; }
.chip.fail { color: var(--fail); } .chip.pass { color: var(--pass); } .chip.unmeasurable { color: var(--warn); }
.chip.died { color: #fff; background: var(--fail); border-color: var(--fail); font-weight: 600; }
tr.died td { background: color-mix(in srgb, var(--fail) 6%, transparent); }
.deaths { color: var(--fail); font-weight: 600; }
tr.regression td { background: color-mix(in srgb, var(--fail) 10%, transparent); }
.totals { display: flex; flex-wrap: wrap; gap: .5rem 2rem; }
.totals div b { display: block; font-size: 1.2rem; }
.charts { display: grid; grid-template-columns: repeat(auto-fit, minmax(NARROWEST_PX, 1fr)); gap: 1rem; }
figure.chart { margin: 0; } figcaption { color: var(--muted); font-size: 12px; }
svg { width: 100%; height: auto; } .bars rect { fill: var(--bar); } rect.up { fill: var(--fail); }
rect.down { fill: var(--pass); } .base { stroke: var(--line); } .line { fill: none; stroke: var(--bar); stroke-width: 2; }
.axis { fill: var(--muted); }
dl.env { display: grid; grid-template-columns: max-content 1fr; gap: .1rem 1rem; } dl.env dt { color: var(--muted); }
@media print { body { margin: 0; max-width: none; } th { position: static; } .charts { display: block; }
  figure.chart { break-inside: avoid; } tr { break-inside: avoid; } }
""".replace("NARROWEST_PX", f"{charts.NARROWEST_PX}px")  # the charts' axis labels are sized for it


def _value_td(cell: Any) -> str:
    cls = "na" if cell.method == "unavailable" else ("est" if cell.method in ("estimated", "sampled") else "")
    klass = f' class="{cls}"' if cls else ""
    return f'<td{klass} title="{esc(cell.how)}">{esc(cell.text)}</td>'


def _budget_td(budget: list[tuple[str, str]]) -> str:
    chips = "".join(f'<span class="chip {esc(status)}" title="{esc(status)}">{esc(text)}</span>'
                    for status, text in budget)
    return f'<td class="lbl">{chips}</td>'


def _cells_table(model: ReportModel) -> str:
    head = "".join(f"<th>{esc(title)}</th>" for _, title in model.columns)
    body = []
    regressions = {c.key: c.regression_text() for c in model.comparison.regressions} if model.comparison else {}
    for row in model.rows:
        record = row.record
        status = "" if record.status == "ok" else f' <span class="chip fail">{esc(record.status)}: {esc(record.error_type or "")}</span>'
        classes = []
        regressed = regressions.get(match_key(record))
        if regressed:  # the row's colour says "regressed"; its chip says in what, and by how much
            status += f' <span class="chip fail" title="{esc(regressed)}">regressed</span>'
            classes.append("regression")
        if is_died(record):  # a chip of its own, in the failure colour, the whole sentence as its tooltip
            status = (f' <span class="chip died" title="{esc(died_summary(record))}">'
                      f"{MARK} died: {esc(died_cause(record))}</span>")
            classes.append("died")
        cls = f' class="{" ".join(classes)}"' if classes else ""
        values = "".join(_value_td(row.values[key]) for key, _ in model.columns)
        body.append(
            f"<tr{cls}><td>{row.number}</td>"
            f'<td class="src" title="{esc(record.source[:4000])}"><code>{esc(row.label)}</code>{status}</td>'
            f"{values}{_budget_td(row.budget)}</tr>"
        )
    return (f'<table class="cells"><thead><tr><th>#</th><th class="src">cell</th>{head}<th class="src">budget</th>'
            f"</tr></thead><tbody>{''.join(body)}</tbody></table>")


def _deaths(model: ReportModel) -> str:
    """The cells whose kernel died, said first: their rows hold only what the journal knew."""
    if not model.deaths:
        return ""
    items = "".join(f"<li>{esc(MARK)} {esc(line)}</li>" for line in model.deaths)
    return f'<ul class="deaths">{items}</ul>'


def _totals(model: ReportModel) -> str:
    items = "".join(f"<div>{esc(title)}{' (max)' if is_peak(key) else ''}<b>{esc(model.totals[key])}</b></div>"
                    for key, title in model.columns)
    fails = f"<div>budget failures<b>{model.failures}</b></div>"
    return f'<section class="totals"><div>cells<b>{len(model.rows)}</b></div>{items}{fails}</section>'


def _methods(model: ReportModel) -> str:
    rows = []
    for key, counts in model.methods.items():
        text = ", ".join(f"{method}: {n}" for method, n in sorted(counts.items()))
        rows.append(f"<dt>{esc(label_of(key))}</dt><dd>{esc(text)}</dd>")
    return f'<dl class="env">{"".join(rows)}</dl>'


def _charts(model: ReportModel) -> str:
    def values(key: str) -> list[float | None]:
        return [row.record.value(key) for row in model.rows]

    def fmt(key: str) -> Callable[[float], str]:
        unit = unit_of(key)
        return lambda value: format_value(value, unit)

    # a died cell's bar is its partial value (until the kernel was last seen): its tooltip says so
    labels = [f"{MARK} kernel died, partial: {row.label}" if is_died(row.record) else row.label
              for row in model.rows]
    parts = [
        charts.bar_chart(f"{label_of('wall_s')} per cell", values("wall_s"), fmt("wall_s"), labels),
        charts.cumulative_chart(f"cumulative {label_of('wall_s')} (timeline)", values("wall_s"), fmt("wall_s")),
        charts.bar_chart(f"{label_of('rss_peak_bytes')} per cell", values("rss_peak_bytes"), fmt("rss_peak_bytes"),
                         labels),
    ]
    if any(v is not None for v in values("energy_j")):
        parts.append(charts.bar_chart(f"{label_of('energy_j')} per cell", values("energy_j"), fmt("energy_j"),
                                      labels))
    if model.comparison is not None:
        fractions = [c.delta["wall_s"].pct for c in model.comparison.cells]
        parts.append(charts.delta_chart(f"change in {label_of('wall_s')} per cell (compared run → this run)",
                                        fractions,
                                        [c.source.strip().splitlines()[0] if c.source.strip() else "" for c in model.comparison.cells]))
    return f'<section class="charts">{"".join(parts)}</section>'


def _comparison(model: ReportModel) -> str:
    comparison = model.comparison
    if comparison is None:
        return ""
    other = (model.other_run or {}).get("run_id", "?")
    rows = []
    for i, cell in enumerate(comparison.cells):
        cls = f' class="regression" title="{esc(cell.regression_text())}"' if cell.regression else ""
        label = cell.source.strip().splitlines()[0] if cell.source.strip() else cell.key
        before = show_compared(comparison, "wall_s", i, "a")
        after = show_compared(comparison, "wall_s", i, "b")
        rows.append(f"<tr{cls}><td class=\"src\"><code>{esc(label[:80])}</code></td><td>{esc(before)}</td>"
                    f"<td>{esc(after)}</td><td>{esc(describe_delta(comparison, 'wall_s', i))}</td>"
                    f'<td class="lbl">{esc(cell.regression_text())}</td></tr>')
    left_out = (f" {comparison.left_out} of nbprofile's own cells (%nbprofile, %load_ext nbprofile) left out."
                if comparison.left_out else "")
    return (f"<h2>Compared with run {esc(str(other))}</h2>"
            f"<p>{len(comparison.regressions)} regressions (more than +{REGRESSION_FRACTION:.0%} and a noticeable "
            f"amount).{left_out}</p>"
            f'<table><thead><tr><th class="src">cell</th><th>time before</th><th>time now</th><th>change</th>'
            f'<th class="src">regressed</th></tr></thead><tbody>{"".join(rows)}</tbody></table>')


def _hotspots(model: ReportModel) -> str:
    if not model.hotspots:
        return ""
    items = "".join(
        f'<li title="{esc(how_found)}">{esc(number)} <code>{esc(label)}</code>: '
        + "; ".join(esc(line) for line in lines) + "</li>"
        for number, label, lines, how_found in model.hotspots)
    return ("<h2>Where the time went</h2><p>In the cells that ran over a second, sampled: each function's "
            f"share of the samples (hover for how many).</p><ul>{items}</ul>")


def render(model: ReportModel) -> str:
    env = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in model.environment)
    run_id = esc(str(model.run.get("run_id", "")))
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<title>{esc(model.title)}</title>"
        "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
        f"<style>{CSS}</style></head><body>"
        f"<h1>{esc(model.title)}</h1>"
        f'<p class="sub">run {run_id} · {len(model.rows)} cells · numbers marked ~ are estimated or sampled; '
        "n/a could not be measured here (hover for why); ≥ a total over the cells that could be</p>"
        f"{_deaths(model)}{_totals(model)}{_charts(model)}{_comparison(model)}"
        f"<h2>Cells</h2>{_cells_table(model)}{_hotspots(model)}"
        f"<h2>How each quantity was obtained</h2>{_methods(model)}"
        f'<h2>Environment</h2><dl class="env">{env}</dl>'
        "</body></html>\n"
    )


def to_html(records: Sequence[CellRecord], run: dict[str, Any], *,
            other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> str:
    return render(build(records, run, other=other, other_run=other_run))
