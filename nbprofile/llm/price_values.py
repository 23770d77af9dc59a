"""A price as typed, to an exact ``Decimal`` in USD per token.

Values are USD per 1M tokens unless suffixed: ``2.50``, ``$2.50``, ``2.5/M``,
``0.0025/1K``, ``2.5e-6/token``. A bare value under $0.001 per 1M tokens is
refused as a per-token price typed without ``/token``.
"""

from __future__ import annotations

import re
from decimal import Context, Decimal, InvalidOperation

#: the arithmetic context of every price and cost: exact for any realistic bill
CTX = Context(prec=60)

_PER = {
    "token": Decimal(1),
    "tok": Decimal(1),
    "1k": Decimal(1000),
    "k": Decimal(1000),
    "1m": Decimal(1_000_000),
    "m": Decimal(1_000_000),
    "mtok": Decimal(1_000_000),
}
_VALUE = re.compile(r"^\$?(?P<num>[0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)(?:/(?P<per>[A-Za-z0-9]+))?$")
#: a "per million" price below this is almost surely a per-token price typed without /token
_SUSPICIOUS_PER_M = Decimal("0.001")


def parse_per(text: str) -> Decimal:
    key = text.strip().lower().lstrip("/").replace("tokens", "token")
    if key not in _PER:
        raise ValueError(f"per={text!r}: use token, 1K or 1M")
    return _PER[key]


def parse_price_value(name: str, value: object, per: Decimal = _PER["1m"]) -> Decimal:
    """``2.5``, ``"$2.50"``, ``"2.5/M"``, ``"0.0025/1K"``, ``"2.5e-6/token"`` -> USD per token.

    Bare numbers are per ``per`` (a million tokens unless said otherwise): that is
    how providers publish prices.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float, str, Decimal)):
        raise ValueError(f"{name}={value!r} is not a price")
    text = repr(value) if isinstance(value, float) else str(value)
    match = _VALUE.match(text.strip().replace("_", ""))
    if match is None:
        raise ValueError(
            f"{name}={text} is not a price: write e.g. {name}=2.50 ($ per 1M tokens), "
            f"{name}=2.5e-6/token or {name}=0.0025/1K"
        )
    try:
        number = Decimal(match["num"])
    except InvalidOperation:
        raise ValueError(f"{name}={text} is not a number") from None
    try:
        unit = parse_per(match["per"]) if match["per"] else per
    except ValueError:
        raise ValueError(f"{name}={text}: unknown unit /{match['per']}; use /token, /1K or /1M") from None
    if match["per"] is None and unit == _PER["1m"] and 0 < number < _SUSPICIOUS_PER_M:
        raise ValueError(
            f"{name}={text} means ${text} per 1M tokens, which looks like a per-token price: "
            f"write {name}={text}/token, or the price per 1M tokens"
        )
    return CTX.divide(number, unit)
