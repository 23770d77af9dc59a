"""Turn one call's reported usage into a priced ledger entry.

Shared by the SDK hooks and the manual :func:`nbprofile.llm.record`. Every
number here is one the API reported (or the caller passed); nothing is
re-tokenised, except where a stream carried no usage and a local tokenizer
was available (then the entry says ``estimated``).
"""

from __future__ import annotations

import time
import warnings
from decimal import Decimal
from typing import Any

from nbprofile.errors import NbprofileWarning
from nbprofile.llm.ledger import LEDGER, TokenMethod, Usage
from nbprofile.llm.prices import PRICES, CallTokens

_warned: set[str] = set()


def add_call(
    provider: str,
    api: str,
    model: str | None,
    *,
    requested: str | None = None,
    input_tokens: int | None,
    output_tokens: int | None,
    cached_tokens: int | None = None,
    cache_write_tokens: int | None = None,
    cache_write_long_tokens: int = 0,
    reasoning_tokens: int | None = None,
    service_tier: str | None = None,
    token_method: TokenMethod = "measured",
    token_note: str | None = None,
    duration_s: float | None = None,
) -> Usage:
    """Price a call and append it to the ledger.

    ``input_tokens`` is every prompt token (cached reads and cache writes
    included); ``cache_write_long_tokens`` is the part of ``cache_write_tokens``
    written with long retention (Anthropic 1 h, OpenAI 12 h).
    """
    name = model or requested or "unknown"
    source = ""
    cost: Decimal | None
    cost_note: str | None
    if input_tokens is None or output_tokens is None:
        cost, cost_note = None, token_note or "the call reported no usage"
        if token_method == "measured":
            token_method = "unavailable"
    else:
        cached = cached_tokens or 0
        writes = cache_write_tokens or 0
        long_writes = min(cache_write_long_tokens, writes)
        tokens = CallTokens(
            max(input_tokens - cached - writes, 0), cached, writes - long_writes, long_writes, output_tokens
        )
        cost, price_note, source = PRICES.cost(name, tokens, requested=requested, service_tier=service_tier)
        cost_note = price_note
        if cost is not None and token_method == "estimated":
            cost_note = "; ".join(filter(None, ["tokens estimated", price_note]))
    usage = Usage(
        "api",
        provider,
        api,
        name,
        input_tokens,
        output_tokens,
        cached_tokens,
        cache_write_tokens,
        reasoning_tokens,
        token_method,
        token_note,
        cost,
        cost_note,
        duration_s,
        time.time(),
        source,
    )
    LEDGER.append(usage)
    return usage


def add_untokenized(provider: str, api: str, model: str | None, why: str, *,
                    requested: str | None = None, duration_s: float | None = None) -> Usage:
    """A call whose tokens are unknown (no usage in the reply, an unfinished stream):
    counted as a call, its tokens and cost unavailable with ``why``."""
    return add_call(provider, api, model, requested=requested, input_tokens=None, output_tokens=None,
                    token_note=why, duration_s=duration_s)


def add_unreadable(provider: str, api: str, model: str | None, exc: BaseException) -> None:
    """A call happened but nbprofile failed to read its usage: record that, and warn once.

    The user's call already returned; this only costs the window its token count.
    """
    reason = f"nbprofile could not read the usage of a {provider} {api} call: {type(exc).__name__}: {exc}"
    add_untokenized(provider, api, model, reason)
    key = f"{provider}.{api}:{type(exc).__name__}"
    if key not in _warned:
        _warned.add(key)
        warnings.warn(f"nbprofile: {reason}", NbprofileWarning, stacklevel=3)


def field(obj: Any, name: str) -> Any:
    """``obj.name`` for SDK models, ``obj[name]`` for plain dicts (raw JSON); ``None`` if absent."""
    if obj is None:
        return None
    if isinstance(obj, dict):
        return obj.get(name)
    return getattr(obj, name, None)


def as_int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
