"""Judging a record against its budget, with relative limits resolved against stored runs.

The verdict logic is pure (:mod:`nbprofile.budgets.evaluate`); this joins it to
the store: which earlier run a relative limit (``+10%``, ``last``, ``baseline``)
compares with. The same cell is found by its cell id, else by its code hash in
the same notebook; ``nbprofile run --baseline`` pins the run to compare with.
"""

from __future__ import annotations

from collections.abc import Mapping

from nbprofile.budgets.evaluate import Verdict, evaluate
from nbprofile.budgets.limits import BudgetSpec
from nbprofile.engine.profiler import Profiler
from nbprofile.readings import Reading
from nbprofile.record import CellRecord


def verdict_for(profiler: Profiler, spec: BudgetSpec, readings: Mapping[str, Reading], cell_id: str | None,
                cell_hash: str, before_id: int | None = None) -> Verdict:
    """Judge readings; relative limits compare with the latest earlier run of the same cell."""
    previous = baseline = None
    store = profiler.recorder.store
    if store is not None and any(limit.relative for limit in spec.limits):
        profiler.recorder.sync()  # the cell's last run may still be in the journal
        previous = store.previous(cell_id, cell_hash, profiler.notebook, before_id=before_id)
        if profiler.baseline_run is not None:
            baseline = store.find_in_run(profiler.baseline_run, cell_id, cell_hash)
    anchor = baseline if baseline is not None else previous
    return evaluate(
        spec, readings,
        previous=previous.readings if previous is not None else None,
        baseline=baseline.readings if baseline is not None else None,
        compared_with=_label(anchor),
    )


def judge_record(profiler: Profiler, record: CellRecord, spec: BudgetSpec,
                 verdict: Verdict | None = None) -> Verdict:
    """Evaluate ``spec`` for ``record`` (unless ``--strict`` already judged these readings:
    ``verdict``) and keep the budget and verdict on the record."""
    if verdict is None:
        verdict = verdict_for(profiler, spec, record.readings, record.cell_id, record.code_hash,
                              before_id=record.id)
    record.budget = spec.to_json()
    record.verdict = verdict.to_json()
    record.verdict_status = verdict.status
    return verdict


def _label(record: CellRecord | None) -> str | None:
    if record is None:
        return None
    return f"run {record.run_id} at {record.started_iso[11:19]} UTC"
