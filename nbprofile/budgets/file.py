"""Budget files: the limits a CI gate checks notebooks against, in TOML.

Example (``budgets.toml``)::

    version = 1                     # optional; only 1 exists

    [defaults]                      # every notebook checked with this file
    limits = ["time<=60s"]          # every cell
    total = ["time<=30min"]         # each notebook run's totals
    strict = false                  # true: a limit that cannot be measured fails

    [notebooks."examples/quickstart.ipynb"]
    cells = ["ram<=2GiB"]           # every cell of this notebook
    total = ["time<=5min", "energy<=10Wh"]   # this notebook run's totals

    [notebooks."examples/quickstart.ipynb".cell."a1b2c3d4"]   # nbformat cell id
    limits = ["time<=2s", "time<=+10%"]
    strict = true

    [notebooks."examples/gpu/*.ipynb"]       # a glob pattern
    cells = ["vram<=8GiB"]

Every limit is one string of the budget grammar (:mod:`nbprofile.budgets.grammar`); cell
limits may be relative (``+10%``, ``last``, ``baseline``), totals may not. The
tables and keys above are the only ones allowed: a misspelt key is an error, not
a silently ignored budget.

A ``[notebooks."KEY"]`` entry applies to a notebook when KEY is the exact string
the caller passes, or names the same file once KEY is taken relative to the
budget file's directory (and a relative notebook path relative to the current
directory). A KEY containing ``*``, ``?`` or ``[`` is a glob pattern, matched
with :func:`fnmatch.fnmatchcase` (case-sensitive; ``*`` also crosses ``/``)
against the notebook path as passed and relative to the budget file's
directory, and, anchored at that directory, against its absolute path (so
``"../notebooks/*.ipynb"`` works from a ``ci/budgets.toml``). All matching
entries apply, in file order. A cell's limits are the defaults', then every matching
entry's ``cells``, then their ``cell."ID"`` limits; all must hold. ``strict`` is
taken from the most specific table that sets it (cell, then notebook, then
defaults); where several matching tables at that level set it, any ``true`` wins.

Errors are :class:`BudgetFileError`, one line: the file, the TOML path of the
bad value and what is wrong, e.g.
``budgets.toml: notebooks."a.ipynb".cells[1]: time<=3 parsecs: unknown unit ...``.
"""

from __future__ import annotations

import difflib
import glob
import json
import os
import posixpath
import re
import sys
from collections.abc import Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path
from typing import Any

from nbprofile.budgets.grammar import BudgetSpec, BudgetSyntaxError, Limit, parse_limit

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

__all__ = [
    "BudgetFile",
    "BudgetFileError",
    "CellBudget",
    "NotebookBudget",
    "load_budget_file",
    "parse_budget_toml",
]


class BudgetFileError(ValueError):
    """A budget file that cannot be read or is not valid; one line with its place."""


@dataclass(frozen=True)
class CellBudget:
    """The limits of one cell, by nbformat cell id."""

    limits: tuple[Limit, ...] = ()
    strict: bool | None = None


@dataclass(frozen=True)
class NotebookBudget:
    """One ``[notebooks."PATTERN"]`` table (also used for ``[defaults]``, pattern ``"*"``)."""

    pattern: str
    cells: tuple[Limit, ...] = ()
    total: tuple[Limit, ...] = ()
    strict: bool | None = None
    cell: Mapping[str, CellBudget] = field(default_factory=dict)


