"""What every view says about a cell whose kernel died while it ran (status ``died``).

Such a record comes from the kernel's journal after the fact: its cause is a guess
in words (``error_type``: "out of memory", "signal SIGKILL", or None), its wall time
runs only until the kernel was last seen, and most readings are absent. The views
show it as died, with one sentence that names the cell, its last known memory and
the cause, and never as a cell that ran with zeros. Pure functions of a record.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from nbprofile.format import format_bytes
from nbprofile.record import DIED, CellRecord

#: a cell id is shown by its first characters: enough to tell the cells of a notebook apart
#: at a glance, short enough for one line (JupyterLab's ids are 36-character UUIDs)
SHORT_ID = 4
#: what a died cell's absent readings say instead of a number
MISSING = "not measured: the kernel died before this cell finished"
#: marks a died cell in text tables and footers (a cross, as beside a name in a register)
MARK = "✝"
#: a compared cell's change column when its kernel died in run A (before), B (now) or both
DIED_IN = {"A": "died (before)", "B": "died (now)", "both": "died (both)"}


def is_died(record: CellRecord) -> bool:
    return record.status == DIED


def short_id(cell_id: str) -> str:
    """``3f2a5c1e-…`` → ``3f2a…``; an id no longer than the cut plus its ``…`` stays whole."""
    return cell_id if len(cell_id) <= SHORT_ID + 1 else cell_id[:SHORT_ID] + "…"


def died_cause(record: CellRecord) -> str:
    """The likely cause in words, or "cause unknown" (the journal could not tell)."""
    return record.error_type or "cause unknown"


def died_summary(record: CellRecord) -> str:
    """One line: ``kernel died in cell #12 (id 3f2a…) at 22.8 GiB: out of memory``.

    ``#`` is the execution count (the number the notebook shows), else the record's
    place in its run; "at" the last RSS high-water mark the kernel wrote, when known.
    """
    if record.execution_count is not None:
        where = f"cell #{record.execution_count}"
    else:
        where = f"record #{record.seq}"
    if record.cell_id:
        where += f" (id {short_id(record.cell_id)})"
    rss = record.value("rss_peak_bytes")
    at = "" if rss is None else f" at {format_bytes(rss)}"
    return f"kernel died in {where}{at}: {died_cause(record)}"


def died_summaries(records: Iterable[CellRecord]) -> list[str]:
    """The summary of each died record among ``records``, in their order."""
    return [died_summary(r) for r in records if is_died(r)]


def record_json(record: CellRecord) -> dict[str, Any]:
    """A record as stored (``to_json``), plus ``died_summary`` when its kernel died, so that
    a reader of the JSON sees the same sentence as a reader of the other reports."""
    data = record.to_json()
    if is_died(record):
        data["died_summary"] = died_summary(record)
    return data


__all__ = ["DIED_IN", "MARK", "MISSING", "died_cause", "died_summaries", "died_summary", "is_died", "record_json",
           "short_id"]
