"""Meters over the usage ledger: hosted-API tokens and dollars, and local ``generate()``.

``begin`` takes a ledger mark, ``end`` sums the calls after it: a few
microseconds when no call was made. A window with no calls reads 0 tokens,
0 calls and $0, measured: the hooks were watching and saw none. (Calls through
an SDK nbprofile does not hook are invisible; ``nbprofile.llm.record`` adds them.)
A total is never a partial sum: if any call's tokens (or price) are unknown,
the total is unavailable and its note gives the reason and the known part.

The per-model breakdown is in the ``llm_calls`` note, and as data from
:meth:`LlmMeter.detail` (for a record field; see the integration notes).
"""

from __future__ import annotations

from collections import OrderedDict
from decimal import Decimal
from typing import Any

from nbprofile.llm import hooks
from nbprofile.llm.ledger import LEDGER, Ledger, Usage
from nbprofile.llm.price_values import CTX
from nbprofile.llm.prices import PRICES  # the table itself is read at the first call, not at %load_ext
from nbprofile.meters.base import Meter
from nbprofile.readings import Availability, Method, Reading, Readings

SOURCE = "nbprofile.llm (API-reported usage)"
_TOKEN_KEYS = (
    ("llm_input_tokens", "input_tokens"),
    ("llm_output_tokens", "output_tokens"),
    ("llm_cached_tokens", "cached_tokens"),
    ("llm_cache_write_tokens", "cache_write_tokens"),
    ("llm_reasoning_tokens", "reasoning_tokens"),
)
_DETAILS_KEPT = 32


class LlmMeter(Meter):
    """``llm_*`` readings of the hosted-API calls in the window (see docs/readings.md)."""

    name = "llm"
    keys = (
        "llm_tokens",
        "llm_input_tokens",
        "llm_output_tokens",
        "llm_cached_tokens",
        "llm_cache_write_tokens",
        "llm_reasoning_tokens",
        "llm_calls",
        "llm_cost_usd",
    )

    def __init__(self, ledger: Ledger = LEDGER) -> None:
        self.ledger = ledger
        self._marks: dict[object, int] = {}
        self._details: OrderedDict[int, dict[str, Any]] = OrderedDict()

    def probe(self) -> Availability:
        wrapped = [name.split(".")[0] for name, on in hooks.installed().items() if on]
        state = ("hooked now: " + ", ".join(sorted(set(wrapped)))) if wrapped else "hooked when imported"
        return Availability(
            True,
            f"openai, anthropic SDK calls ({state}); manual nbprofile.llm.record(); "
            "prices: vendored litellm table (dated), %nbprofile price to override",
        )

    def begin(self, key: object) -> None:
        self._marks[key] = self.ledger.mark()

    def end(self, key: object) -> Readings:
        mark = self._marks.pop(key, None)
        if mark is None:
            return {
                k: Reading.unavailable(_unit(k), "the window was never opened", SOURCE) for k in self.keys
            }
        calls = [u for u in self.ledger.release(mark) if u.kind == "api"]
        readings, detail = summarize(calls)
        if calls:
            self._details[id(key)] = detail
            while len(self._details) > _DETAILS_KEPT:
                self._details.popitem(last=False)
        return readings

    def discard(self, key: object) -> None:
        mark = self._marks.pop(key, None)
        if mark is not None:
            self.ledger.discard(mark)

    def detail(self, key: object) -> dict[str, Any] | None:
        """The per-model breakdown of a window that just ended (``None`` if it had no calls)."""
        return self._details.pop(id(key), None)


def _unit(key: str) -> str:
    return "calls" if key == "llm_calls" else "USD" if key.endswith("_usd") else "tokens"


def _fmt_usd(value: Decimal) -> str:
    return f"${value:.6f}".rstrip("0").rstrip(".") if value else "$0"


_NONE = "no LLM API calls in this window"
# Most cells call no model: the readings budgets use, at zero, and nothing else. Each
# reading is stored with every record, so the quiet case is kept small (no note).
_NO_CALLS: Readings = {
    "llm_tokens": Reading(0, "tokens", "measured", "nbprofile.llm"),
    "llm_input_tokens": Reading(0, "tokens", "measured", "nbprofile.llm"),
    "llm_output_tokens": Reading(0, "tokens", "measured", "nbprofile.llm"),
    "llm_calls": Reading(0, "calls", "measured", "nbprofile.llm"),
    "llm_cost_usd": Reading(0.0, "USD", "measured", "nbprofile.llm"),
}


