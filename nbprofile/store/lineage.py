"""Each record points at the same cell's record before it, so that finding it costs no index on every record.

"The same cell's last run" is asked for every cell a budget judges (``+10%``, ``last``) and
by a CI gate for each of its records. An index of every record by cell id answered it, and
cost the store most of its write time as history grew: a batch of 500 cells touched 500
pages of that index (at a million records, ingestion fell from 33,000 to 11,000 records/s).
Instead, ``cell_latest`` keeps each cell's newest record (one row per cell, not per run: a
few pages), and each record keeps ``previous_id``, the record of the same cell before it.
The latest earlier record is then the newest, or a few steps back along the chain.

A cell is the same cell by its id; a cell without one (terminal IPython, old notebooks) by
its code within its notebook: :func:`lineage_key`, and :data:`KEY_SQL` the same in SQL.
The SQL is common to SQLite and PostgreSQL. Two kernels writing the same cell at the same
moment (a notebook open twice, on a team store) may both point at the record before them;
each still finds a record of its cell.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from nbprofile.store.codec import CELL_COLUMNS

#: the columns of a cell row (:func:`nbprofile.store.codec.cell_row`) the key is made of
_NOTEBOOK, _CELL_ID, _CODE = 2, 3, 5

#: :func:`lineage_key` in SQL, over a cells row
KEY_SQL = "COALESCE(cell_id, 'code:' || code_hash || COALESCE('|' || notebook, ''))"

UPSERT_LATEST = ("INSERT INTO cell_latest (cell_key, id) VALUES (?, ?) ON CONFLICT (cell_key)"
                 " DO UPDATE SET id = excluded.id WHERE excluded.id > cell_latest.id")

#: the latest record of a cell (by key) below an id: the newest, then back along the chain
#: while the records are at or above the bound
#: for the records stored before migration 0007: each one's previous record of the same cell,
#: and each cell's newest (SQLite's SQL and PostgreSQL's alike)
BACKFILL = (
    "UPDATE cells SET previous_id = p.prev FROM (SELECT id,"
    f" LAG(id) OVER (PARTITION BY {KEY_SQL} ORDER BY id) AS prev FROM cells) AS p"
    " WHERE p.id = cells.id AND p.prev IS NOT NULL",
    f"INSERT INTO cell_latest (cell_key, id) SELECT {KEY_SQL}, MAX(id) FROM cells GROUP BY {KEY_SQL}",
)

PREVIOUS = (
    "WITH RECURSIVE chain (id, previous_id) AS ("
    " SELECT id, previous_id FROM cells WHERE id = (SELECT id FROM cell_latest WHERE cell_key = ?)"
    " UNION ALL"
    " SELECT c.id, c.previous_id FROM cells c JOIN chain ON c.id = chain.previous_id WHERE chain.id >= ?)"
    f" SELECT id, {CELL_COLUMNS} FROM cells WHERE id = (SELECT MAX(id) FROM chain WHERE id < ?)"
)


def lineage_key(cell_id: str | None, code_hash: str, notebook: str | None) -> str:
    if cell_id is not None:
        return cell_id
    return f"code:{code_hash}" + ("" if notebook is None else f"|{notebook}")


def previous_ids(keys: Sequence[str], ids: Sequence[int], latest_of: Callable[[list[str]], dict[str, int]]
                 ) -> tuple[list[int | None], dict[str, int]]:
    """For new records of these keys, given their ids in order: the id of each one's previous
    record, and each key's newest id after them. ``latest_of``: the newest stored id of each key."""
    distinct = sorted(set(keys))
    latest = latest_of(distinct)
    previous: list[int | None] = []
    for key, new_id in zip(keys, ids):
        previous.append(latest.get(key))
        latest[key] = new_id
    return previous, {key: latest[key] for key in distinct}


def link(rows: Sequence[tuple[Any, ...]], ids: Sequence[int],
         latest_of: Callable[[list[str]], dict[str, int]]) -> tuple[list[tuple[Any, ...]], dict[str, int]]:
    """Rows as stored (``id, *row, previous_id``) for new rows given their ids in order, and
    each cell's newest id after them (:func:`previous_ids`)."""
    keys = [lineage_key(row[_CELL_ID], row[_CODE], row[_NOTEBOOK]) for row in rows]
    previous, latest = previous_ids(keys, ids, latest_of)
    return [(new_id, *row, prev) for new_id, row, prev in zip(ids, rows, previous)], latest
