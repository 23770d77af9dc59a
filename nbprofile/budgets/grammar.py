"""The budget grammar: ``[--enforce[=projected]] [--strict] [--name NAME] LIMIT ...``.

One grammar serves the ``%%budget`` cell magic, ``%nbprofile budget`` (session
totals), budget files and the CLI, so a limit means the same thing everywhere and
every mistake gets the same one-line :class:`BudgetSyntaxError` naming the bad
part and what would be right. This module parses; :mod:`nbprofile.budgets.evaluate`
judges readings against limits. The keys and their units are the catalog's
(``nbprofile.metrics.CATALOG.budget_keys``).

A LIMIT is ``KEY<=VALUE`` or ``KEY<VALUE`` (``<`` is strict). The line is split
with :mod:`shlex`, and spaces around the operator and before a unit are allowed:
``time <= 30 s`` is the same limit as ``time<=30s``. A word without an operator
continues the limit before it (that is how ``cost<=0.05 USD`` and
``time<=3 parsecs`` reach the unit check), unless the next word starts with an
operator, in which case it starts a new limit (``ram <= 2GiB``). Flags may come
anywhere: ``--enforce``, ``--enforce=projected`` (also stop as soon as the cell's progress bar
projects a limit will break), ``--strict``, ``--name NAME`` / ``--name=NAME``.

VALUE is one of:

* absolute: a finite number >= 0 with a unit of the key (``30s``, ``8GiB``,
  ``5Wh``, ``20k``, ``$0.05``); times, sizes, energies and CO2 need a unit
  (``time<=30`` is an error), token counts and dollars may be bare numbers
  (IPython expands ``$name`` in magic lines, so ``cost<=$x`` arrives as the value
  of ``x`` and ``cost<=$0.05`` may arrive as ``cost<=0.05``). Units: ``ms s min
  h``; ``B KB kB MB GB TB`` (decimal) ``KiB MiB GiB TiB`` (binary); ``mJ J kJ
  mWh Wh kWh``; ``mg g kg`` (``3.20 g CO2e`` too, as the footer prints it);
  tokens bare or ``k``/``K``/``M``; dollars ``$0.05``, ``0.05``, ``0.05USD``.
  What the footer prints for sizes, energy, CO2, tokens and dollars under
  $1000 can be pasted back as a limit;
* ``+10%`` / ``-5%`` / ``10%``: a change allowed against the baseline run (from -100%
  to +1,000,000%: ``MAX_PERCENT``);
* ``last``, ``last+10%``, ``last+1s``: against the previous run of the cell;
* ``baseline``, ``baseline+5%``, ``baseline+1GiB``: against the baseline run
  (the previous run unless the caller pins one). A ``-`` instead of ``+``
  demands an improvement.

Several limits on one key are allowed (``time<=2s time<=+10%``): all must hold.
"""

from __future__ import annotations

import difflib
import math
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal, DecimalException
from typing import Any

from nbprofile.budgets.limits import OPS, BudgetSpec, BudgetSyntaxError, Kind, Limit, Op
from nbprofile.metrics import CATALOG, Metric

__all__ = ["BudgetSpec", "BudgetSyntaxError", "Limit", "parse_budget", "parse_limit", "parse_limits"]


@dataclass(frozen=True)
class _Units:
    """The units one base unit accepts; ``""`` in ``factors`` allows bare numbers."""

    factors: Mapping[str, Decimal]
    hint: str  # shown after "use"
    whole: bool = False  # token counts: the value must come out whole


_D = Decimal
_BYTES = {"B": _D(1), "KB": _D(10**3), "kB": _D(10**3), "MB": _D(10**6), "GB": _D(10**9),
          "TB": _D(10**12), "KiB": _D(2**10), "MiB": _D(2**20), "GiB": _D(2**30),
          "TiB": _D(2**40)}