def summarize(calls: list[Usage]) -> tuple[Readings, dict[str, Any]]:
    """The ``llm_*`` readings and the per-model detail of a list of API calls."""
    n = len(calls)
    if n == 0:
        return dict(_NO_CALLS), {}  # most cells: a copy of readings built once
    estimated = sum(1 for c in calls if c.token_method == "estimated")
    method: Method = "estimated" if estimated else "measured"
    est_note = f"{estimated} of {n} calls estimated with a local tokenizer" if estimated else None
    readings: Readings = {}
    sums: dict[str, int | None] = {}
    for key, attr in _TOKEN_KEYS:
        values = [getattr(c, attr) for c in calls]
        known = [v for v in values if v is not None]
        missing = n - len(known)
        if missing == 0:
            sums[key] = sum(known)
            readings[key] = Reading(sums[key], "tokens", method, SOURCE, est_note)
            continue
        sums[key] = None
        reasons = sorted({c.token_note for c in calls if getattr(c, attr) is None and c.token_note})
        why = f"{missing} of {n} calls did not report it"
        if key == "llm_reasoning_tokens" and not reasons:
            reasons = ["the provider does not report reasoning tokens apart (they are in the output tokens)"]
        partial = f"; the other calls: {sum(known):,}" if known else ""
        readings[key] = Reading.unavailable(
            "tokens", f"{why}{partial}" + (f" ({'; '.join(reasons)})" if reasons else ""), SOURCE
        )
    if sums["llm_input_tokens"] is not None and sums["llm_output_tokens"] is not None:
        readings["llm_tokens"] = Reading(
            sums["llm_input_tokens"] + sums["llm_output_tokens"], "tokens", method, SOURCE, est_note
        )
    else:
        bad = (
            readings["llm_input_tokens"]
            if sums["llm_input_tokens"] is None
            else readings["llm_output_tokens"]
        )
        readings["llm_tokens"] = Reading.unavailable("tokens", bad.note or "", SOURCE)
    readings["llm_cost_usd"] = _cost(calls, method)
    models = _per_model(calls)
    readings["llm_calls"] = Reading(n, "calls", "measured", SOURCE, _models_note(models))
    return readings, {"models": models, "prices": PRICES.label}


def _cost(calls: list[Usage], method: Method) -> Reading:
    unknown = [c for c in calls if c.cost is None]
    total = Decimal(0)
    for c in calls:
        if c.cost is not None:
            total = CTX.add(total, c.cost)
    sources = sorted({c.price_source for c in calls if c.price_source})
    source = "usage × " + (" + ".join(sources) if sources else PRICES.label)
    notes = sorted({c.cost_note for c in calls if c.cost_note})
    if unknown:
        partial = f"; the other calls: {_fmt_usd(total)}" if len(unknown) < len(calls) else ""
        return Reading.unavailable("USD", f"cost unavailable: {'; '.join(notes)}{partial}", source)
    # exact Decimal sum, rounded once to the nearest float (round-half-even)
    return Reading(float(total), "USD", method, source, "; ".join(notes) or None)


def _per_model(calls: list[Usage]) -> dict[str, dict[str, Any]]:
    models: dict[str, dict[str, Any]] = {}
    for c in calls:
        m = models.setdefault(
            c.model,
            {
                "provider": c.provider,
                "calls": 0,
                "input_tokens": 0,
                "output_tokens": 0,
                "cached_tokens": 0,
                "cache_write_tokens": 0,
                "reasoning_tokens": 0,
                "cost_usd": Decimal(0),
            },
        )
        m["calls"] += 1
        for attr in (
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "cache_write_tokens",
            "reasoning_tokens",
        ):
            value = getattr(c, attr)
            m[attr] = None if value is None or m[attr] is None else m[attr] + value
        m["cost_usd"] = None if c.cost is None or m["cost_usd"] is None else CTX.add(m["cost_usd"], c.cost)
        if c.cost is None:
            m["cost_note"] = c.cost_note
    for m in models.values():
        if m["cost_usd"] is not None:
            m["cost_usd"] = float(m["cost_usd"])
    return models


