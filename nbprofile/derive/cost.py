"""Dollars: compute (GPU-hours and electricity) and the total with LLM calls.

``compute_cost_usd`` = GPU-hours x $/GPU-hour + kWh x $/kWh, where GPU-hours =
``wall_s`` x GPUs in use, charged only when a GPU was in use (``gpu_time_s``
available: torch had CUDA up). A rented GPU's hourly price already pays for its
machine's electricity, so by default the kWh term is charged only when no GPU is
(the laptop or workstation case); ``energy_in_gpu_price=False`` charges both
(owned hardware, where the GPU-hour price is the amortised purchase).

Every price is labelled ``default`` or ``user`` in the reading's note and source;
a figure built on a default price is ``estimated``. Prices are set with
``%nbprofile compute-price gpu_hour=2.5 kwh=0.30 gpu:H100=2.1`` (:func:`parse_price_args`)
or ``NBPROFILE_GPU_HOUR_USD`` / ``NBPROFILE_KWH_USD``.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Literal, NamedTuple

from nbprofile.derive.energy import J_PER_KWH
from nbprofile.derive.gpus import gpus_in_use
from nbprofile.derive.mig import is_mig, mig_slice
from nbprofile.derive.needs import needs, reason
from nbprofile.meters.torch_cuda import cuda_device_name
from nbprofile.readings import Deriver, Method, Reading, Readings, weakest

GPU_HOUR_ENV = "NBPROFILE_GPU_HOUR_USD"
KWH_ENV = "NBPROFILE_KWH_USD"
USAGE = "%nbprofile compute-price gpu_hour=<$/GPU-hour> gpu:<model>=<$/GPU-hour> kwh=<$/kWh> energy_in_gpu_price=yes|no"

# Default on-demand prices, $/GPU-hour, single GPU, late 2026. Rounded from public on-demand list
# prices of GPU clouds and hyperscalers seen 2025-2026 (Lambda, RunPod, CoreWeave; AWS p5 after its
# June 2025 cut; GCP/Azure list prices): providers differ by 2-3x, so these are a ballpark, always
# labelled "default". First match on the device name (torch.cuda.get_device_name) wins; (?<!G) keeps
# the superchips off their GPU's entry (GB200 is rented by the NVL72 rack: its per-GPU share, ballpark).
# A MIG slice's default price is its share of the whole GPU's (nbprofile.derive.mig).
DEFAULT_GPU_HOUR_USD: tuple[tuple[str, str, float], ...] = (
    (r"GB200", "GB200", 6.50),
    (r"(?<!G)B200", "B200", 5.50),
    (r"GH200", "GH200", 3.20),
    (r"(?<!G)H200", "H200", 3.80),
    (r"H100|H800", "H100", 3.00),
    (r"A100.*80\s*GB", "A100 80GB", 1.80),
    (r"A100|A800", "A100 40GB", 1.40),
    (r"MI300X", "MI300X", 2.80),
    (r"L40S", "L40S", 1.00),
    (r"\bL40\b", "L40", 1.00),
    (r"\bL4\b", "L4", 0.70),
    (r"A10G|\bA10\b", "A10/A10G", 1.00),
    (r"V100", "V100", 1.00),
    (r"\bT4\b", "T4", 0.40),
)
#: a GPU none of the patterns know, or whose name nobody passed
GENERIC_GPU_HOUR_USD = 2.00
# Electricity, $/kWh: between the US commercial average (~$0.13, EIA 2025) and the EU non-household
# average (~$0.20, Eurostat 2025). Set your tariff.
DEFAULT_KWH_USD = 0.15
#: the highest prices accepted: far above any real one, and low enough that hours x GPUs x price
#: (or kWh x price) stays a finite float for any window
MAX_GPU_HOUR_USD = 100_000.0
MAX_KWH_USD = 1_000.0

_DEFAULT_PATTERNS = tuple((re.compile(p, re.IGNORECASE), label, usd) for p, label, usd in DEFAULT_GPU_HOUR_USD)


class Price(NamedTuple):
    usd: float
    origin: Literal["default", "user"]
    what: str  # "H100", "generic GPU (model unknown)", "electricity"


@dataclass(frozen=True)
class ComputePrices:
    """Prices in use. ``gpu_hour_usd``: the user's ``(pattern, $/h)`` pairs, tried before the
    defaults (pattern ``*`` = every GPU); ``kwh_usd`` None = the default."""

    gpu_hour_usd: tuple[tuple[str, float], ...] = ()
    kwh_usd: float | None = None
    energy_in_gpu_price: bool = True
    _compiled: tuple[tuple[re.Pattern[str], str, float], ...] = field(default=(), repr=False, compare=False)

    def __post_init__(self) -> None:
        compiled = tuple((re.compile(".*" if p == "*" else re.escape(p), re.IGNORECASE), p, usd)
                         for p, usd in self.gpu_hour_usd)
        object.__setattr__(self, "_compiled", compiled)

    def gpu_price(self, name: str | None) -> Price:
        # a model the user priced wins over their every-GPU price, which wins over the defaults
        for pattern, label, usd in sorted(self._compiled, key=lambda e: e[1] == "*"):
            if label == "*" or (name is not None and pattern.search(name)):
                return Price(usd, "user", name or "GPU (model unknown)")
        if name is not None and is_mig(name):
            return _mig_price(name)
        if name is not None:
            for regex, label, usd in _DEFAULT_PATTERNS:
                if regex.search(name):
                    return Price(usd, "default", label)
        return Price(GENERIC_GPU_HOUR_USD, "default", f"generic GPU ({name or 'model unknown'})")

    def kwh_price(self) -> Price:
        if self.kwh_usd is not None:
            return Price(self.kwh_usd, "user", "electricity")
        return Price(DEFAULT_KWH_USD, "default", "electricity")

    def describe(self) -> str:
        """One line for people (``%nbprofile compute-price``, the doctor), in place of the repr."""
        gpus = ", ".join(f"${usd:g}/GPU-hour for {'every GPU' if p == '*' else p} (yours)"
                         for p, usd in sorted(self.gpu_hour_usd, key=lambda e: e[0] == "*"))
        kwh = self.kwh_price()
        energy = ("a GPU's hourly price includes its electricity" if self.energy_in_gpu_price
                  else "electricity is charged on top of GPU-hours")
        return (f"GPU {gpus or 'default $/GPU-hour by model'}; electricity ${kwh.usd:g}/kWh "
                f"({'yours' if kwh.origin == 'user' else 'default'}); {energy}")

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> ComputePrices:
        """From ``NBPROFILE_GPU_HOUR_USD`` (every GPU) and ``NBPROFILE_KWH_USD``; ValueError names a bad one."""
        env = os.environ if environ is None else environ
        args = [f"{key}={env[var]}" for key, var in (("gpu_hour", GPU_HOUR_ENV), ("kwh", KWH_ENV)) if env.get(var)]
        try:
            return parse_price_args(args, cls())
        except ValueError as exc:
            raise ValueError(f"{exc} (from the environment: {GPU_HOUR_ENV}, {KWH_ENV})") from None


def _mig_price(name: str) -> Price:
    """A MIG slice's share of its whole GPU's default price (the generic price's share if unlisted)."""
    part = mig_slice(name)
    if part is None:  # a profile we cannot read: charge the generic GPU-hour, and say why
        return Price(GENERIC_GPU_HOUR_USD, "default", f"generic GPU ({name}: MIG slice of unknown size)")
    whole = ComputePrices().gpu_price(part.gpu)
    return Price(whole.usd * part.fraction, "default", f"{whole.what} {part.label}")


def parse_price_args(args: list[str], current: ComputePrices) -> ComputePrices:
    """``["gpu_hour=2.5", "gpu:H100=2.1", "kwh=0.3", "energy_in_gpu_price=no"]`` applied to ``current``;
    ``kwh=default`` and ``gpu_hour=default`` go back to the defaults. One-line ValueError otherwise."""
    prices = current
    for arg in args:
        key, sep, value = arg.partition("=")
        key, value = key.strip(), value.strip()
        if not sep or not value:
            raise ValueError(f"expected key=value, got {arg!r}: {USAGE}")
        if key == "energy_in_gpu_price":
            if value.lower() not in ("yes", "no", "true", "false", "on", "off"):
                raise ValueError(f"energy_in_gpu_price={value}: use yes or no")
            prices = replace(prices, energy_in_gpu_price=value.lower() in ("yes", "true", "on"))
            continue
        if key == "kwh":
            kwh = None if value.lower() == "default" else _price(value, key, "0.30", MAX_KWH_USD)
            prices = replace(prices, kwh_usd=kwh)
            continue
        if key == "gpu_hour":
            pattern = "*"
        elif key.startswith("gpu:") and key[4:].strip():
            pattern = key[4:].strip()
        else:
            raise ValueError(f"unknown price {key!r}: {USAGE}")
        kept = tuple(e for e in prices.gpu_hour_usd if e[0] != pattern)
        if value.lower() != "default":
            kept += ((pattern, _price(value, key, "2.5", MAX_GPU_HOUR_USD)),)
        prices = replace(prices, gpu_hour_usd=kept)
    return prices


def _price(value: str, key: str, example: str, highest: float) -> float:
    try:
        usd = float(value.lstrip("$"))
    except ValueError:
        raise ValueError(f"{key}={value} is not a price: dollars, e.g. {key}={example}") from None
    if not math.isfinite(usd) or usd < 0:
        raise ValueError(f"{key}={value}: a price is a finite number >= 0, e.g. {key}={example}")
    if usd > highest:
        raise ValueError(f"{key}={value}: more than ${highest:,.0f}, which no one charges; "
                         f"give dollars, e.g. {key}={example}")
    return usd


def derive_compute_cost(prices: ComputePrices,
                        gpu_name: str | Callable[[], str | None] | None = cuda_device_name) -> Deriver:
    """A deriver of ``compute_cost_usd`` (see the module docstring). ``gpu_name``: the GPU's
    model name, or a function asked for it at the first window that used a GPU."""
    resolved: list[str] = [gpu_name] if isinstance(gpu_name, str) else []
    cache: dict[str | None, Price] = {}

    def name() -> str | None:
        if not resolved and callable(gpu_name):
            found = gpu_name()
            if found:
                resolved.append(found)  # a device's name does not change: ask once it is known
        return resolved[0] if resolved else None

    def derive_compute_cost(readings: Readings) -> Readings:
        gpu_time, wall, energy = readings.get("gpu_time_s"), readings.get("wall_s"), readings.get("energy_j")
        gpu_used = gpu_time is not None and gpu_time.value is not None
        total = 0.0
        methods: list[Method] = []
        notes: list[str] = []
        origins: set[str] = set()
        if gpu_used:
            if wall is None or wall.value is None:
                return {"compute_cost_usd": Reading.unavailable("USD", needs("wall_s", wall, "no wall_s reading"))}
            gpu = name()
            price = cache.get(gpu) or cache.setdefault(gpu, prices.gpu_price(gpu))  # patterns: once per name
            n = gpus_in_use(readings)
            total += wall.value / 3600 * n * price.usd
            methods.append(wall.method)
            origins.add(price.origin)
            notes.append(f"{n} x {price.what} at ${price.usd:g}/GPU-h ({price.origin})")
        if gpu_used and prices.energy_in_gpu_price:
            notes.append("electricity included in the GPU-hour price")
        elif energy is not None and energy.value is not None:
            kwh = prices.kwh_price()
            total += energy.value / J_PER_KWH * kwh.usd
            methods.append(energy.method)
            origins.add(kwh.origin)
            notes.append(f"{energy.method} energy at ${kwh.usd:g}/kWh ({kwh.origin})")
        elif gpu_used:
            notes.append(f"electricity not charged: {reason(energy, 'no energy_j reading')}")
        else:
            # no GPU-hours to charge, so the electricity is the whole cost: its reason first, then the GPU's
            return {"compute_cost_usd": Reading.unavailable("USD", (
                f"{needs('energy_j', energy, 'no energy_j reading')}; "
                f"no GPU in use ({reason(gpu_time, 'no GPU meter')})"))}
        method = weakest(*methods, "estimated" if "default" in origins else "measured")
        source = "+".join(sorted(origins)) + " prices"
        return {"compute_cost_usd": Reading(total, "USD", method, source, "; ".join(notes))}

    return derive_compute_cost


def derive_cost(readings: Readings) -> Readings:
    """``cost_usd`` = compute_cost_usd + llm_cost_usd, of whichever are available.

    An unavailable part is never counted as 0: with one part the note says which,
    with none the total is unavailable with both reasons, each once (see :mod:`.needs`).
    """
    compute, llm = readings.get("compute_cost_usd"), readings.get("llm_cost_usd")
    c, m = _part(compute), _part(llm)
    if c and m:
        return {"cost_usd": Reading(c[0] + m[0], "USD", weakest(c[1], m[1]), "compute+LLM")}
    why_compute = needs("compute_cost_usd", compute, "no compute cost")
    why_llm = needs("llm_cost_usd", llm, "no LLM meter")
    if c:
        return {"cost_usd": Reading(c[0], "USD", c[1], "compute", f"compute only; without LLM ({why_llm})")}
    if m:
        return {"cost_usd": Reading(m[0], "USD", m[1], "LLM", f"LLM only; without compute ({why_compute})")}
    return {"cost_usd": Reading.unavailable("USD", f"{why_compute}; {why_llm}")}


def _part(reading: Reading | None) -> tuple[float, Method] | None:
    return (reading.value, reading.method) if reading is not None and reading.value is not None else None
