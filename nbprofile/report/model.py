"""What a human-readable report shows, computed once for HTML and Markdown alike.

Both renderers print exactly these strings, so the two formats agree with each
other and with the footer (they share the formatters of :mod:`nbprofile.format`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from nbprofile.budgets.evaluate import Verdict
from nbprofile.format import UNAVAILABLE, format_percent, format_value, method_mark, shown_value
from nbprofile.metrics import CATALOG, unit_of
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, utc_iso
from nbprofile.report.compare import Comparison, compare_runs
from nbprofile.report.died import DIED_IN, MISSING, died_summaries, is_died
from nbprofile.report.footer import hotspot_lines, how
from nbprofile.report.tables import first_line
from nbprofile.report.totals import total, total_method


@dataclass(frozen=True)
class Cell:
    """One shown value: its text and how it was obtained."""

    text: str
    method: str  # measured | sampled | estimated | unavailable | "" (no reading)
    how: str  # the tooltip / footnote: source, note or reason


def show(reading: Reading | None, died: bool = False) -> Cell:
    if reading is None:
        # a died cell lacks most readings because it never finished: n/a, as any unmeasured one
        return Cell(UNAVAILABLE, "unavailable", MISSING) if died else Cell("", "", "not recorded")
    if reading.value is None:
        return Cell(UNAVAILABLE, "unavailable", reading.note or "unavailable")
    return Cell(shown_value(reading), reading.method, how(reading))


def show_total(value: float | None, key: str) -> str:
    """A total or a compared value, in the metric's unit; ``n/a`` when there is none."""
    return UNAVAILABLE if value is None else format_value(value, unit_of(key))


def show_run_total(records: Sequence[CellRecord], key: str) -> str:
    """A run's total as shown: ``~`` when any part was estimated or sampled, and
    ``≥`` when some cells could not be measured, so the sum covers only the rest."""
    text = show_total(total(records, key), key)
    if text == UNAVAILABLE:
        return text
    method = total_method(records, key)
    return ("≥ " if method["cells"] < method["of"] else "") + method_mark(method["method"]) + text


@dataclass
class Row:
    #: the cell's execution count, as the notebook shows it (``In [12]``) and as ``nbprofile show``
    #: and ``%nbprofile history`` number cells; "" for a ``measure()`` block, which has none
    number: str
    record: CellRecord
    label: str
    values: dict[str, Cell]
    budget: list[tuple[str, str]]  # (status, description) per limit


@dataclass
class ReportModel:
    title: str
    run: dict[str, Any]
    rows: list[Row]
    columns: list[tuple[str, str]]  # only columns some cell has a reading for
    totals: dict[str, str]
    methods: dict[str, dict[str, int]]  # key -> method -> count of cells
    environment: list[tuple[str, str]]
    comparison: Comparison | None = None
    other_run: dict[str, Any] | None = None
    failures: int = 0
    notes: list[str] = field(default_factory=list)
    #: one line per cell whose kernel died (:func:`~nbprofile.report.died.died_summary`)
    deaths: list[str] = field(default_factory=list)
    #: where the time went in the cells that were sampled: (number, label, lines, how found)
    hotspots: list[tuple[str, str, list[str], str]] = field(default_factory=list)


def _budget(record: CellRecord) -> list[tuple[str, str]]:
    if not record.verdict:
        return []
    return [(item.status, item.describe()) for item in Verdict.from_json(record.verdict).items]


def environment(run: dict[str, Any]) -> list[tuple[str, str]]:
    """The rows of the environment section, from the run's stored information."""
    info = {**run.get("info", {}), **{k: v for k, v in run.items() if k != "info"}}
    rows: list[tuple[str, str]] = []
    for key, label in (
        ("host", "host"), ("platform", "platform"), ("cpu", "CPU"), ("cpu_count", "CPU cores"),
        ("memory_bytes", "memory"), ("gpus", "GPUs"), ("driver", "GPU driver"), ("python", "Python"),
        ("ipython", "IPython"), ("ipykernel", "ipykernel"), ("torch", "torch"), ("numpy", "NumPy"),
        ("nbprofile", "nbprofile"), ("carbon", "carbon intensity"), ("prices", "price table"),
        ("kernel_id", "kernel"), ("launched_by", "started by"), ("started_at", "started (UTC)"),
    ):
        value = info.get(key)
        if value in (None, "", [], {}):
            continue
        if key == "started_at" and isinstance(value, (int, float)):
            value = utc_iso(float(value))
        elif key == "memory_bytes":
            value = format_value(float(value), "B")
        elif isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value)
        elif key == "carbon" and isinstance(value, dict):
            value = carbon_sentence(value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k} {v}" for k, v in value.items() if v not in (None, ""))
        rows.append((label, str(value)))
    return rows


