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
from typing import Any, Iterator, Literal

from nbprofile.readings import COUNT

Aggregate = Literal["sum", "max"]
#: when the footer leaves out a zero: never, in the compact footer only, or always
Zero = Literal["shown", "full only", "hidden"]


@dataclass(frozen=True)
class Metric:
    """One reading key and everything nbprofile does with it (see the module docstring)."""

    key: str  #: the reading key (``wall_s``); ``{i}`` marks a per-device family
    #: base unit of the value: s, B, J, g, USD, tokens, calls, FLOP, W, %, tokens/s, J/token, "",
    #: or COUNT for a count of things (tasks, workers), shown whole as "1,234": the footer's words
    #: name the things ("{} tasks"); tokens, FLOPs and calls are counts with units of their own
    unit: str
    label: str  #: short name for column headers, charts and chips ("time", "peak RAM")
    description: str  #: one line: what the number is
    source: str  #: where it comes from (the docs' "from" column)
    budget: str | None = None  #: the budget key that limits it (``time`` in ``%%budget time<=30s``)
    aggregate: Aggregate = "sum"  #: a run's figure: the cells' sum, or the largest cell (peaks)
    #: compare: a change is a regression above +10% *and* above this amount; None: not compared
    regression_floor: float | None = None
    column: bool = False  #: a column of reports, the CLI's compare table and the panel
    footer: str | None = None  #: the footer's words for it, ``{}`` standing for the value
    footer_one: str | None = None  #: its words for exactly one of a count (``{} task``, not ``{} tasks``)
    footer_detail: bool = False  #: only in the full footer (``%nbprofile footer full``)
    footer_zero: Zero = "shown"  #: a zero that says nothing (no LLM call, no child process) is left out
    footer_missing: bool = False  #: the compact footer says ``n/a`` when it has no value (else only the full one)
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


