"""What users type as prices: ``%nbprofile price MODEL input=2.50 output=10``, ``set_price``, price files.

Values are USD per 1M tokens unless suffixed: ``2.50``, ``$2.50``, ``2.5/M``,
``0.0025/1K``, ``2.5e-6/token``. A bare value under $0.001 per 1M tokens is
refused as a per-token price typed without ``/token``. Everything becomes an
exact ``Decimal`` USD per token.
"""

from __future__ import annotations

from decimal import Decimal

from nbprofile.llm.price_values import CTX, parse_per, parse_price_value
from nbprofile.llm.prices import PRICE_KEYS, PRICES, ModelPrice, check_price


def parse_price_args(args: list[str]) -> tuple[str, dict[str, Decimal]]:
    """``["gpt-x", "input=2.5", "output=10"]`` -> ``("gpt-x", {"input": Decimal("2.5E-6"), ...})``.

    Values are USD per 1M tokens unless suffixed (``/token``, ``/1K``, ``/1M``);
    keys: input, output, cached_input, cache_write. Raises ``ValueError`` with a
    one-line message naming the bad part.
    """
    if not args:
        raise ValueError(
            "usage: %nbprofile price MODEL input=... output=... [cached_input=...] [cache_write=...]"
        )
    model, rest = args[0], args[1:]
    if "=" in model:
        raise ValueError(
            f"{model!r}: the model name comes first (%nbprofile price MODEL input=... output=...)"
        )
    if not rest:
        raise ValueError(f"no prices for {model}: give input=... output=... ($ per 1M tokens)")
    prices: dict[str, Decimal] = {}
    for part in rest:
        key, sep, value = part.partition("=")
        if not sep or not value:
            raise ValueError(f"{part!r}: expected KEY=VALUE with KEY one of {', '.join(PRICE_KEYS)}")
        if key not in PRICE_KEYS:
            raise ValueError(f"{part!r}: unknown price {key!r}; use {', '.join(PRICE_KEYS)}")
        if key in prices:
            raise ValueError(f"{part!r}: {key} given twice")
        prices[key] = check_price(key, parse_price_value(key, value), value)
    return model, prices


def _to_decimal(name: str, value: float | str | Decimal | None, per: str) -> Decimal | None:
    if value is None:
        return None
    return check_price(name, parse_price_value(name, value, parse_per(per)), value)


#: the process's prices (table + user)


def set_price(
    model: str,
    *,
    input: float | str | Decimal | None = None,
    output: float | str | Decimal | None = None,
    cached_input: float | str | Decimal | None = None,
    cache_write: float | str | Decimal | None = None,
    per: str = "1M",
) -> ModelPrice:
    """Set the user's price for ``model`` (USD per ``per`` tokens: "1M" by default, "1K" or "token").

    ``set_price("my-model", input=2.5, output=10)`` is $2.50 / $10 per million tokens.
    Applies to calls recorded from now on.
    """
    return PRICES.set(
        model,
        input=_to_decimal("input", input, per),
        output=_to_decimal("output", output, per),
        cached_input=_to_decimal("cached_input", cached_input, per),
        cache_write=_to_decimal("cache_write", cache_write, per),
    )


def describe(price: ModelPrice) -> str:
    """One line, e.g. ``gpt-4o: input $2.5, output $10, cached input $1.25 per 1M tokens (SOURCE)``."""

    def per_m(value: Decimal | None) -> str:
        return "-" if value is None else f"${CTX.multiply(value, Decimal(1_000_000)).normalize():f}"

    b = price.base
    parts = [f"input {per_m(b.input)}", f"output {per_m(b.output)}"]
    if b.cache_read is not None:
        parts.append(f"cached input {per_m(b.cache_read)}")
    if b.cache_write is not None:
        parts.append(f"cache write {per_m(b.cache_write)}")
    origin = "user" if price.source == "user" else PRICES.label
    return f"{price.model}: {', '.join(parts)} per 1M tokens ({origin})"