def _models_note(models: dict[str, dict[str, Any]]) -> str:
    parts = []
    for name, m in models.items():
        tokens = (
            "? tokens"
            if m["input_tokens"] is None or m["output_tokens"] is None
            else f"in {m['input_tokens']:,} (cached {m['cached_tokens'] or 0:,}), out {m['output_tokens']:,}"
        )
        cost = "cost unavailable" if m["cost_usd"] is None else _fmt_usd(Decimal(repr(m["cost_usd"])))
        parts.append(f"{name}: {m['calls']} call{'s' * (m['calls'] != 1)}, {tokens}, {cost}")
    return "; ".join(parts)


# -- local generate() ------------------------------------------------------------------


_NO_GEN = "no generate() calls in this window"
_GEN_SOURCE = "transformers generate() hook"


class LocalGenerateMeter(Meter):
    """``local_*`` readings of Hugging Face ``generate()`` calls in the window (proposed keys)."""

    name = "generate"
    keys = (
        "local_input_tokens",
        "local_output_tokens",
        "local_generate_calls",
        "local_generate_s",
        "local_tokens_per_s",
    )
    SOURCE = _GEN_SOURCE

    def __init__(self, ledger: Ledger = LEDGER) -> None:
        self.ledger = ledger
        self._marks: dict[object, int] = {}

    def probe(self) -> Availability:
        return Availability(
            True, "transformers generate(): tokens in/out and tokens/s (hooked when imported)"
        )

    def begin(self, key: object) -> None:
        self._marks[key] = self.ledger.mark()

    def end(self, key: object) -> Readings:
        mark = self._marks.pop(key, None)
        units = ("tokens", "tokens", "calls", "s", "tokens/s")
        if mark is None:
            return {
                k: Reading.unavailable(u, "the window was never opened", self.SOURCE)
                for k, u in zip(self.keys, units)
            }
        calls = [u for u in self.ledger.release(mark) if u.kind == "local"]
        src = self.SOURCE
        if not calls:
            return {}  # no generate() call: nothing to say (most cells), and nothing stored
        seconds = sum(c.duration_s or 0.0 for c in calls)
        out: Readings = {
            "local_generate_calls": Reading(
                len(calls), "calls", "measured", src, ", ".join(sorted({c.model for c in calls}))
            ),
            "local_generate_s": Reading(seconds, "s", "measured", "perf_counter around generate()"),
        }
        bad = [c.token_note for c in calls if c.output_tokens is None]
        for name, attr in (("local_input_tokens", "input_tokens"), ("local_output_tokens", "output_tokens")):
            if bad:
                out[name] = Reading.unavailable("tokens", bad[0] or "tokens not counted", src)
            else:
                out[name] = Reading(sum(getattr(c, attr) or 0 for c in calls), "tokens", "measured", src)
        generated = out["local_output_tokens"].value
        if generated is None or seconds <= 0:
            out["local_tokens_per_s"] = Reading.unavailable(
                "tokens/s", (bad[0] if bad else None) or "no time measured", src
            )
        else:
            out["local_tokens_per_s"] = Reading(
                generated / seconds, "tokens/s", "measured", src, "generated tokens / time inside generate()"
            )
        return out

    def discard(self, key: object) -> None:
        mark = self._marks.pop(key, None)
        if mark is not None:
            self.ledger.discard(mark)


def derive_local_j_per_token(readings: Readings) -> Readings:
    """``local_j_per_token`` = the window's ``energy_j`` / ``local_output_tokens`` (a deriver).

    Only for windows that generated tokens; the energy is the whole window's,
    so work around ``generate()`` in the same cell counts too (the note says so).
    """
    tokens = readings.get("local_output_tokens")
    if tokens is None or not tokens.value:
        return {}
    energy = readings.get("energy_j")
    if energy is None or energy.value is None:
        why = energy.note if energy is not None and energy.note else "energy_j is not measured here"
        return {"local_j_per_token": Reading.unavailable("J/token", why, "energy_j / local_output_tokens")}
    method = "estimated" if "estimated" in (energy.method, tokens.method) else energy.method
    return {
        "local_j_per_token": Reading(
            energy.value / tokens.value,
            "J/token",
            method,
            "energy_j / local_output_tokens",
            "the whole window's energy over the tokens generate() produced",
        )
    }
