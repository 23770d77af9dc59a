"""LLM tokens and dollars, per cell.

Calls through the ``openai`` and ``anthropic`` SDKs are captured by hooks that
:func:`install` sets when the SDKs are imported (``%load_ext nbprofile`` calls
it; nothing imports an SDK here). Anything else is recorded by hand::

    import nbprofile.llm
    nbprofile.llm.record(model="gemini/gemini-2.5-pro", input_tokens=1200, output_tokens=300)

Each call lands in the process's usage ledger (:mod:`nbprofile.llm.ledger`);
:class:`~nbprofile.llm.meter.LlmMeter` turns the calls of a cell into the
``llm_*`` readings. Prices come from a vendored, dated table, overridden by
:func:`set_price` or a price file (:mod:`nbprofile.llm.prices`).
"""

from __future__ import annotations

import time
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from nbprofile.llm.hooks import install, installed, uninstall
from nbprofile.llm.ledger import LEDGER, Totals, Usage
from nbprofile.llm.switches import set_call_guard, set_include_usage

if TYPE_CHECKING:
    from nbprofile.llm.guard import TokenBudgetGuard
    from nbprofile.llm.price_input import parse_price_args, set_price
    from nbprofile.llm.prices import PRICES

__all__ = [
    "LEDGER",
    "PRICES",
    "Totals",
    "Usage",
    "clear_price",
    "describe_price",
    "include_usage",
    "install",
    "installed",
    "parse_price_args",
    "price_guard",
    "record",
    "set_call_guard",
    "set_include_usage",
    "set_price",
    "status_lines",
    "totals",
    "uninstall",
]


def record(
    *,
    model: str,
    input_tokens: int,
    output_tokens: int,
    cached_tokens: int = 0,
    cache_write_tokens: int = 0,
    reasoning_tokens: int | None = None,
    provider: str = "manual",
    cost_usd: float | str | Decimal | None = None,
) -> Usage:
    """Record one LLM call made outside the hooked SDKs.

    ``input_tokens`` is every prompt token, cached ones included (``cached_tokens``
    and ``cache_write_tokens`` are parts of it, priced at their own rates);
    ``reasoning_tokens`` are part of ``output_tokens``. The cost comes from the
    price table unless ``cost_usd`` is given. Returns the ledger entry.
    """
    from nbprofile.llm.calls import add_call

    values = {
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": cached_tokens,
        "cache_write_tokens": cache_write_tokens,
    }
    if reasoning_tokens is not None:
        values["reasoning_tokens"] = reasoning_tokens
    for name, value in values.items():
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            raise ValueError(f"record(): {name}={value!r} must be a whole number of tokens >= 0")
    if not isinstance(model, str) or not model:
        raise ValueError("record(): model must be the model's name")
    if cached_tokens + cache_write_tokens > input_tokens:
        raise ValueError(
            f"record(): cached_tokens + cache_write_tokens ({cached_tokens + cache_write_tokens}) "
            f"are parts of input_tokens ({input_tokens}) and cannot exceed it"
        )
    if reasoning_tokens is not None and reasoning_tokens > output_tokens:
        raise ValueError(
            f"record(): reasoning_tokens ({reasoning_tokens}) are part of output_tokens "
            f"({output_tokens}) and cannot exceed it"
        )
    if cost_usd is None:
        return add_call(
            provider,
            "record",
            model,
            input_tokens=input_tokens,
            output_tokens=output_tokens,
            cached_tokens=cached_tokens,
            cache_write_tokens=cache_write_tokens,
            reasoning_tokens=reasoning_tokens,
        )
    try:
        cost = Decimal(repr(cost_usd)) if isinstance(cost_usd, float) else Decimal(cost_usd)
    except ArithmeticError:
        raise ValueError(f"record(): cost_usd={cost_usd!r} is not a number") from None
    if not cost.is_finite() or cost < 0:
        raise ValueError(f"record(): cost_usd={cost_usd!r} must be a number of dollars >= 0")
    usage = Usage(
        "api",
        provider,
        "record",
        model,
        input_tokens,
        output_tokens,
        cached_tokens,
        cache_write_tokens,
        reasoning_tokens,
        "measured",
        None,
        cost,
        None,
        None,
        time.time(),
        "cost given to record()",
    )
    LEDGER.append(usage)
    return usage


def totals() -> Totals:
    """Running totals of every call since the process started (cheap: for budget guards)."""
    return LEDGER.totals()


def include_usage() -> bool:
    """Whether OpenAI streams are asked for their usage chunk (see :func:`set_include_usage`)."""
    from nbprofile.llm.switches import CONFIG

    return CONFIG.include_usage


def clear_price(model: str | None = None) -> None:
    """Drop the user's price for ``model`` (every user price with ``None``); the table's applies again."""
    from nbprofile.llm.prices import PRICES

    PRICES.clear(model)


def price_guard(
    limits: dict[str, float], exception: type[BaseException] | None = None, describe: Any = None
) -> TokenBudgetGuard:
    """A guard for :func:`set_call_guard` that raises once the tokens or dollars spent
    since it was made cross a limit; see :class:`nbprofile.llm.guard.TokenBudgetGuard`."""
    from nbprofile.llm.guard import TokenBudgetGuard

    return TokenBudgetGuard(limits, exception=exception, describe=describe)


def describe_price(model: str) -> str:
    """One line for ``%nbprofile price MODEL``: the price that applies and where it comes from."""
    from nbprofile.llm.price_input import describe
    from nbprofile.llm.prices import PRICES

    price = PRICES.lookup(model)
    if price is None:
        return f"unknown model {model}: set a price with %nbprofile price {model} input=... output=..."
    return describe(price)


def status_lines() -> list[str]:
    """Lines for ``%nbprofile status`` / ``%nbprofile llm``: hooks, options, prices."""
    from nbprofile.llm.price_input import describe
    from nbprofile.llm.prices import PRICES

    hooked = sorted({name.split(".")[0] for name, on in installed().items() if on})
    asked = "are asked for their" if include_usage() else "report no"
    lines = [
        (
            f"LLM hooks: {', '.join(hooked) if hooked else 'none yet'} "
            "(openai, anthropic, transformers are hooked when imported)"
        ),
        (
            f"include_usage: {'on' if include_usage() else 'off'} "
            f"(OpenAI streams {asked} usage unless the call says)"
        ),
        f"prices: {PRICES.label}",
    ]
    lines += [f"  user: {describe(price)}" for price in PRICES.user_prices().values()]
    return lines


def __getattr__(name: str) -> Any:
    # The price table and its parsers load on first use: `%load_ext nbprofile` needs
    # only the hooks and the ledger (the table is read on the first priced call).
    if name == "PRICES":
        from nbprofile.llm.prices import PRICES

        return PRICES
    if name in ("parse_price_args", "set_price"):
        from nbprofile.llm import price_input

        return getattr(price_input, name)
    raise AttributeError(f"module 'nbprofile.llm' has no attribute {name!r}")