@dataclass(frozen=True)
class BudgetFile:
    """A validated budget file; ask it which limits apply to a notebook or cell."""

    source: str
    base_dir: Path
    defaults: NotebookBudget
    notebooks: tuple[NotebookBudget, ...]

    def matches(self, pattern: str, notebook: str) -> bool:
        """Whether a ``[notebooks."PATTERN"]`` entry applies to ``notebook``."""
        given = notebook.replace(os.sep, "/")
        if pattern in (notebook, given):
            return True
        path = Path(os.path.abspath(notebook))
        names = {given, os.path.normpath(given).replace(os.sep, "/")}
        with suppress(ValueError):  # outside the file's directory: no relative name
            names.add(path.relative_to(os.path.abspath(self.base_dir)).as_posix())
        if any(c in pattern for c in "*?["):
            # anchored at the file's directory, so "../notebooks/*.ipynb" works too
            anchored = pattern if os.path.isabs(pattern) else \
                f"{glob.escape(Path(os.path.abspath(self.base_dir)).as_posix())}/{pattern}"
            names.add(path.as_posix())
            return any(fnmatchcase(name, pat) for name in names
                       for pat in (pattern, posixpath.normpath(anchored)))
        return Path(os.path.abspath(self.base_dir / pattern)) == path

    def entries(self, notebook: str) -> tuple[NotebookBudget, ...]:
        """The ``[notebooks.*]`` tables that apply to ``notebook``, in file order."""
        return tuple(nb for nb in self.notebooks if self.matches(nb.pattern, notebook))

    def limits_for(self, notebook: str, cell_id: str | None) -> tuple[Limit, ...]:
        """Every limit one cell must meet: defaults, notebook-wide, then the cell's own."""
        entries = self.entries(notebook)
        out = list(self.defaults.cells)
        for nb in entries:
            out.extend(nb.cells)
        if cell_id is not None:
            for nb in entries:
                if cell_id in nb.cell:
                    out.extend(nb.cell[cell_id].limits)
        return tuple(out)

    def total_limits(self, notebook: str) -> tuple[Limit, ...]:
        """The limits on a notebook run's totals (absolute only)."""
        out = list(self.defaults.total)
        for nb in self.entries(notebook):
            out.extend(nb.total)
        return tuple(out)

    def strict_for(self, notebook: str, cell_id: str | None = None) -> bool:
        """Whether an unmeasurable limit fails this cell (most specific setting wins)."""
        entries = self.entries(notebook)
        levels = [[nb.cell[cell_id].strict for nb in entries
                   if cell_id is not None and cell_id in nb.cell],
                  [nb.strict for nb in entries], [self.defaults.strict]]
        for level in levels:
            set_here = [s for s in level if s is not None]
            if set_here:
                return any(set_here)
        return False

    def spec_for(self, notebook: str, cell_id: str | None) -> BudgetSpec:
        """The cell's limits and strictness as a :class:`BudgetSpec` for ``evaluate``."""
        return BudgetSpec(self.limits_for(notebook, cell_id),
                          strict=self.strict_for(notebook, cell_id))

    def check_notebook_keys(self, notebook: str) -> None:
        """Raise :class:`BudgetFileError` for a ``[notebooks."KEY"]`` table that names no notebook:
        it matches neither ``notebook`` (the one being run) nor any file, so it is a typo whose
        budgets would never be checked. A key for another notebook that exists is fine: one file
        may serve several notebooks."""
        for nb in self.notebooks:
            if self.matches(nb.pattern, notebook) or self._names_a_file(nb.pattern):
                continue
            glob_key = any(c in nb.pattern for c in "*?[")
            looked = "no file matches it" if glob_key else \
                f"there is no {os.path.abspath(self.base_dir / nb.pattern)}"
            raise BudgetFileError(
                f"{self.source}: notebooks.{_toml_key(nb.pattern)} names no notebook ({looked}, and the "
                f"notebook run, {notebook}, is not it): fix the path, which is relative to the budget "
                f"file's folder {os.path.abspath(self.base_dir)}, or remove the table")

    def _names_a_file(self, pattern: str) -> bool:
        """Whether a notebook key names (or, a glob, matches) a file that exists."""
        if not any(c in pattern for c in "*?["):
            return (self.base_dir / pattern).is_file() or os.path.isfile(pattern)
        seen = 0
        for root in {_fixed_prefix(pattern, self.base_dir), _fixed_prefix(pattern, Path.cwd())}:
            for folder, _, files in os.walk(root):
                for name in files:
                    if self.matches(pattern, os.path.join(folder, name)):
                        return True
                    seen += 1
                    if seen > _MAX_FILES_SEEN:
                        return True  # too big a tree to be sure: never fail a run on a guess
        return False

    def cell_ids(self, notebook: str) -> tuple[str, ...]:
        """Cell ids named for ``notebook`` (so a gate can report ids that match no cell)."""
        return tuple(dict.fromkeys(cid for nb in self.entries(notebook) for cid in nb.cell))


#: how many files a glob key's check looks at before taking the key as valid
_MAX_FILES_SEEN = 50_000


def _fixed_prefix(pattern: str, base: Path) -> str:
    """The folder a glob pattern starts in: its leading parts without a wildcard, from ``base``."""
    parts = Path(pattern).parts
    first_wild = next((i for i, p in enumerate(parts) if any(c in p for c in "*?[")), len(parts))
    return os.path.normpath(os.path.join(os.path.abspath(base), *parts[:first_wild]))


def _toml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key, ensure_ascii=False)


