"""The CI gate: judge a finished run against a budget file, and write what CI reads.

The notebook's own ``%%budget`` cells were judged in the kernel as they ran. The
budget file's limits are judged here, afterwards, against the stored records
(relative ones against the baseline run, or else each cell's previous run), and
joined to the records' verdicts so that the panel and reports show them too.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any
from xml.etree import ElementTree as ET

from nbprofile.budgets.evaluate import LimitVerdict, Verdict, evaluate
from nbprofile.budgets.file import BudgetFile
from nbprofile.record import CellRecord
from nbprofile.report.compare import compared_keys
from nbprofile.report.tables import first_line
from nbprofile.report.totals import run_totals, total
from nbprofile.store.base import RecordStore


@dataclass
class GateResult:
    """The run's verdicts: per cell (keyed by record id) and for the totals."""

    cells: dict[int, Verdict] = field(default_factory=dict)
    totals: Verdict | None = None
    unmatched: list[str] = field(default_factory=list)  # budget-file cell ids not in the notebook

    @property
    def failed(self) -> bool:
        return any(v.status == "fail" for v in self.cells.values()) or (
            self.totals is not None and self.totals.status == "fail")

    @property
    def failure_count(self) -> int:
        """Failed cells, plus one when the run's totals failed."""
        return sum(1 for v in self.cells.values() if v.status == "fail") + (1 if self.failed_total_labels else 0)

    @property
    def failed_total_labels(self) -> list[str]:
        """The budget names (``time``, ``energy``) of the run-total limits that failed."""
        if self.totals is None:
            return []
        return list(dict.fromkeys(i.limit.metric.budget_label for i in self.totals.failed))


def _merge(existing: dict[str, Any] | None, added: Verdict) -> Verdict:
    if not existing:
        return added
    kept = Verdict.from_json(existing)
    return Verdict(kept.items + added.items, kept.name or added.name)


def apply_budget_file(store: RecordStore, records: Sequence[CellRecord], budgets: BudgetFile,
                      notebook: str, baseline_run: str | None = None) -> GateResult:
    """Judge every record against the budget file; store the joined verdicts."""
    result = GateResult()
    for record in records:
        limits = budgets.limits_for(notebook, record.cell_id)
        if limits:
            previous = store.previous(record.cell_id, record.code_hash, record.notebook, before_id=record.id)
            baseline = (store.find_in_run(baseline_run, record.cell_id, record.code_hash)
                        if baseline_run else None)
            anchor = baseline or previous
            verdict = evaluate(
                limits, record.readings,
                previous=previous.readings if previous else None,
                baseline=baseline.readings if baseline else None,
                compared_with=f"run {anchor.run_id}" if anchor else None,
            )
            joined = _merge(record.verdict, verdict)
            record.verdict, record.verdict_status = joined.to_json(), joined.status
            assert record.id is not None
            store.set_verdict(record.id, record.verdict, record.verdict_status)
        if record.verdict and record.id is not None:
            result.cells[record.id] = Verdict.from_json(record.verdict)
    known = {r.cell_id for r in records}
    result.unmatched = [c for c in budgets.cell_ids(notebook) if c not in known]
    total_limits = budgets.total_limits(notebook)
    if total_limits:
        result.totals = evaluate(total_limits, run_totals(records))
    return result


def verdicts_of(records: Sequence[CellRecord]) -> GateResult:
    """The verdicts the kernel stored (a run without a budget file)."""
    return GateResult(cells={r.id: Verdict.from_json(r.verdict) for r in records if r.verdict and r.id is not None})


def junit_xml(notebook: str, records: Sequence[CellRecord], gate: GateResult, error: str | None,
              failed_cell_id: str | None, elapsed_s: float) -> str:
    """One test case per budgeted cell (and one for the run's totals); failures carry
    value vs limit; a limit that could not be measured is a skipped case."""
    suite = ET.Element("testsuite", name=f"nbprofile: {notebook}", time=f"{elapsed_s:.3f}")
    counts = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    by_id = {r.id: r for r in records}

    def case(name: str, seconds: float | None, items: Sequence[LimitVerdict]) -> None:
        element = ET.SubElement(suite, "testcase", classname=notebook, name=name,
                                time=f"{seconds or 0:.6f}")
        counts["tests"] += 1
        failed = [i for i in items if i.status == "fail"]
        unmeasurable = [i for i in items if i.status == "unmeasurable"]
        if failed:
            counts["failures"] += 1
            failure = ET.SubElement(element, "failure", message="; ".join(i.describe() for i in failed),
                                    type="BudgetExceeded")
            failure.text = "\n".join(i.describe() for i in items)
        elif unmeasurable and not [i for i in items if i.status == "pass"]:
            counts["skipped"] += 1
            ET.SubElement(element, "skipped", message="; ".join(i.describe() for i in unmeasurable))
        ET.SubElement(element, "system-out").text = "\n".join(f"{i.status}: {i.describe()}" for i in items)

    for record_id, verdict in gate.cells.items():
        record = by_id[record_id]
        name = f"cell {record.cell_id or record.code_hash}: {first_line(record.source, 80)}"
        case(name, record.value("wall_s"), verdict.items)
    if gate.totals is not None:
        case("run totals", None, gate.totals.items)
    if error is not None:
        element = ET.SubElement(suite, "testcase", classname=notebook,
                                name=f"notebook runs to the end (cell {failed_cell_id or '?'})")
        counts["tests"] += 1
        counts["errors"] += 1
        ET.SubElement(element, "error", message=error, type="NotebookError").text = error
    for key, value in counts.items():
        suite.set(key, str(value))
    return ET.tostring(suite, encoding="unicode", xml_declaration=True)


def summary(notebook: str, run_id: str, records: Sequence[CellRecord], gate: GateResult,
            error: str | None, exit_code: int, elapsed_s: float) -> dict[str, Any]:
    """The JSON summary CI keeps: the stored values, verdicts and the outcome."""
    return {
        "schema": "nbprofile.run-summary/1",
        "notebook": notebook,
        "run_id": run_id,
        "exit_code": exit_code,
        "error": error,
        "elapsed_s": elapsed_s,
        "budget_failures": gate.failure_count,
        "totals": {m: total(records, m) for m in compared_keys()},
        "totals_verdict": gate.totals.to_json() if gate.totals is not None else None,
        "unmatched_budget_cells": gate.unmatched,
        "cells": [
            {
                "record_id": r.id, "cell_id": r.cell_id, "seq": r.seq, "execution_count": r.execution_count,
                "source": r.source, "status": r.status, "error_type": r.error_type,
                "values": {k: v.value for k, v in r.readings.items()},
                "methods": {k: v.method for k, v in r.readings.items()},
                "verdict": r.verdict, "verdict_status": r.verdict_status,
            }
            for r in records
        ],
    }


def write_json(path: str, data: dict[str, Any]) -> None:
    with open(path, "w", encoding="utf-8") as f:
        json.dump(data, f, indent=1, allow_nan=False)
