"""Per-token prices: the vendored, dated table, the user's overrides, and the cost of a call.

The table (``nbprofile/data/llm_prices.json``, built by :mod:`nbprofile.llm._price_build`
from litellm's price map) is read on the first priced call, never fetched. The
user's prices win over it: ``set_price(...)`` (``%nbprofile price MODEL input=...
output=...``) and a config file, ``$NBPROFILE_LLM_PRICES`` or
``<jupyter config dir>/nbprofile/llm_prices.toml`` (or ``.json``)::

    per = "1M"                 # the unit of bare numbers: "token", "1K" or "1M" (default)
    [models."my-finetune"]
    input = 2.5                # $2.50 per million input tokens
    output = "10/M"            # strings take the same forms as the magic
    cached_input = 1.25
    cache_write = 3.125

Exactness: prices are read as ``Decimal`` from the JSON text (``2.5e-06`` is
exactly 0.0000025), every call's cost is ``tokens × price`` summed in a
60-digit decimal context, so it is exact; it becomes a float once, when a
window's total is reported (round-half-even to the nearest double).

A model with no price gets no cost, never $0: its calls say
"unknown model NAME: set a price with %nbprofile price NAME input=... output=...".
"""

from __future__ import annotations

import json
import os
import sys
import threading
import warnings
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any, NamedTuple

from nbprofile.errors import NbprofileWarning
from nbprofile.llm.price_values import CTX, parse_per, parse_price_value

TABLE_PATH = Path(__file__).resolve().parent.parent / "data" / "llm_prices.json"
CONFIG_ENV = "NBPROFILE_LLM_PRICES"
#: exact for any realistic sum: 60 significant digits
PRICE_KEYS = ("input", "output", "cached_input", "cache_write")
#: the highest price accepted, USD per 1M tokens: far above any model's, and low enough that a
#: window's cost (tokens x price, then one float) can never overflow to inf
MAX_USD_PER_M_TOKENS = Decimal(1_000_000)
_PER_M = Decimal(1_000_000)


def check_price(name: str, usd_per_token: Decimal, typed: object = None) -> Decimal:
    """``usd_per_token`` if it is a finite price within :data:`MAX_USD_PER_M_TOKENS`, else a
    one-line ValueError naming ``name`` (and the value as ``typed``, when given)."""
    shown = f"{name}={typed}" if typed is not None else name
    if not usd_per_token.is_finite():
        raise ValueError(f"{shown} is not a finite price: give $ per 1M tokens, e.g. {name}=2.50")
    if usd_per_token < 0:
        raise ValueError(f"{shown} is negative: give $ per 1M tokens, e.g. {name}=2.50")
    if CTX.multiply(usd_per_token, _PER_M) > MAX_USD_PER_M_TOKENS:
        raise ValueError(f"{shown} is more than ${MAX_USD_PER_M_TOKENS:,} per 1M tokens, which no "
                         f"model costs: give $ per 1M tokens, e.g. {name}=2.50")
    return usd_per_token


class Price(NamedTuple):
    """USD per token for one model (one service tier, one context tier)."""

    input: Decimal
    output: Decimal
    cache_read: Decimal | None = None
    cache_write: Decimal | None = None
    cache_write_long: Decimal | None = None


class ModelPrice(NamedTuple):
    """Everything the table or the user says about one model's price."""

    model: str
    base: Price
    above: tuple[tuple[int, Price], ...] = ()  # (input tokens threshold, price), ascending
    tiers: Mapping[str, ModelPrice] | None = None  # "flex", "priority"
    source: str = "table"  # "table" or "user"


class CallTokens(NamedTuple):
    """A call's billable tokens, as the cost formula needs them (all parts of input are disjoint here)."""

    uncached_input: int
    cached: int
    cache_write: int
    cache_write_long: int
    output: int


