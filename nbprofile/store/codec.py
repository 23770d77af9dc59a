"""Records to rows and back: how a :class:`~nbprofile.record.CellRecord` is laid out in SQLite.

A reading's unit, method, source and note repeat from cell to cell, and so do the keys a
machine records: both are stored once (:mod:`nbprofile.store.vocabulary`) and a record's
readings are ``[layout id, meta id, value, meta id, value, ...]``, in its layout's order.
Records written before migration ``0007_lean_cells`` keep ``{key: [value, meta id]}``, and
before ``0003_reading_meta`` ``{key: [value, unit, method, source, note]}``;
:func:`record_from_row` reads all three.
"""

from __future__ import annotations

import json
import json.scanner
import math
from collections.abc import Callable, Sequence
from itertools import repeat
from typing import Any

from nbprofile.readings import Reading
from nbprofile.record import CellRecord, RunInfo, finite
from nbprofile.redact import mask, mask_all, mask_optional
from nbprofile.store.vocabulary import Layout, Meta

CELL_COLUMNS = (
    "run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at, status,"
    " error_type, wall_s, readings, overhead_s, name, budget, verdict, verdict_status, notes,"
    " schema_version, insights"
)
#: a cell row as stored: its id and the id of the same cell's record before it
#: (:mod:`nbprofile.store.lineage`) around the row :func:`cell_row` makes
STORED_COLUMNS = f"id, {CELL_COLUMNS}, previous_id"
INSERT_CELL = f"INSERT INTO cells ({STORED_COLUMNS}) VALUES ({','.join('?' * 22)})"


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


class Encoder:
    """What a store gives the codec to write rows: ids for metas and layouts, and the ids it
    already knows (looked up here first: a call per reading is half the cost of a row)."""

    def __init__(self, meta_id: Callable[[Meta], int], layout_id: Callable[[Layout], int],
                 known_metas: dict[Meta, int], known_layouts: dict[Layout, int]) -> None:
        self.meta_id = meta_id
        self.layout_id = layout_id
        self.known_metas = known_metas
        self.known_layouts = known_layouts

    def layout(self, keys: Layout) -> int:
        found = self.known_layouts.get(keys)
        return found if found is not None else self.layout_id(keys)

    def known_only(self) -> Encoder:
        """This encoder, raising :class:`NewVocabulary` where it would store a new meta or
        layout: for rows made while the connection is busy (a COPY under way)."""
        return Encoder(_refuse, _refuse, self.known_metas, self.known_layouts)


class NewVocabulary(Exception):
    """A row needs a reading description (or layout) that is not stored yet."""


def _refuse(_: Any) -> int:
    raise NewVocabulary


def row_head(source: CellRecord | list[Any]) -> tuple[Any, Any, Any, str]:
    """The columns of a record's row that say whose cell it is (run id, notebook, cell id,
    code hash), as :func:`cell_row` or :func:`row_from_journal` will write them, from a record
    or a journal's ``rec`` line: known before the rest of the row is made."""
    if isinstance(source, CellRecord):
        return text(source.run_id), text(source.notebook), text(source.cell_id), source.code_hash
    return text(source[0]), text(source[2]), text(source[3]), source[5]


def cell_row(r: CellRecord, codes: Encoder) -> tuple[Any, ...]:
    """A record's row (without its id and previous id: :mod:`nbprofile.store.lineage`)."""
    wall = r.readings.get("wall_s")
    get, meta_id = codes.known_metas.get, codes.meta_id
    flat: list[Any] = [codes.layout(tuple(r.readings))]
    for reading in r.readings.values():
        meta = reading[1:]
        found = get(meta)
        flat.append(found if found is not None else meta_id(meta))
        flat.append(reading[0])
    return (
        text(r.run_id), r.seq, text(r.notebook), text(r.cell_id), r.execution_count, r.code_hash,
        text(r.source), r.started_at, r.status, text(r.error_type),
        None if wall is None else _number(wall.value),
        _json(flat),
        r.overhead_s, text(r.name),
        None if r.budget is None else _json(r.budget),
        None if r.verdict is None else _json(r.verdict),
        r.verdict_status,
        _json(r.notes) if r.notes else None,
        r.schema_version,
        _json(r.insights) if r.insights else None,
    )