_UNITS: dict[str, _Units] = {
    "s": _Units({"ms": _D("0.001"), "s": _D(1), "min": _D(60), "h": _D(3600)}, "ms, s, min or h"),
    "B": _Units(_BYTES, "B, KB, MB, GB, TB, KiB, MiB, GiB or TiB"),
    "J": _Units({"mJ": _D("0.001"), "J": _D(1), "kJ": _D(1000), "mWh": _D("3.6"),
                 "Wh": _D(3600), "kWh": _D(3_600_000)}, "mJ, J, kJ, mWh, Wh or kWh"),
    "g": _Units({"mg": _D("0.001"), "g": _D(1), "kg": _D(1000)}, "mg, g or kg"),
    "tokens": _Units({"": _D(1), "k": _D(1000), "K": _D(1000), "M": _D(10**6)},
                     "a whole number, or k or M as in 20k or 1.5M", whole=True),
    "USD": _Units({"": _D(1), "USD": _D(1)}, "dollars: $0.05, 0.05 or 0.05USD"),
}

#: the largest relative change a limit may allow, in percent: far above any useful one, and low
#: enough that an earlier run's reading x (1 + change) stays a finite float
MAX_PERCENT = 1_000_000.0

_OP_CHARS = "<>=!≤≥"
_OP_RUN = re.compile(f"[{_OP_CHARS}]+")
_NUMBER = re.compile(r"(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?")
_PERCENT = re.compile(r"([+-]?)\s*((?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?)\s*%")
_NOT_FINITE = re.compile(r"(?i)[+-]?(nan|inf(inity)?)\b")
_ANCHOR = re.compile(r"(?i)(last|baseline)\b(.*)", re.DOTALL)