_METRICS: tuple[Metric, ...] = (
    _m("wall_s", "s", "time", "wall-clock time of the cell", "perf_counter_ns",
       budget="time", regression_floor=0.010, column=True, footer="{} wall", footer_missing=True, live=True),
    _m("cpu_s", "s", "CPU", "CPU time (user + system) of the kernel process, less nbprofile's own threads'",
       "getrusage - nbprofile's threads",
       budget="cpu", regression_floor=0.010, column=True, footer="{} CPU", footer_missing=True, live=True),
    _m("children_cpu_s", "s", "child CPU", "CPU time of child processes that exited during the cell",
       "getrusage(RUSAGE_CHILDREN)", footer="{} CPU in child processes", footer_zero="hidden"),
    _m("cpu_user_s", "s", "user CPU", "user-mode CPU time of the kernel process (as cpu_s)", "getrusage",
       footer="user {}", footer_detail=True),
    _m("cpu_sys_s", "s", "system CPU", "kernel-mode CPU time of the kernel process (as cpu_s)", "getrusage",
       footer="system {}", footer_detail=True),
    _m("profiler_cpu_s", "s", "nbprofile CPU",
       "CPU time nbprofile's own threads spent during the cell (polls, samples, the store's writer), "
       "left out of cpu_s", "getrusage(RUSAGE_THREAD)", footer="nbprofile {} CPU", footer_detail=True,
       footer_zero="hidden"),
    # a Dask cluster's workers, when the kernel has a distributed.Client (meters/dask): totals over the
    # workers present at both edges of the cell, then each worker's own (numbered by address)
    _m("cluster_cpu_s", "s", "cluster CPU",
       "CPU time of the Dask workers outside their event loops (the tasks and their threads), summed",
       "client.run: process_time - event loop's thread_time", budget="cluster_cpu", regression_floor=0.1,
       footer="cluster {} CPU", footer_missing=True),
    _m("cluster_process_cpu_s", "s", "cluster process CPU",
       "CPU time of the Dask workers' whole processes: the tasks and dask's own event loop, summed",
       "client.run: process_time", footer="cluster processes {} CPU", footer_detail=True),
    _m("cluster_workers", COUNT, "workers", "Dask workers measured: those present at both edges of the cell",
       "client.run", aggregate="max"),
    _m("cluster_rss_peak_bytes", "B", "cluster peak RAM",
       "the Dask workers' peak resident memory, summed over workers (their peaks need not coincide)",
       "client.run: clear_refs + VmHWM on each worker", aggregate="max", regression_floor=1024**2,
       footer="cluster peak RAM {}", footer_detail=True),
    _m("cluster_rss_rise_bytes", "B", "cluster RAM rise",
       "how far the workers' peaks rose above their memory at the cell's start, summed",
       "cluster peak RAM - RAM before", aggregate="max"),
    _m("cluster_tasks", COUNT, "cluster tasks", "tasks the Dask workers finished executing",
       "client.run: worker.state.executed_count", footer="{} tasks", footer_one="{} task",
       footer_detail=True),
    _m("cluster_sent_bytes", "B", "cluster data sent",
       "results the workers sent to other workers and to the client (dask's sizeof)",
       "client.run: worker.transfer_outgoing_bytes_total", footer="{} sent by workers", footer_detail=True),
    _m("cluster_gpu_energy_j", "J", "cluster GPU energy",
       "energy of the GPUs the Dask workers see, each device once (every process on it)",
       "client.run: NVML energy counter", footer="cluster GPU {}", footer_detail=True),
    _m("cluster_gpu_busy_s", "s", "cluster GPU busy",
       "time the GPUs the Dask workers see were running work (utilisation x time), each device once",
       "client.run: NVML utilisation samples", footer="cluster GPU busy {}", footer_detail=True),
    _m("worker{i}_cpu_s", "s", "worker CPU",
       "CPU time of Dask worker i outside its event loop (its address in the note)",
       "client.run: process_time - event loop's thread_time"),
    _m("worker{i}_process_cpu_s", "s", "worker process CPU", "CPU time of Dask worker i's whole process",
       "client.run: process_time"),
    _m("worker{i}_rss_peak_bytes", "B", "worker peak RAM", "peak resident memory of Dask worker i",
       "client.run: clear_refs + VmHWM", aggregate="max"),
    _m("worker{i}_rss_rise_bytes", "B", "worker RAM rise",
       "how far Dask worker i's peak rose above its start", "worker peak RAM - RAM before", aggregate="max"),
    _m("worker{i}_tasks", COUNT, "worker tasks", "tasks Dask worker i finished executing",
       "client.run: worker.state.executed_count"),
    _m("worker{i}_sent_bytes", "B", "worker data sent", "results Dask worker i sent (dask's sizeof)",
       "client.run: worker.transfer_outgoing_bytes_total"),
    _m("rss_peak_bytes", "B", "peak RAM", "peak resident memory of the kernel during the cell",
       "clear_refs + VmHWM", budget="ram", aggregate="max", regression_floor=1024**2, column=True,
       footer="peak RAM {}", footer_missing=True, live=True),
    # the peak's rise above the cell's start: what the cell itself added, whatever earlier cells hold
    _m("rss_rise_bytes", "B", "RAM rise", "how far the peak rose above the resident memory at the cell's start",
       "peak RAM - RAM before", budget="ram_rise", aggregate="max", live=True),
    _m("rss_start_bytes", "B", "RAM before", "resident memory when the cell started", "statm", aggregate="max"),
    _m("rss_end_bytes", "B", "RAM after", "resident memory when the cell ended", "statm", aggregate="max",
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
    _m("gpu_energy_j", "J", "GPU energy",
       "GPU energy of the GPUs this process uses (every visible GPU when that is not known)",
       "NVML energy counter (short cells: power x time, estimated)", budget="gpu_energy"),
    _m("gpu{i}_energy_j", "J", "GPU energy", "energy of GPU i", "NVML energy counter"),
    _m("gpu{i}_power_mean_w", "W", "GPU power", "mean power of GPU i", "NVML sample buffer", aggregate="max"),
    _m("gpu{i}_power_peak_w", "W", "peak GPU power", "peak power of GPU i", "NVML sample buffer",
       aggregate="max"),
    _m("gpu{i}_util_pct", "%", "GPU utilisation", "mean utilisation of GPU i", "NVML sample buffer",
       aggregate="max"),
    _m("gpu_energy_other_j", "J", "other GPUs' energy",
       "energy of the visible GPUs this process did not use (idle, or other users' work)",
       "NVML energy counter"),
    _m("gpu{i}_mem_reserved_bytes", "B", "GPU memory reserved", "device memory the driver reserves on GPU i",
       "NVML memory info v2", aggregate="max"),
    _m("gpu{i}_sm_active_pct", "%", "SM activity", "share of GPU i's SMs busy over the cell",
       "NVML GPM (Hopper and newer)", aggregate="max"),
    _m("gpu{i}_tensor_active_pct", "%", "tensor-core activity",
       "share of the cell GPU i's SMs spent on tensor-core instructions", "NVML GPM (Hopper and newer)",
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
       budget="tokens", regression_floor=10, column=True, footer="{} tokens", footer_one="{} token",
       footer_zero="full only", llm_guard="llm_tokens"),
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
       column=True, footer="{}", footer_zero="full only", footer_estimate_from=0.0001, llm_guard="llm_cost_usd"),
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


class Catalog:
    """The metrics, in display order (the footer and the report columns follow it), with the
    views every part of nbprofile reads: by budget key, the columns, the compared metrics.

    One instance, :data:`CATALOG`. :meth:`add` is how a new reading joins it (a meter of your
    own, a test's fake metric); every view is read from here at the time of use.
    """

    def __init__(self, metrics: tuple[Metric, ...]) -> None:
        self._metrics: tuple[Metric, ...] = ()
        self._by_key: dict[str, Metric] = {}
        self._families: tuple[tuple[re.Pattern[str], Metric], ...] = ()
        self.budget_keys: dict[str, Metric] = {}
        self.columns: tuple[Metric, ...] = ()
        self.compared: tuple[Metric, ...] = ()
        self.footer: tuple[Metric, ...] = ()
        self._index(metrics)

    def _index(self, metrics: tuple[Metric, ...]) -> None:
        keys = [m.key for m in metrics]
        budgets = [m.budget for m in metrics if m.budget is not None]
        for name, values in (("reading key", keys), ("budget key", budgets)):
            repeated = sorted({v for v in values if values.count(v) > 1})
            if repeated:
                raise ValueError(f"the metric catalog has the {name} {repeated[0]!r} twice")
        self._metrics = metrics
        self._by_key = {m.key: m for m in metrics if not m.family}
        self._families = tuple((re.compile(re.escape(m.key).replace(re.escape("{i}"), r"\d+") + "$"), m)
                               for m in metrics if m.family)
        self.budget_keys = {m.budget: m for m in metrics if m.budget is not None}
        self.columns = tuple(m for m in metrics if m.column)
        self.compared = tuple(m for m in metrics if m.regression_floor is not None)
        self.footer = tuple(m for m in metrics if m.footer)

    def __iter__(self) -> Iterator[Metric]:
        return iter(self._metrics)

    def __len__(self) -> int:
        return len(self._metrics)

    def add(self, metric: Metric) -> None:
        """A new metric, after the others; its key and budget key must be new."""
        self._index((*self._metrics, metric))

    def remove(self, key: str) -> None:
        self._index(tuple(m for m in self._metrics if m.key != key))

    def get(self, key: str) -> Metric | None:
        """The entry of a reading key (``gpu3_energy_j`` finds its family), or None."""
        found = self._by_key.get(key)
        if found is not None:
            return found
        for pattern, entry in self._families:
            if pattern.match(key):
                return entry
        return None


CATALOG = Catalog(_METRICS)
#: the share of a change that makes a regression (with the metric's floor)
REGRESSION_FRACTION = 0.10


def metric(key: str) -> Metric | None:
    """The catalog entry of a reading key, or None."""
    return CATALOG.get(key)


def unit_of(key: str) -> str:
    """The base unit of a reading key; a key the catalog does not know has none."""
    found = CATALOG.get(key)
    return found.unit if found is not None else ""


def label_of(key: str) -> str:
    found = CATALOG.get(key)
    return found.label if found is not None else key


def is_peak(key: str) -> bool:
    """Peaks do not add up: a run's peak RAM is its largest cell's, not the sum."""
    found = CATALOG.get(key)
    return found is not None and found.aggregate == "max"