def carbon_sentence(carbon: dict[str, Any]) -> str:
    """The run's carbon intensity (:func:`nbprofile.derive.carbon.carbon_info`) as one sentence."""
    g, pue = carbon.get("intensity_g_per_kwh"), carbon.get("pue")
    # ``note`` is the intensity's own description, written when the run started; without one (a
    # hand-made run), the figures it would have named
    text = str(carbon.get("note") or (
        f"{g:g} gCO2e/kWh ({carbon.get('region_name') or carbon.get('region') or 'unknown region'}) x PUE {pue:g}"
        if isinstance(g, (int, float)) and isinstance(pue, (int, float)) else "not recorded"))
    if carbon.get("world_default"):
        text += "; the world average, as no region was set"
    return text


def build(records: Sequence[CellRecord], run: dict[str, Any], *,
          other: Sequence[CellRecord] | None = None, other_run: dict[str, Any] | None = None) -> ReportModel:
    """The model of a report of ``records``; with ``other``, also the comparison other → records."""
    # as the footer: a column of zeros that say nothing (no LLM call in the run) is left out, totals too
    present = [(c.key, c.label) for c in CATALOG.columns if any(c.key in r.readings for r in records)
               and (c.footer_zero == "shown" or any(r.value(c.key) for r in records))]
    rows = []
    for record in records:
        label = record.name or first_line(record.source, 60)
        died = is_died(record)
        number = "" if record.execution_count is None else str(record.execution_count)
        rows.append(Row(number, record, label, {k: show(record.readings.get(k), died) for k, _ in present},
                        _budget(record)))
    totals = {k: show_run_total(records, k) for k, _ in present}
    methods: dict[str, dict[str, int]] = {}
    for key, _ in present:
        counts: dict[str, int] = {}
        for record in records:
            reading = record.readings.get(key)
            if reading is not None:
                counts[reading.method] = counts.get(reading.method, 0) + 1
        methods[key] = counts
    notebook = run.get("notebook") or "no notebook"
    launched_by = run.get("launched_by") or run.get("info", {}).get("launched_by")
    if not run.get("notebook") and launched_by:
        notebook = f"no notebook (started by {launched_by})"
    model = ReportModel(
        title=f"nbprofile report: {notebook}", run=run, rows=rows, columns=present, totals=totals,
        methods=methods, environment=environment(run),
        failures=sum(1 for r in records if r.verdict_status == "fail"), deaths=died_summaries(records),
        hotspots=[(row.number, row.label, *found) for row in rows
                  if (found := hotspot_lines(row.record, top=5)) is not None],
    )
    if other is not None:
        model.comparison = compare_runs(other, records)
        model.other_run = other_run
    return model


def show_compared(comparison: Comparison, metric: str, index: int, side: str) -> str:
    """A compared value of run ``side`` ("a" or "b"), ``~`` when it was estimated or sampled
    (a died cell's time until its kernel was last seen is), ``n/a`` when there is none."""
    cell = comparison.cells[index]
    values, methods = (cell.a, cell.method_a) if side == "a" else (cell.b, cell.method_b)
    text = show_total(values[metric], metric)
    return text if text == UNAVAILABLE else method_mark(methods.get(metric)) + text


def describe_delta(comparison: Comparison, metric: str, index: int) -> str:
    cell = comparison.cells[index]
    if cell.died is not None:  # its numbers are partial: no change is computed
        return DIED_IN[cell.died]
    d = cell.delta[metric]
    if d.pct is None:
        return UNAVAILABLE if d.abs is None else "new"
    return format_percent(d.pct, signed=True)


__all__ = ["Cell", "ReportModel", "Row", "build", "carbon_sentence", "describe_delta", "show", "show_compared",
           "show_run_total", "show_total"]
