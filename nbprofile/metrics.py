"""The catalog: every quantity nbprofile records, described once.

A :class:`Metric` says what a reading key means and how each part of nbprofile
treats it: its base unit, the label tables and charts give it, the budget key
that limits it, whether a run adds it up or takes its largest cell, how large a
change must be to count as a regression, whether reports and the panel show it
as a column, how the footer under a cell words it, and whether ``--enforce``
can watch it while the cell runs.

The budget grammar, the footer, compare, every report format, the CLI's
tables, ``docs/readings.md`` and the JupyterLab panel (through
``GET /nbprofile/api/metrics``) all read it from here. Adding a metric means
one entry below and the meter or deriver that produces its readings.

Per-device readings are families: ``gpu{i}_energy_j`` stands for
``gpu0_energy_j``, ``gpu1_energy_j``, ...
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any, Literal

Aggregate = Literal["sum", "max"]


@dataclass(frozen=True)
class Metric:
    """One reading key and everything nbprofile does with it (see the module docstring)."""

    key: str  #: the reading key (``wall_s``); ``{i}`` marks a per-device family
    unit: str  #: base unit of the value: s, B, J, g, USD, tokens, calls, FLOP, W, %, tokens/s, J/token, ""
    label: str  #: short name for column headers, charts and chips ("time", "peak RAM")
    description: str  #: one line: what the number is
    source: str  #: where it comes from (the docs' "from" column)
    budget: str | None = None  #: the budget key that limits it (``time`` in ``%%budget time<=30s``)
    aggregate: Aggregate = "sum"  #: a run's figure: the cells' sum, or the largest cell (peaks)
    #: compare: a change is a regression above +10% *and* above this amount; None: not compared
    regression_floor: float | None = None
    column: bool = False  #: a column of reports, the CLI's compare table and the panel
    footer: str | None = None  #: the footer's words for it, ``{}`` standing for the value
    footer_detail: bool = False  #: only in the full footer (``%nbprofile footer full``)
    footer_hide_zero: bool = False  #: a zero says nothing here (no LLM call, no child process)
    footer_estimate_from: float = 0.0  #: compact footer: an estimate below this is noise, not shown
    live: bool = False  #: ``%%budget --enforce`` watches it while the cell runs
    #: the LLM ledger's running total checked before each model call under ``--enforce``
    llm_guard: str | None = None

    @property
    def budget_label(self) -> str:
        """How verdicts name the limit: the budget key as the user wrote it (``gpu time``)."""
        return (self.budget or self.key).replace("_", " ")

    @property
    def family(self) -> bool:
        return "{i}" in self.key

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _m(key: str, unit: str, label: str, description: str, source: str, **kw: Any) -> Metric:
    return Metric(key, unit, label, description, source, **kw)


#: In display order: the footer and the report columns follow it.
CATALOG: tuple[Metric, ...] = (
    _m("wall_s", "s", "time", "wall-clock time of the cell", "perf_counter_ns",
       budget="time", regression_floor=0.010, column=True, footer="{} wall", live=True),
    _m("cpu_s", "s", "CPU", "CPU time (user + system) of the kernel process", "getrusage",
       budget="cpu", regression_floor=0.010, column=True, footer="{} CPU", live=True),
    _m("children_cpu_s", "s", "child CPU", "CPU time of child processes that exited during the cell",
       "getrusage(RUSAGE_CHILDREN)", footer="{} CPU in child processes", footer_hide_zero=True),
    _m("cpu_user_s", "s", "user CPU", "user-mode CPU time of the kernel process", "getrusage",
       footer="user {}", footer_detail=True),
    _m("cpu_sys_s", "s", "system CPU", "kernel-mode CPU time of the kernel process", "getrusage",
       footer="system {}", footer_detail=True),
    _m("rss_peak_bytes", "B", "peak RAM", "peak resident memory of the kernel during the cell",
       "clear_refs + VmHWM", budget="ram", aggregate="max", regression_floor=1024**2, column=True,
       footer="peak RAM {}", live=True),
    _m("rss_start_bytes", "B", "RAM before", "resident memory when the cell started", "statm"),
    _m("rss_end_bytes", "B", "RAM after", "resident memory when the cell ended", "statm",
       footer="RAM after {}", footer_detail=True),
    _m("gpu_time_s", "s", "GPU time", "wall span with CUDA synchronised at both edges", "torch",
       budget="gpu_time", regression_floor=0.010, column=True, footer="{} GPU"),
    _m("vram_peak_bytes", "B", "peak VRAM", "largest per-device peak GPU memory", "torch allocator, else NVML",
       budget="vram", aggregate="max", regression_floor=1024**2, column=True, footer="peak VRAM {}"),
    _m("gpu{i}_vram_peak_bytes", "B", "peak VRAM", "peak memory torch allocated on CUDA device i",
       "torch allocator", aggregate="max"),
    _m("gpu{i}_vram_reserved_peak_bytes", "B", "peak VRAM reserved",
       "peak memory torch's caching allocator reserved on CUDA device i", "torch allocator", aggregate="max"),
    _m("gpu{i}_mem_used_bytes", "B", "GPU memory used", "device memory in use at the cell's end (all processes)",
       "NVML", aggregate="max"),
    _m("gpu{i}_mem_used_peak_bytes", "B", "peak GPU memory used",
       "peak device memory in use during the cell (all processes)", "NVML", aggregate="max"),
    _m("gpu_energy_j", "J", "GPU energy", "GPU energy, summed over devices",
       "NVML energy counter (short cells: power x time, estimated)", budget="gpu_energy"),
    _m("gpu{i}_energy_j", "J", "GPU energy", "energy of GPU i", "NVML energy counter"),
    _m("gpu{i}_power_mean_w", "W", "GPU power", "mean power of GPU i", "NVML sample buffer", aggregate="max"),
    _m("gpu{i}_power_peak_w", "W", "peak GPU power", "peak power of GPU i", "NVML sample buffer",
       aggregate="max"),
    _m("gpu{i}_util_pct", "%", "GPU utilisation", "mean utilisation of GPU i", "NVML sample buffer",
       aggregate="max"),
    _m("cpu_energy_j", "J", "CPU energy", "CPU package energy", "RAPL, else CPU time x TDP (estimated)"),
    _m("dram_energy_j", "J", "DRAM energy", "DRAM energy", "RAPL"),
    _m("energy_j", "J", "energy", "total energy: the GPU, CPU and DRAM parts obtained", "derived",
       budget="energy", regression_floor=1.0, column=True, footer="{}", footer_estimate_from=36.0),
    _m("co2_g", "g", "CO2e", "emissions: kWh x PUE x grid intensity", "derived",
       budget="co2", regression_floor=0.01, column=True, footer="{}", footer_estimate_from=0.01),
    _m("flops", "FLOP", "FLOPs", "matmul, convolution and attention FLOPs (opt-in)", "torch FlopCounterMode"),
    _m("mfu_fraction", "", "MFU", "model FLOPs utilisation: FLOPs / (time x peak x GPUs)", "derived",
       aggregate="max"),
    _m("llm_tokens", "tokens", "tokens", "LLM tokens the APIs reported, input + output", "SDK hooks",
       budget="tokens", regression_floor=10, column=True, footer="{} tokens", footer_hide_zero=True,
       llm_guard="llm_tokens"),
    _m("llm_input_tokens", "tokens", "input tokens", "LLM input tokens", "SDK hooks",
       budget="input_tokens", llm_guard="llm_input_tokens"),
    _m("llm_output_tokens", "tokens", "output tokens", "LLM output tokens", "SDK hooks",
       budget="output_tokens", llm_guard="llm_output_tokens"),
    _m("llm_cached_tokens", "tokens", "cached tokens", "input tokens read from the provider's cache",
       "SDK hooks"),
    _m("llm_cache_write_tokens", "tokens", "cache-write tokens", "input tokens written to the provider's cache",
       "SDK hooks"),
    _m("llm_reasoning_tokens", "tokens", "reasoning tokens", "output tokens spent on reasoning", "SDK hooks"),
    _m("llm_calls", "calls", "LLM calls", "calls to LLM APIs", "SDK hooks"),
    _m("llm_cost_usd", "USD", "LLM cost", "dollars of the LLM calls (dated price table)", "SDK hooks",
       budget="llm_cost", llm_guard="llm_cost_usd"),
    _m("compute_cost_usd", "USD", "compute cost", "GPU-hours and electricity in dollars", "derived"),
    _m("cost_usd", "USD", "cost", "compute + LLM dollars", "derived", budget="cost", regression_floor=0.0001,
       column=True, footer="{}", footer_hide_zero=True, footer_estimate_from=0.0001, llm_guard="llm_cost_usd"),
    _m("local_input_tokens", "tokens", "local input tokens", "prompt tokens of Hugging Face generate()",
       "transformers hook"),
    _m("local_output_tokens", "tokens", "local output tokens", "tokens generate() produced", "transformers hook"),
    _m("local_generate_calls", "calls", "generate() calls", "calls to Hugging Face generate()",
       "transformers hook"),
    _m("local_generate_s", "s", "generate() time", "time spent in generate()", "transformers hook"),
    _m("local_tokens_per_s", "tokens/s", "tokens/s", "generated tokens per second of generate()",
       "transformers hook", aggregate="max"),
    _m("local_j_per_token", "J/token", "J/token", "energy per generated token", "derived", aggregate="max"),
)

_BY_KEY: dict[str, Metric] = {m.key: m for m in CATALOG if not m.family}
_FAMILIES: tuple[tuple[re.Pattern[str], Metric], ...] = tuple(
    (re.compile(re.escape(m.key).replace(re.escape("{i}"), r"\d+") + "$"), m) for m in CATALOG if m.family)
BUDGET_KEYS: dict[str, Metric] = {m.budget: m for m in CATALOG if m.budget is not None}
COLUMNS: tuple[Metric, ...] = tuple(m for m in CATALOG if m.column)
COMPARED: tuple[Metric, ...] = tuple(m for m in CATALOG if m.regression_floor is not None)
#: the share of a change that makes a regression (with the metric's floor)
REGRESSION_FRACTION = 0.10


def metric(key: str) -> Metric | None:
    """The catalog entry of a reading key (``gpu3_energy_j`` finds its family), or None."""
    found = _BY_KEY.get(key)
    if found is not None:
        return found
    for pattern, entry in _FAMILIES:
        if pattern.match(key):
            return entry
    return None


def unit_of(key: str) -> str:
    """The base unit of a reading key; a key the catalog does not know has none."""
    found = metric(key)
    return found.unit if found is not None else ""


def label_of(key: str) -> str:
    found = metric(key)
    return found.label if found is not None else key


def is_peak(key: str) -> bool:
    """Peaks do not add up: a run's peak RAM is its largest cell's, not the sum."""
    found = metric(key)
    return found is not None and found.aggregate == "max"