class _Parser:
    """Validates the decoded TOML, naming each error's place in the file."""

    def __init__(self, source: str) -> None:
        self.source = source

    def error(self, where: str, detail: str) -> BudgetFileError:
        place = f"{where}: " if where else ""
        return BudgetFileError(f"{self.source}: {place}{detail}".replace("\n", " "))

    def table(self, value: Any, where: str, allowed: tuple[str, ...]) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.error(where, f"expected a table with {', '.join(allowed)}, "
                                    f"not {type(value).__name__}")
        for key in value:
            if key not in allowed:
                close = difflib.get_close_matches(key, allowed, n=1)
                hint = f"did you mean '{close[0]}'? " if close else ""
                raise self.error(where, f"unknown key '{key}' ({hint}known: {', '.join(allowed)})")
        return value

    def limits(self, value: Any, where: str, *, relative: bool) -> tuple[Limit, ...]:
        if not isinstance(value, list):
            raise self.error(where, 'expected a list of limits, e.g. ["time<=60s"]')
        out = []
        for i, item in enumerate(value):
            if not isinstance(item, str):
                raise self.error(f"{where}[{i}]", f"expected a string like \"time<=60s\", "
                                                  f"not {type(item).__name__}")
            try:
                limit = parse_limit(item)
            except BudgetSyntaxError as exc:
                raise self.error(f"{where}[{i}]", str(exc)) from None
            if limit.relative and not relative:
                raise self.error(f"{where}[{i}]", f"{limit.text}: totals take fixed limits only, "
                                                  "not +N%, last or baseline")
            out.append(limit)
        return tuple(out)

    def strict(self, value: Any, where: str) -> bool | None:
        if value is None or isinstance(value, bool):
            return value
        raise self.error(where, f"expected true or false, not {value!r}")

    def notebook(self, pattern: str, value: Any, where: str) -> NotebookBudget:
        t = self.table(value, where, ("cells", "total", "strict", "cell"))
        cells = dict(self._cells(t.get("cell", {}), f"{where}.cell"))
        return NotebookBudget(
            pattern,
            self.limits(t.get("cells", []), f"{where}.cells", relative=True),
            self.limits(t.get("total", []), f"{where}.total", relative=False),
            self.strict(t.get("strict"), f"{where}.strict"), cells)

    def _cells(self, value: Any, where: str) -> list[tuple[str, CellBudget]]:
        if not isinstance(value, dict):
            raise self.error(where, 'expected tables like [notebooks."a.ipynb".cell."CELL_ID"]')
        out = []
        for cell_id, cell in value.items():
            at = f"{where}.{_toml_key(cell_id)}"
            if not cell_id.strip():
                raise self.error(at, "a cell id cannot be empty")
            t = self.table(cell, at, ("limits", "strict"))
            out.append((cell_id, CellBudget(self.limits(t.get("limits", []), f"{at}.limits",
                                                        relative=True),
                                            self.strict(t.get("strict"), f"{at}.strict"))))
        return out

    def file(self, data: dict[str, Any], base_dir: Path) -> BudgetFile:
        self.table(data, "", ("version", "defaults", "notebooks"))
        version = data.get("version", 1)
        if version != 1 or isinstance(version, bool):
            raise self.error("version", f"unsupported version {version!r} (this nbprofile reads 1)")
        d = self.table(data.get("defaults", {}), "defaults", ("limits", "total", "strict"))
        defaults = NotebookBudget(
            "*", self.limits(d.get("limits", []), "defaults.limits", relative=True),
            self.limits(d.get("total", []), "defaults.total", relative=False),
            self.strict(d.get("strict"), "defaults.strict"))
        notebooks = data.get("notebooks", {})
        if not isinstance(notebooks, dict):
            raise self.error("notebooks", 'expected tables like [notebooks."a.ipynb"]')
        entries = []
        for pattern, value in notebooks.items():
            where = f"notebooks.{_toml_key(pattern)}"
            if not pattern.strip():
                raise self.error(where, "a notebook path cannot be empty")
            entries.append(self.notebook(pattern, value, where))
        return BudgetFile(self.source, base_dir, defaults, tuple(entries))


_TOML_PLACE = re.compile(r"\s*\(at line (\d+), column (\d+)\)\s*$")


def parse_budget_toml(text: str, source: str = "<string>",
                      base_dir: str | os.PathLike[str] | None = None) -> BudgetFile:
    """Parse and validate budget-file text. ``source`` names it in errors;
    ``base_dir`` is where notebook paths are relative to (default: the current
    directory)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc)
        place = _TOML_PLACE.search(msg)
        if place:
            msg = f"line {place.group(1)}: invalid TOML: {msg[:place.start()]} " \
                  f"(column {place.group(2)})"
        elif msg.endswith("(at end of document)"):
            line = len(text.splitlines()) or 1
            msg = f"line {line}: invalid TOML: {msg[:-len('(at end of document)')].strip()} " \
                  "(at the end of the file)"
        else:
            msg = f"invalid TOML: {msg}"
        raise BudgetFileError(f"{source}: {msg}".replace("\n", " ")) from None
    base = Path(os.path.abspath(base_dir if base_dir is not None else os.getcwd()))
    return _Parser(source).file(data, base)


def load_budget_file(path: str | os.PathLike[str]) -> BudgetFile:
    """Read, parse and validate a budget file; notebook paths are relative to its directory."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise BudgetFileError(f"{os.fspath(path)}: not UTF-8 text") from None
    except OSError as exc:
        raise BudgetFileError(f"{os.fspath(path)}: cannot read: {exc.strerror or exc}") from None
    return parse_budget_toml(text, os.fspath(path), Path(os.path.abspath(path)).parent)