class PriceBook:
    """The table plus the user's prices; thread-safe, loaded on first use."""

    def __init__(self, table_path: Path = TABLE_PATH) -> None:
        self._path = table_path
        self._lock = threading.Lock()
        self._table: dict[str, ModelPrice] | None = None
        self._aliases: dict[str, str] = {}
        self.meta: dict[str, Any] = {}
        self._user: dict[str, ModelPrice] = {}
        self._config_loaded = False
        #: (model, requested, service tier) -> (price, note, source): cleared when prices change
        self._resolved: dict[
            tuple[str, str | None, str | None], tuple[ModelPrice | None, str | None, str]
        ] = {}

    # -- loading -----------------------------------------------------------------
    def _load(self) -> dict[str, ModelPrice]:
        with self._lock:
            if self._table is None:
                data = json.loads(self._path.read_text(encoding="utf-8"), parse_float=Decimal)
                self.meta = data.get("_meta", {})
                table = {name: _model_price(name, row) for name, row in data["models"].items()}
                # "gemini-2.5-pro" finds "gemini/gemini-2.5-pro" (the OpenAI SDK pointed at
                # another provider sends the bare name), unless a bare entry exists
                for name in table:
                    bare = name.split("/", 1)[1] if "/" in name else None
                    if bare and bare not in table:
                        self._aliases.setdefault(bare, name)
                self._table = table
            table = self._table
        if not self._config_loaded:
            self._config_loaded = True
            self.load_config()
        return table

    @property
    def label(self) -> str:
        """Where the table's prices come from and when they were taken (shown with every cost)."""
        self._load()
        source = str(self.meta.get("source", "vendored table")).split(" wheel", 1)[0]
        return f"{source} prices of {self.meta.get('retrieved', '?')}"

    def load_config(self, path: str | os.PathLike[str] | None = None) -> int:
        """Read the user's price file (``path``, ``$NBPROFILE_LLM_PRICES`` or the Jupyter config
        dir); return how many models it priced. A bad file warns and prices nothing."""
        target = Path(path) if path is not None else _config_path()
        if target is None or not target.is_file():
            if path is not None:
                raise FileNotFoundError(f"no price file at {target}")
            return 0
        try:
            if target.suffix == ".json":
                data = json.loads(target.read_text(encoding="utf-8"))
            else:
                data = _read_toml(target)
            per = parse_per(str(data.get("per", "1M")))
            models = data.get("models", {})
            if not isinstance(models, dict):
                raise ValueError("[models] must be a table of MODEL = {input = ..., output = ...}")
            for model, prices in models.items():
                if not isinstance(prices, dict):
                    raise ValueError(f"models.{model} must be a table")
                unknown = set(prices) - set(PRICE_KEYS) - {"per"}
                if unknown:
                    raise ValueError(
                        f"models.{model}: unknown key {sorted(unknown)[0]!r} (use {', '.join(PRICE_KEYS)})"
                    )
                model_per = parse_per(str(prices["per"])) if "per" in prices else per
                parsed = {k: parse_price_value(k, v, model_per) for k, v in prices.items() if k != "per"}
                self.set(model, **parsed)
            return len(models)
        except (OSError, ValueError, TypeError) as exc:
            # one line, no source line under it: the call site is nbprofile's own loading code
            warnings.warn_explicit(f"nbprofile: ignoring LLM price file {target}: {exc}",
                                   NbprofileWarning, "<nbprofile>", 0, module="nbprofile")
            return 0

    # -- lookup ------------------------------------------------------------------
    def lookup(self, *names: str | None) -> ModelPrice | None:
        """The first of ``names`` that has a price (the response's model, then the requested one)."""
        table = self._load()
        present = [name for name in names if name]
        # the user's price for either name wins over the table's for any
        for name in present:
            if name in self._user:
                return self._user[name]
        for name in present:
            found = table.get(name)
            if found is None and name in self._aliases:
                found = table.get(self._aliases[name])
            if found is None and name.lower() != name:
                found = table.get(name.lower())
            if found is not None:
                return found
        return None

    def set(
        self,
        model: str,
        *,
        input: Decimal | None = None,
        output: Decimal | None = None,
        cached_input: Decimal | None = None,
        cache_write: Decimal | None = None,
    ) -> ModelPrice:
        """Set the user's price (USD per token) for ``model``; a known model keeps the table's
        prices for the parts not given, an unknown one needs input and output."""
        if not model:
            raise ValueError("a price needs a model name")
        # every way in (the magic, set_price, the price file) passes here: refuse before storing
        for name, value in (("input", input), ("output", output), ("cached_input", cached_input),
                            ("cache_write", cache_write)):
            if value is not None:
                check_price(name, value)
        self._load()
        old = self._user.get(model) or self.lookup(model)
        if old is None and (input is None or output is None):
            raise ValueError(f"{model} is not in the price table: give both input=... and output=...")
        base = old.base if old is not None else Price(Decimal(0), Decimal(0))
        new = Price(
            input if input is not None else base.input,
            output if output is not None else base.output,
            cached_input if cached_input is not None else base.cache_read,
            cache_write if cache_write is not None else base.cache_write,
            base.cache_write_long if cache_write is None else None,
        )
        # A user's price is flat: no context or service tiers the user did not state.
        price = ModelPrice(model, new, (), None, "user")
        with self._lock:
            self._user[model] = price
            self._resolved = {}
        return price

    def clear(self, model: str | None = None) -> None:
        """Forget the user's price for ``model`` (all of them with ``None``)."""
        with self._lock:
            if model is None:
                self._user.clear()
            else:
                self._user.pop(model, None)
            self._resolved = {}

    def user_prices(self) -> dict[str, ModelPrice]:
        return dict(self._user)

    # -- cost --------------------------------------------------------------------
    def cost(
        self, model: str, tokens: CallTokens, *, requested: str | None = None, service_tier: str | None = None
    ) -> tuple[Decimal | None, str | None, str]:
        """``(USD, note, source)`` of one call; USD is ``None`` (with the reason) for an unknown model."""
        key = (model, requested, service_tier)
        resolved = self._resolved.get(key)
        if resolved is None:  # once per model and tier: the call path then costs a dict lookup
            resolved = self._resolve(model, requested, service_tier)
            self._resolved[key] = resolved
        price, tier_note, source = resolved
        if price is None:
            return None, tier_note, ""
        notes = [tier_note] if tier_note else []
        p = price.base
        if price.above:
            total_in = tokens.uncached_input + tokens.cached + tokens.cache_write + tokens.cache_write_long
            for threshold, tier in price.above:
                if total_in > threshold:
                    p = _merge(p, tier)
        m, a = CTX.multiply, CTX.add
        usd = a(m(p.input, tokens.uncached_input), m(p.output, tokens.output))
        if tokens.cached:
            if p.cache_read is None:
                notes.append(f"no cache-read price for {price.model}; cached tokens priced as input")
            usd = a(usd, m(p.cache_read if p.cache_read is not None else p.input, tokens.cached))
        write = p.cache_write if p.cache_write is not None else p.input  # no surcharge listed
        if tokens.cache_write:
            usd = a(usd, m(write, tokens.cache_write))
        if tokens.cache_write_long:
            if p.cache_write_long is None:
                notes.append(
                    f"no long-retention cache-write price for {price.model}; priced as a cache write"
                )
            usd = a(
                usd,
                m(p.cache_write_long if p.cache_write_long is not None else write, tokens.cache_write_long),
            )
        return usd, "; ".join(notes) or None, source

    def _resolve(
        self, model: str, requested: str | None, service_tier: str | None
    ) -> tuple[ModelPrice | None, str | None, str]:
        price = self.lookup(model, requested)
        if price is None:
            name = requested or model
            return (
                None,
                f"unknown model {name}: set a price with %nbprofile price {name} input=... output=...",
                "",
            )
        note = None
        if service_tier in ("flex", "priority"):
            tiered = (price.tiers or {}).get(service_tier)
            if tiered is None:
                note = f"no {service_tier} price for {price.model}; priced at the standard rate"
            else:
                price = tiered
        return price, note, "user price" if price.source == "user" else self.label


