"""What repeats from record to record, stored once: a reading's description, a record's keys.

A reading's unit, method, source and note (its *meta*) repeat from cell to cell, and so
does the list of reading keys a machine records (its *layout*: the same twenty keys on a
CPU-only machine, cell after cell). Each is a row of its own table (``reading_meta``,
``reading_layouts``) and a record keeps ids: ``[layout id, meta id, value, meta id, value,
...]`` (:mod:`nbprofile.store.codec`). Both backends use this mixin; the SQL is common to
SQLite and PostgreSQL. Every method is called with the store's lock held (inside its
transaction when writing).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from nbprofile.errors import StoreError

#: what a reading is, apart from its value: (unit, method, source, note)
Meta = tuple[str, str, str, "str | None"]
#: a record's reading keys, in order
Layout = tuple[str, ...]


class Vocabulary:
    """Ids for metas and layouts, each added to its table the first time a store sees it and
    cached both ways; another kernel may add some meanwhile, so an unknown id is looked up."""

    path: str

    def _execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """Run one statement (``?`` placeholders) on the store's connection: each backend's own."""
        raise NotImplementedError

    def _init_vocabulary(self) -> None:
        self._meta_ids: dict[Meta, int] = {}
        self._meta_by_id: dict[int, Meta] = {}
        self._layout_ids: dict[Layout, int] = {}
        self._layout_by_id: dict[int, Layout] = {}
        #: a record's readings' units, methods, sources and notes by its meta ids (the codec's)
        self._columns_by_ids: dict[tuple[int, ...], tuple[tuple[Any, ...], ...]] = {}

    def _forget_vocabulary(self) -> None:
        """A rolled-back transaction may have given ids that no longer exist."""
        for cache in (self._meta_ids, self._meta_by_id, self._layout_ids, self._layout_by_id,
                      self._columns_by_ids):
            cache.clear()

    def _meta_id(self, meta: Meta) -> int:
        found = self._meta_ids.get(meta)
        if found is not None:
            return found
        unit, method, source, note = meta
        params = (unit, method, source or "", note or "")
        self._execute("INSERT INTO reading_meta (unit, method, source, note) VALUES (?,?,?,?)"
                      " ON CONFLICT DO NOTHING", params)
        (found,) = self._execute("SELECT id FROM reading_meta WHERE unit = ? AND method = ? AND source = ?"
                                 " AND note = ?", params).fetchone()
        self._meta_ids[meta] = found
        self._meta_by_id[found] = meta
        return int(found)

    def _meta(self, meta_id: int) -> Meta:
        found = self._meta_by_id.get(meta_id)
        if found is None:
            for row_id, unit, method, source, note in self._execute(
                    "SELECT id, unit, method, source, note FROM reading_meta"):
                self._meta_by_id[row_id] = (unit, method, source, note or None)
            found = self._meta_by_id.get(meta_id)
            if found is None:
                raise self._damaged(f"a reading with no description (id {meta_id})")
        return found

    def _layout_id(self, layout: Layout) -> int:
        found = self._layout_ids.get(layout)
        if found is not None:
            return found
        text = json.dumps(layout, separators=(",", ":"))
        self._execute("INSERT INTO reading_layouts (keys) VALUES (?) ON CONFLICT DO NOTHING", (text,))
        (found,) = self._execute("SELECT id FROM reading_layouts WHERE keys = ?", (text,)).fetchone()
        self._layout_ids[layout] = found
        self._layout_by_id[found] = layout
        return int(found)

    def _layout(self, layout_id: int) -> Layout:
        found = self._layout_by_id.get(layout_id)
        if found is None:
            for row_id, text in self._execute("SELECT id, keys FROM reading_layouts"):
                self._layout_by_id[row_id] = tuple(json.loads(text))
            found = self._layout_by_id.get(layout_id)
            if found is None:
                raise self._damaged(f"a record whose reading keys are missing (layout {layout_id})")
        return found

    def _damaged(self, what: str) -> StoreError:
        return StoreError(f"the record store {self.path} has {what}; it may be damaged: "
                          "run `nbprofile doctor`")
