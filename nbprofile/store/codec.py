"""Records to rows and back: how a :class:`~nbprofile.record.CellRecord` is laid out in SQLite.

A reading's unit, method, source and note repeat from cell to cell, so they are
stored once (table ``reading_meta``) and a record keeps ``[value, meta id]`` per
reading; records written before migration ``0003_reading_meta`` keep their full
form, and :func:`record_from_row` reads both.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from typing import Any

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, finite

#: what a reading is, apart from its value: (unit, method, source, note)
Meta = tuple[str, str, str, "str | None"]

CELL_COLUMNS = (
    "run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at, status,"
    " error_type, wall_s, readings, overhead_s, name, budget, verdict, verdict_status, notes,"
    " schema_version, insights"
)
INSERT_CELL = (
    f"INSERT INTO cells ({CELL_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"
)


# Built once: json.dumps with options makes a new encoder on every call (~3 µs a cell).
# Readings are flat, so no circular check. ASCII output keeps a lone surrogate as its
# escape; a non-finite number is refused here and stored as null (see _json).
_encode = json.JSONEncoder(separators=(",", ":"), check_circular=False, allow_nan=False).encode


def _json(value: Any) -> str:
    """JSON for a column: never ``Infinity`` or ``NaN`` (no JSON reader takes them back)."""
    try:
        return _encode(value)
    except ValueError:
        return _encode(finite(value))


def text(value: str | None) -> str | None:
    """A string SQLite can store: one that is not valid Unicode (a lone surrogate, from a
    file name in another encoding or ``'\\udcff'`` typed in a cell) keeps each such
    character as its ``\\udcXX`` escape rather than failing the whole record."""
    if value is None or value.isascii():
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    return value


def _number(value: float | None) -> float | None:
    return value if value is None or math.isfinite(value) else None


def cell_row(r: CellRecord, meta_id: Callable[[Meta], int],
             known: dict[Meta, int] | None = None) -> tuple[Any, ...]:
    """A record's row; ``known``: the ids ``meta_id`` already gave (looked up here first: a
    call per reading is half the cost of this dictionary, and ingestion builds one per record)."""
    wall = r.readings.get("wall_s")
    # [value, id of (unit, method, source, note)]: a quarter of the full form to encode and write
    get = (known if known is not None else {}).get
    readings = {}
    for key, reading in r.readings.items():
        meta = reading[1:]
        found = get(meta)
        readings[key] = (reading[0], found if found is not None else meta_id(meta))
    return (
        text(r.run_id), r.seq, text(r.notebook), text(r.cell_id), r.execution_count, r.code_hash,
        text(r.source), r.started_at, r.status, text(r.error_type),
        None if wall is None else _number(wall.value),
        _json(readings),
        r.overhead_s, text(r.name),
        None if r.budget is None else _json(r.budget),
        None if r.verdict is None else _json(r.verdict),
        r.verdict_status,
        _json(r.notes) if r.notes else None,
        r.schema_version,
        _json(r.insights) if r.insights else None,
    )


def row_from_journal(fields: list[Any], meta_id: Callable[[Meta], int],
                     journal_metas: dict[str, list[Any]], ids: dict[int, int]) -> tuple[Any, ...]:
    """A journal's ``rec`` line (:func:`nbprofile.store.journal.record_entry`) straight to a row,
    without building the record: recovering a journal is mostly this, for every line.

    Its readings are ``[value, journal meta id]``; ``journal_metas`` says what each id is and
    ``ids`` keeps, across the lines of a batch, the store's id for each journal id."""
    (run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at, status,
     error_type, readings, overhead_s, name, budget, verdict, verdict_status, notes,
     schema_version) = fields[:18]
    insights = fields[18] if len(fields) > 18 else None  # journals written before insights have 18
    stored = {}
    for key, r in readings.items():
        found = ids.get(r[1])
        if found is None:
            meta = journal_metas.get(str(r[1]))
            if meta is None:  # its meta line was lost (a damaged journal): keep the value, say so
                stored[key] = (None, meta_id(("", "unavailable", "journal",
                                              "its description was lost from the journal")))
                continue
            found = ids[r[1]] = meta_id((meta[0], meta[1], meta[2], meta[3]))
        stored[key] = (r[0], found)
    wall = readings.get("wall_s")
    return (
        text(run_id), seq, text(notebook), text(cell_id), execution_count, code_hash, text(source),
        started_at, status, text(error_type), None if wall is None else _number(wall[0]),
        _json(stored), overhead_s, text(name),
        None if budget is None else _json(budget),
        None if verdict is None else _json(verdict),
        verdict_status, _json(notes) if notes else None, schema_version,
        _json(insights) if insights else None,
    )


def reading_from_stored(data: list[Any], meta: Callable[[int], Meta]) -> Reading:
    if len(data) == 2:  # [value, meta id]
        unit, method, source, note = meta(data[1])
        reading = Reading(data[0], unit, method, source, note)  # type: ignore[arg-type]  # methods are stored by name
    else:
        reading = Reading.from_json(data)  # the full form, as written before 0003_reading_meta
    if isinstance(reading.value, float) and not math.isfinite(reading.value):
        # written as Infinity or NaN by an older version: not a number anyone can use
        return Reading.unavailable(reading.unit, f"stored as {reading.value} by an older nbprofile",
                                   reading.source)
    return reading


_tuple_new = tuple.__new__


def _readings(stored: str, meta: Callable[[int], Meta]) -> dict[str, Reading]:
    """A record's readings; the usual ``[finite number or null, meta id]`` built directly (a
    panel's compare reads a thousand records of twenty readings: ~2 µs a reading saved)."""
    out: dict[str, Reading] = {}
    for key, data in json.loads(stored).items():
        if len(data) == 2:
            value = data[0]
            if value is None or value.__class__ is int or (value.__class__ is float and math.isfinite(value)):
                out[key] = _tuple_new(Reading, (value, *meta(data[1])))
                continue
        out[key] = reading_from_stored(data, meta)
    return out


def record_from_row(row: Sequence[Any], meta: Callable[[int], Meta]) -> CellRecord:
    (rid, run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at,
     status, error_type, _wall, readings, overhead_s, name, budget, verdict, verdict_status,
     notes, schema_version, insights) = row
    return CellRecord(
        run_id=run_id, seq=seq, notebook=notebook, cell_id=cell_id,
        execution_count=execution_count, code_hash=code_hash, source=source,
        started_at=started_at, status=status, error_type=error_type,
        readings=_readings(readings, meta),
        overhead_s=overhead_s, name=name,
        budget=json.loads(budget) if budget else None,
        verdict=json.loads(verdict) if verdict else None,
        verdict_status=verdict_status, notes=json.loads(notes) if notes else [],
        insights=json.loads(insights) if insights else None,
        id=rid, schema_version=schema_version,
    )


def run_row(run: RunInfo) -> tuple[Any, ...]:
    return (text(run.run_id), text(run.notebook), text(run.kernel_id), text(run.host), run.started_at,
            _json(run.to_json()), text(run.user) or None)