def _merge(base: Price, tier: Price) -> Price:
    # a context tier lists only what changes; the base's input and output are never None
    return Price(*(t if t is not None else b for b, t in zip(base, tier)))  # type: ignore[arg-type]


def _price(row: Mapping[str, Any]) -> Price:
    def dec(key: str) -> Decimal | None:
        value = row.get(key)
        return None if value is None else Decimal(value)

    return Price(
        dec("input") or Decimal(0),
        dec("output") or Decimal(0),
        dec("cache_read"),
        dec("cache_write"),
        dec("cache_write_long"),
    )


def _partial(row: Mapping[str, Any]) -> Price:
    # a context tier lists only the fields that change: keep the gaps as None for _merge
    return Price(
        *(
            None if row.get(k) is None else Decimal(row[k])  # type: ignore[arg-type]
            for k in ("input", "output", "cache_read", "cache_write", "cache_write_long")
        )
    )


def _model_price(name: str, row: Mapping[str, Any]) -> ModelPrice:
    above = tuple(sorted((int(n), _partial(p)) for n, p in row.get("above", {}).items()))
    tiers = {t: _model_price(name, row[t]) for t in ("flex", "priority") if t in row}
    return ModelPrice(name, _price(row), above, tiers or None, "table")


def _config_path() -> Path | None:
    override = os.environ.get(CONFIG_ENV)
    if override:
        return Path(override).expanduser()
    from jupyter_core.paths import jupyter_config_dir

    base = Path(jupyter_config_dir()) / "nbprofile"
    for name in ("llm_prices.toml", "llm_prices.json"):
        if (base / name).is_file():
            return base / name
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - Python 3.10: the tomli backport (a dependency there)
        import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]
    with path.open("rb") as f:
        data: dict[str, Any] = tomllib.load(f)
    return data


#: the process's prices (table + user)
PRICES = PriceBook()