def _show(text: str) -> str:
    """Text safe to put in a one-line message: control characters escaped."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii")
                   for c in text)


def _fail(text: str, detail: str) -> BudgetSyntaxError:
    return BudgetSyntaxError(f"{_show(text)}: {detail}")


def _suggest(word: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(word, list(choices), n=1)
    return f"did you mean '{close[0]}'? " if close else ""


def _parse_percent(text: str, value: str) -> float:
    m = _PERCENT.fullmatch(value)
    if not m:
        raise _fail(text, f"'{_show(value)}' is not a percentage (use e.g. +10% or -5%)")
    pct = float(m.group(2)) * (-1 if m.group(1) == "-" else 1)
    if not math.isfinite(pct):
        raise _fail(text, f"'{_show(value)}' is not a finite number")
    if pct < -100:
        raise _fail(text, f"'{_show(value)}': a change below -100% cannot be met")
    if pct > MAX_PERCENT:
        raise _fail(text, f"'{_show(value)}': a change above +{MAX_PERCENT:,.0f}% is no limit; "
                          "use a fixed limit (e.g. time<=30s) or a smaller change")
    return pct


def _parse_amount(text: str, metric: Metric, value: str, *, what: str = "limit") -> float:
    """An unsigned number with a unit of ``metric``, in the base unit."""
    units = _UNITS[metric.unit]
    s = value.strip()
    if s[:1] == "-":
        raise _fail(text, f"a {what} cannot be negative")
    if s[:1] == "+":
        raise _fail(text, f"'{_show(s)}': a '+' needs an anchor: write last{_show(s)} or "
                          f"baseline{_show(s)}, or {_show(s[1:])} for a fixed limit")
    if s.startswith("$"):
        if metric.unit != "USD":
            raise _fail(text, f"'$' is for cost and llm_cost; use {units.hint} for {metric.budget}")
        s = s[1:].strip()
        if s[:1] == "-":
            raise _fail(text, f"a {what} cannot be negative")
        if re.fullmatch(r"[A-Za-z_]\w*", s):
            raise _fail(text, f"'${s}' is not a number (if it names a Python variable, "
                              "that variable is not defined)")
    if "," in s:
        raise _fail(text, f"'{_show(s)}': write numbers without ',' separators (e.g. 1000)")
    m = _NUMBER.match(s)
    if m is None:
        bad = _NOT_FINITE.match(s)
        if bad:
            raise _fail(text, f"'{_show(bad.group(1))}' is not a finite number")
        raise _fail(text, f"'{_show(s)}' is not a number (use e.g. {metric.budget}<="
                          f"{_example(metric)}, {metric.budget}<=+10% or {metric.budget}<=last)")
    number, rest = m.group(), s[m.end():].strip()
    unit, extra = [*re.split(r"\s+", rest, maxsplit=1), ""][:2]
    if metric.unit == "g" and extra == "CO2e":
        extra = ""  # as the footer shows it: "3.20 g CO2e"
    if unit not in units.factors:
        if unit == "":
            raise _fail(text, f"'{number}' needs a unit for {metric.budget} (use {units.hint})")
        others = [k for k, m2 in CATALOG.budget_keys.items()
                  if m2.unit != metric.unit and unit in _UNITS[m2.unit].factors]
        elsewhere = f"; '{_show(unit)}' is for {', '.join(others)}" if others else ""
        raise _fail(text, f"unknown unit '{_show(unit)}' for {metric.budget} "
                          f"(use {units.hint}){elsewhere}")
    if extra:
        raise _fail(text, f"unexpected '{_show(extra)}' after '{number}{unit}'")
    try:
        exact = Decimal(number) * units.factors[unit]
        result = float(exact)
    except (DecimalException, OverflowError):
        result = math.inf
    if not math.isfinite(result):
        raise _fail(text, f"'{number}{unit}' is not a finite number")
    if units.whole and exact != exact.to_integral_value():
        raise _fail(text, f"'{number}{unit}' is not a whole number of tokens")
    return result


def _example(metric: Metric) -> str:
    return {"s": "30s", "B": "2GiB", "J": "5Wh", "g": "10g", "tokens": "20k",
            "USD": "0.05"}[metric.unit]


def parse_limit(text: str) -> Limit:
    """Parse one ``KEY<=VALUE`` / ``KEY<VALUE`` (see the module docstring).

    Raises :class:`BudgetSyntaxError` whose message starts with ``text`` and then
    names the bad part, so a user can find it in a line of several limits.
    """
    text = text.strip()
    if not text:
        raise BudgetSyntaxError("empty limit: expected KEY<=VALUE, e.g. time<=30s")
    run = _OP_RUN.search(text)
    if run is None:
        if text in CATALOG.budget_keys:
            raise _fail(text, f"missing '<=' and a value after {text} "
                              f"(e.g. {text}<={_example(CATALOG.budget_keys[text])})")
        raise _fail(text, "expected KEY<=VALUE or KEY<VALUE, e.g. time<=30s")
    key, op, value = text[:run.start()].strip(), run.group(), text[run.end():].strip()
    if not key:
        raise _fail(text, f"missing budget key before '{op}' (known: {', '.join(CATALOG.budget_keys)})")
    if key not in CATALOG.budget_keys:
        raise _fail(text, f"unknown budget key '{_show(key)}' ({_suggest(key, CATALOG.budget_keys)}"
                          f"known: {', '.join(CATALOG.budget_keys)})")
    if op not in OPS:
        why = " (a budget is an upper limit)" if (">" in op or "≥" in op) else ""
        raise _fail(text, f"expected KEY<=VALUE or KEY<VALUE, not '{op}'{why}")
    if not value:
        raise _fail(text, f"missing value after '{op}'")
    metric = CATALOG.budget_keys[key]
    the_op: Op = "<=" if op == "<=" else "<"
    anchor = _ANCHOR.fullmatch(value)
    if anchor:
        kind: Kind = "last" if anchor.group(1).lower() == "last" else "baseline"
        rest = anchor.group(2).strip()
        if not rest:
            return Limit(key, the_op, kind, 0.0, None, text)
        sign, amount = rest[0], rest[1:].strip()
        if sign not in "+-":
            raise _fail(text, f"unexpected '{_show(rest)}' after '{kind}' "
                              f"(use {kind}, {kind}+10% or {kind}+{_example(metric)})")
        if not amount:
            raise _fail(text, f"missing amount after '{kind}{sign}'")
        if amount[:1] in ("+", "-"):
            raise _fail(text, f"'{_show(rest)}': use one sign")
        if amount.endswith("%"):
            pct = _parse_percent(text, sign + amount)
            return Limit(key, the_op, kind, 0.0, pct, text)
        added = _parse_amount(text, metric, amount, what="amount")
        return Limit(key, the_op, kind, -added if sign == "-" else added, None, text)
    if value.endswith("%"):
        pct = _parse_percent(text, value)
        return Limit(key, the_op, "percent", pct, pct, text)
    return Limit(key, the_op, "absolute", _parse_amount(text, metric, value), None, text)


def parse_limits(items: Iterable[str], *, allow_relative: bool = True) -> tuple[Limit, ...]:
    """Parse limits one item each; ``allow_relative=False`` is for running totals
    (a session or a whole notebook run), which have no earlier run to compare with."""
    out = []
    for item in items:
        limit = parse_limit(item)
        if limit.relative and not allow_relative:
            raise _fail(limit.text, "only fixed limits apply to totals (e.g. "
                                    f"{limit.key}<={_example(limit.metric)}), not "
                                    "+N%, last or baseline")
        out.append(limit)
    return tuple(out)


_OPTIONS_HINT = "use --enforce, --enforce=projected, --strict, --name NAME"


def _chunks(tokens: list[str], flags: dict[str, Any]) -> list[str]:
    """Group words into limit texts and pull out the flags (see module docstring)."""
    chunks: list[list[str]] = []
    open_chunk: list[str] | None = None
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        i += 1
        if tok.startswith("--"):
            open_chunk = None  # a flag ends the limit before it
            if tok in ("--enforce", "--strict"):
                flags[tok[2:]] = True
                continue
            if tok == "--enforce=projected":
                flags["enforce"] = flags["projected"] = True
                continue
            if tok == "--name" or tok.startswith("--name="):
                if tok == "--name":
                    if i >= len(tokens) or tokens[i].startswith("--"):
                        raise BudgetSyntaxError("--name: missing NAME after --name")
                    name, i = tokens[i], i + 1
                else:
                    name = tok[len("--name="):]
                if not name:
                    raise BudgetSyntaxError(f"{_show(tok)}: missing NAME after --name=")
                if flags.get("name") not in (None, name):
                    raise BudgetSyntaxError(f"--name {_show(name)}: --name given twice")
                flags["name"] = name
                continue
            raise BudgetSyntaxError(f"{_show(tok)}: unknown option ({_OPTIONS_HINT})")
        has_op = _OP_RUN.search(tok) is not None
        starts_op = tok[:1] != "" and tok[0] in _OP_CHARS
        next_starts_op = i < len(tokens) and tokens[i][:1] != "" and tokens[i][0] in _OP_CHARS
        if open_chunk is not None and (
            (starts_op and not any(_OP_RUN.search(t) for t in open_chunk))
            or (not has_op and not next_starts_op and any(_OP_RUN.search(t) for t in open_chunk))
        ):
            open_chunk.append(tok)
        else:
            open_chunk = [tok]
            chunks.append(open_chunk)
    return [" ".join(c) for c in chunks]


def parse_budget(line: str) -> BudgetSpec:
    """Parse a whole budget line (flags and limits) into a :class:`BudgetSpec`."""
    try:
        tokens = shlex.split(line)
    except ValueError as exc:
        raise BudgetSyntaxError(f"{_show(line.strip())}: {exc} (check the quotes)") from None
    flags: dict[str, Any] = {}
    limits = tuple(parse_limit(text) for text in _chunks(tokens, flags))
    if not limits:
        raise BudgetSyntaxError("no limits given: write at least one, e.g. time<=30s ram<=2GiB")
    return BudgetSpec(limits, bool(flags.get("enforce")), bool(flags.get("strict")),
                      flags.get("name"), bool(flags.get("projected")))

