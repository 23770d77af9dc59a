"""Pure formatters for the quantities nbprofile shows.

Each takes a number in its base unit (seconds, bytes, joules, grams, dollars,
tokens, a count of things) and returns a short human string with three
significant figures at most; a count of things is shown whole, as ``1,234``.
They never see ``None``: callers show an unavailable reading as
:data:`UNAVAILABLE` with its reason instead of a number.
"""

from __future__ import annotations

import math
from typing import Callable

from nbprofile.readings import COUNT, Reading

UNAVAILABLE = "n/a"

_BINARY = (("TiB", 1024**4), ("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024))


def _sig(value: float) -> str:
    """Three significant figures at 1 and above; two below 1, without trailing zeros,
    so that ``0.0042`` stays ``0.0042`` (not ``0.00``)."""
    a = abs(value)
    if a >= 100:
        return f"{value:.0f}"
    if a >= 10:
        return f"{value:.1f}"
    if a >= 1 or a == 0:
        return f"{value:.2f}"
    decimals = 1 - math.floor(math.log10(a))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".")


def format_duration(seconds: float) -> str:
    """``0.0000123`` → ``12.3 µs``; ``2.314`` → ``2.31 s``; ``3725`` → ``1 h 02 min``."""
    if not math.isfinite(seconds):
        return str(seconds)
    sign = "-" if seconds < 0 else ""
    s = abs(seconds)
    if s == 0:
        return "0 s"
    if s < 1e-6:
        return f"{sign}{_sig(s * 1e9)} ns"
    if s < 1e-3:
        return f"{sign}{_sig(s * 1e6)} µs"
    if s < 1:
        return f"{sign}{_sig(s * 1e3)} ms"
    if s < 60:
        return f"{sign}{_sig(s)} s"
    if s < 3600:
        minutes, rest = divmod(round(s), 60)
        return f"{sign}{minutes} min {rest:02d} s"
    hours, rest = divmod(round(s), 3600)
    return f"{sign}{hours} h {rest // 60:02d} min"


def format_bytes(n: float, *, signed: bool = False) -> str:
    """Binary units: ``1288490188`` → ``1.20 GiB``; ``signed`` adds ``+`` to positives."""
    sign = "-" if n < 0 else ("+" if signed and n > 0 else "")
    a = abs(n)
    for unit, size in _BINARY:
        if a >= size:
            return f"{sign}{_sig(a / size)} {unit}"
    return f"{sign}{a:.0f} B"


def format_energy(joules: float) -> str:
    """``0.5`` → ``500 mJ``; ``42`` → ``42.0 J``; ``5400`` → ``1.50 Wh``; ``9e6`` → ``2.50 kWh``."""
    sign = "-" if joules < 0 else ""
    j = abs(joules)
    if j == 0:
        return "0 J"
    if j < 1:
        return f"{sign}{_sig(j * 1e3)} mJ"
    if j < 3600:
        return f"{sign}{_sig(j)} J"
    if j < 3.6e6:
        return f"{sign}{_sig(j / 3600)} Wh"
    return f"{sign}{_sig(j / 3.6e6)} kWh"


def format_co2(grams: float) -> str:
    """``0.0123`` → ``12.3 mg CO2e``; ``3.2`` → ``3.20 g CO2e``; ``4500`` → ``4.50 kg CO2e``."""
    sign = "-" if grams < 0 else ""
    g = abs(grams)
    if g == 0:
        return "0 g CO2e"
    if g < 1e-8:
        return f"{sign}<0.01 µg CO2e"
    if g < 1e-3:
        return f"{sign}{_sig(g * 1e6)} µg CO2e"
    if g < 1:
        return f"{sign}{_sig(g * 1e3)} mg CO2e"
    if g < 1000:
        return f"{sign}{_sig(g)} g CO2e"
    return f"{sign}{_sig(g / 1000)} kg CO2e"


def format_usd(dollars: float) -> str:
    """Cents matter for LLM calls: ``0.000412`` → ``$0.000412``; ``12.5`` → ``$12.50``."""
    sign = "-" if dollars < 0 else ""
    d = abs(dollars)
    if d == 0:
        return "$0"
    if d >= 1:
        return f"{sign}${d:,.2f}"
    if d < 1e-6:
        return f"{sign}<$0.000001"  # beyond a millionth of a dollar, digits only hide the point
    # three significant figures, then trailing zeros trimmed to at least cents
    decimals = max(2, 2 - math.floor(math.log10(d)))
    text = f"{d:.{decimals}f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{d:.2f}"
    return f"{sign}${text}"


def counted(n: int, word: str, plural: str | None = None) -> str:
    """How many of a thing, in words: ``1 cell``, ``2 cells``, ``1,200 records``, ``3 processes``
    (``plural`` where adding an ``s`` is wrong)."""
    return f"{n:,} {word if n == 1 else plural or word + 's'}"


def format_count(n: float) -> str:
    """Token and FLOP counts: ``950`` → ``950``; ``12400`` → ``12.4k``; ``3.2e6`` → ``3.20M``."""
    sign = "-" if n < 0 else ""
    a = abs(n)
    for suffix, size in (("T", 1e12), ("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if a >= size:
            return f"{sign}{_sig(a / size)}{suffix}"
    return f"{sign}{a:.0f}"


def format_whole(n: float) -> str:
    """A count of things (tasks, workers): ``2`` → ``2``; ``1234`` → ``1,234``; from a million
    compact, as tokens are: ``3.2e6`` → ``3.20M``. Never ``2.00``: a count has no decimals, and a
    value that is not whole (a mean) keeps only the ones it needs (``2.5``)."""
    if abs(n) >= 1e6:
        return format_count(n)
    if abs(n) >= 100 or float(n).is_integer():
        return f"{n:,.0f}"
    text = _sig(n)
    return text.rstrip("0").rstrip(".") if "." in text else text


def format_percent(fraction: float, *, signed: bool = False) -> str:
    """``0.1234`` → ``12.3%``; with ``signed``, ``+12.3%`` / ``-4.00%``."""
    pct = fraction * 100
    text = f"{_sig(pct)}%"
    return f"+{text}" if signed and pct > 0 else text


_BY_UNIT: dict[str, Callable[[float], str]] = {
    "s": format_duration,
    "B": format_bytes,
    "J": format_energy,
    "g": format_co2,
    "USD": format_usd,
    "tokens": format_count,
    "FLOP": format_count,
    COUNT: format_whole,
    "calls": lambda n: f"{format_count(n)} {'call' if n == 1 else 'calls'}",  # a count: never "0.00 calls"
}


def format_value(value: float, unit: str) -> str:
    """Format a reading's value by its base unit; unknown units print plainly."""
    formatter = _BY_UNIT.get(unit)
    if formatter is None:
        return f"{_sig(value)} {unit}".strip()
    return formatter(value)


def shown_value(reading: Reading | None, unit: str = "") -> str:
    """A reading as every table and footer shows it: ``n/a`` when it has no value, and
    ``~`` before a sampled or estimated one. ``unit`` is the catalog's, for a reading
    stored without one (tasks were counted in ``""`` before the catalog had :data:`COUNT`):
    the reading's own unit wins, as in the panel."""
    if reading is None or reading.value is None:
        return UNAVAILABLE
    return method_mark(reading.method) + format_value(reading.value, reading.unit or unit)


def method_mark(method: str | None) -> str:
    """``~`` for a sampled or estimated number, nothing for a measured one."""
    return "~" if method in ("sampled", "estimated") else ""