def row_from_journal(fields: list[Any], codes: Encoder, journal_metas: dict[str, list[Any]],
                     ids: dict[int, int]) -> tuple[Any, ...]:
    """A journal's ``rec`` line (:func:`nbprofile.store.journal.record_entry`) straight to a row,
    without building the record: recovering a journal is mostly this, for every line.

    Its readings are ``[value, journal meta id]``; ``journal_metas`` says what each id is and
    ``ids`` keeps, across the lines of a batch, the store's id for each journal id."""
    (run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at, status,
     error_type, readings, overhead_s, name, budget, verdict, verdict_status, notes,
     schema_version) = fields[:18]
    insights = fields[18] if len(fields) > 18 else None  # journals written before insights have 18
    # masked again: a journal an older version wrote holds its cells' secrets as typed
    source, name, error_type = mask(source), mask_optional(name), mask_optional(error_type)
    notes = mask_all(notes) if notes else notes
    flat: list[Any] = [codes.layout(tuple(readings))]
    for r in readings.values():
        found = ids.get(r[1])
        if found is None:
            meta = journal_metas.get(str(r[1]))
            if meta is None:  # its meta line was lost (a damaged journal): keep the key, say so
                flat += (codes.meta_id(("", "unavailable", "journal",
                                        "its description was lost from the journal")), None)
                continue
            found = ids[r[1]] = codes.meta_id((meta[0], meta[1], meta[2], meta[3]))
        flat += (found, r[0])
    wall = readings.get("wall_s")
    return (
        text(run_id), seq, text(notebook), text(cell_id), execution_count, code_hash, text(source),
        started_at, status, text(error_type), None if wall is None else _number(wall[0]),
        _json(flat), overhead_s, text(name),
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
# The JSON decoder's C scanner, called directly: json.loads goes through three Python calls
# first (~2 µs a record of a thousand read at once). A column's JSON is ours: no whitespace.
_scan = json.scanner.make_scanner(json.JSONDecoder())  # type: ignore[arg-type]  # typeshed: a class


def _loads(text: str) -> Any:
    try:
        value, end = _scan(text, 0)
    except StopIteration:  # not JSON at all: json.loads says where
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


class Decoder:
    """What a store gives the codec to read rows: metas and layouts by id, and those it has
    already read (looked up here first; another kernel may have added the rest since)."""

    #: the most sequences of meta ids :meth:`columns` keeps (a machine has a handful)
    KEEP = 1024

    def __init__(self, meta: Callable[[int], Meta], layout: Callable[[int], Layout],
                 known_metas: dict[int, Meta], known_layouts: dict[int, Layout],
                 known_columns: dict[tuple[int, ...], tuple[tuple[Any, ...], ...]]) -> None:
        self.meta = meta
        self.layout = layout
        self.known_metas = known_metas
        self.known_layouts = known_layouts
        self.known_columns = known_columns  # the store's: forgotten with its ids

    def new_columns(self, meta_ids: tuple[int, ...]) -> tuple[tuple[Any, ...], ...]:
        """The units, methods, sources and notes of a record's readings, as four columns, for a
        sequence of meta ids not in :attr:`known_columns` yet (a record's metas mostly repeat
        those of the record before it, cell after cell): kept there."""
        if len(self.known_columns) >= self.KEEP:
            self.known_columns.clear()
        known = self.known_metas
        metas = [known[i] if i in known else self.meta(i) for i in meta_ids]
        found = self.known_columns[meta_ids] = tuple(zip(*metas)) if metas else ((), (), (), ())
        return found


def _readings(stored: str, codes: Decoder) -> dict[str, Reading]:
    """A record's readings. The form written since 0007, ``[layout id, meta id, value, ...]``
    (never Infinity or NaN: the encoder refuses them), is built without a Python loop (a
    panel's compare reads a thousand records of twenty readings: this is most of its time);
    the older forms, which may hold a number an older version stored as Infinity or NaN,
    take the general path."""
    loaded = _loads(stored)
    if loaded.__class__ is list:  # written since 0007, by cell_row or row_from_journal: finite numbers
        keys = codes.known_layouts.get(loaded[0])
        if keys is None:
            keys = codes.layout(loaded[0])
        meta_ids = tuple(loaded[1::2])
        columns = codes.known_columns.get(meta_ids)
        if columns is None:
            columns = codes.new_columns(meta_ids)
        return dict(zip(keys, map(_tuple_new, repeat(Reading), zip(loaded[2::2], *columns))))
    # {key: [value, meta id]} (0003 to 0006), or {key: [value, unit, ...]} (before 0003)
    return {key: reading_from_stored(data, codes.meta) for key, data in loaded.items()}


def record_from_row(row: Sequence[Any], codes: Decoder) -> CellRecord:
    (rid, run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at,
     status, error_type, _wall, readings, overhead_s, name, budget, verdict, verdict_status,
     notes, schema_version, insights) = row
    # by position, in CellRecord's order (a third of the cost of keywords; the store's round trip
    # of a record with every field set checks the order)
    return CellRecord(
        run_id, seq, notebook, cell_id, execution_count, code_hash, source, started_at, status,
        error_type, _readings(readings, codes), overhead_s, name,
        _loads(budget) if budget else None, _loads(verdict) if verdict else None, verdict_status,
        _loads(notes) if notes else [], _loads(insights) if insights else None, rid, schema_version,
    )


def run_row(run: RunInfo) -> tuple[Any, ...]:
    return (text(run.run_id), text(run.notebook), text(run.kernel_id), text(run.host), run.started_at,
            _json(run.to_json()), text(run.user) or None)
