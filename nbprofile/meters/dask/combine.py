"""A cell's cluster readings from what the workers answered at its two edges.

Pure: the meter hands over the two answers (:class:`Edge`: each worker's probe result, by
address; the end's holds what changed on that worker since the begin) and gets readings back.
Only workers that opened and closed the window, in the same process, are measured. A worker
that joined during the cell is left out (it had no start to count from); one that left,
restarted, or could not be read at either edge took its numbers with it, so the totals it
would have added to are unavailable, with the part that is known in the note, never a
partial sum presented as the whole.

The cluster's CPU time is what the workers' processes used outside their event loops: the
tasks and the threads they start (BLAS, offloaded deserialisation). The event loop's own share
(dask's scheduling, heartbeats, monitoring, communication, about 3 % of a core per idle worker
here, so proportional to the cell's wall time rather than to its work) is in the processes'
total, ``cluster_process_cpu_s``, only.

Workers that run inside the kernel's process, or several in one process (``processes=False``),
have no CPU time or memory of their own to report: those readings are unavailable and say so
(the kernel's own ``cpu_s`` and ``rss_peak_bytes`` hold them); tasks and data still count.

Per-worker readings (``worker{i}_...``) number the measured workers by address; the address
is in the note of each ``worker{i}_cpu_s``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from nbprofile.format import counted
from nbprofile.readings import COUNT, Method, Reading, Readings, weakest

#: workers with their own readings; a larger cluster gets totals, and these first ones
PER_WORKER_KEPT = 64
TOTAL_KEYS = ("cluster_cpu_s", "cluster_process_cpu_s", "cluster_workers", "cluster_rss_peak_bytes",
              "cluster_rss_rise_bytes", "cluster_tasks", "cluster_sent_bytes")
GPU_KEY = "cluster_gpu_energy_j"
BUSY_KEY = "cluster_gpu_busy_s"
#: a worker with GPUs on the kernel's machine: the kernel's GPU readings (each the whole device's) may hold
#: the same devices, so the two are not to be added (energy_j holds the kernel's alone)
SAME_MACHINE = "on the kernel's machine: the kernel's GPU readings may hold the same devices"
_UNITS = {"cluster_cpu_s": "s", "cluster_process_cpu_s": "s", "cluster_workers": COUNT,
          "cluster_rss_peak_bytes": "B", "cluster_rss_rise_bytes": "B", "cluster_tasks": COUNT,
          "cluster_sent_bytes": "B", GPU_KEY: "J", BUSY_KEY: "s"}
CPU_SOURCE = "client.run: process_time - event loop's thread_time"
PROCESS_CPU_SOURCE = "client.run: process_time"
PEAK_SOURCE = "client.run: clear_refs+VmHWM"
TASKS_SOURCE = "client.run: worker.state.executed_count"
SENT_SOURCE = "client.run: worker.transfer_outgoing_bytes_total"
SENT_NOTE = "dask's sizes (sizeof) of the results the workers sent to other workers and to the client"
GPU_SOURCE = "client.run: NVML energy counter"
BUSY_SOURCE = "client.run: NVML utilisation samples"


@dataclass
class Edge:
    """What the workers answered at one edge of a window."""

    answers: dict[str, dict[str, Any]]  #: worker address -> what :func:`.probe.worker_probe` returned
    failed: dict[str, str] = field(default_factory=dict)  #: worker address -> why it gave no answer
    #: workers listed at this edge but not asked (they joined after the start, which they never got)
    joined: list[str] = field(default_factory=list)


def unavailable(reason: str, gpu: bool = False) -> Readings:
    """Every total unavailable for one reason (the client closed, the workers did not answer)."""
    keys = (*TOTAL_KEYS, GPU_KEY, BUSY_KEY) if gpu else TOTAL_KEYS
    return {k: Reading.unavailable(_UNITS[k], reason, "client.run") for k in keys}


def _peak(end: dict[str, Any]) -> Reading:
    """One worker's peak RSS over the window: exact where the worker could reset its mark."""
    rss_end = end.get("rss")
    if "peak" in end or "peak_error" in end:
        if end.get("peak") is None:
            why = end.get("peak_error") or "the worker returned no peak"
            return Reading.unavailable("B", why, PEAK_SOURCE)
        return Reading(max(end["peak"], rss_end or 0), "B", "measured", PEAK_SOURCE)
    reason = end.get("reset_error") or "the worker returned no peak"
    lifetime_start, lifetime_end = end.get("lifetime_start"), end.get("lifetime_end")
    if lifetime_start is not None and lifetime_end is not None and lifetime_end > lifetime_start:
        return Reading(lifetime_end, "B", "measured", "client.run: VmHWM or ru_maxrss",
                       "the worker's lifetime peak rose during the cell")
    edges = [v for v in (end.get("rss_start"), rss_end) if v is not None]
    if not edges:
        return Reading.unavailable("B", f"{reason}, and no way to read the worker's RSS", "client.run")
    return Reading(max(edges), "B", "estimated", "client.run: RSS at the edges",
                   f"{reason}: the larger RSS at the cell's edges; a peak between them is missed")


def _count(value: float | None, unit: str, source: str, method: Method = "measured",
           note: str | None = None) -> Reading:
    if value is None:
        return Reading.unavailable(unit, "this version of distributed does not expose it", source)
    return Reading(value, unit, method, source, note)


def _total(parts: list[Reading], unit: str, source: str, left: str | None) -> Reading:
    """The sum over the measured workers; unavailable when a worker's part is, or one left."""
    missing = next((p for p in parts if p.value is None), None)
    if missing is not None:
        return Reading.unavailable(unit, missing.note or "a worker's reading is missing", source)
    known = sum(p.value for p in parts if p.value is not None)
    if left is not None:
        shown = f"{known:.6g}" if unit == COUNT else f"{known:.6g} {unit}"  # never "3 count"
        return Reading.unavailable(unit, f"{left}; the workers still there: {shown}", source)
    method = weakest("measured", *(p.method for p in parts))
    note = next((p.note for p in parts if p.note and p.method != "measured"), None)
    return Reading(known, unit, method, source, note)


def _gpu_energy(end: Edge, workers: list[str], left: str | None) -> Reading | None:
    """Energy of each device any measured worker sees, once per device (by UUID)."""
    seen: dict[str, Any] = {}
    for address in workers:
        for uuid, change in (end.answers[address].get("gpu") or {}).items():
            seen.setdefault(uuid, change if isinstance(change, str) else change / 1000.0)
    if not seen:
        return None
    failed = next((v for v in seen.values() if isinstance(v, str)), None)
    if failed is not None:
        return Reading.unavailable("J", failed, GPU_SOURCE)
    total = float(sum(seen.values()))
    if left is not None:
        return Reading.unavailable("J", f"{left}; the devices still seen: {total:.6g} J", GPU_SOURCE)
    return Reading(total, "J", "measured", GPU_SOURCE,
                   f"{counted(len(seen), 'device')}, whole-device energy (every process on them)")


def _gpu_busy(end: Edge, workers: list[str], left: str | None) -> Reading | None:
    """Busy time of each device any measured worker sees, once per device (by UUID), with how
    much of the window its utilisation samples cover (:func:`.probe.gpu_busy`)."""
    seen: dict[str, Any] = {}
    window = 0.0
    for address in workers:
        answer = end.answers[address]
        for uuid, busy in (answer.get("gpu_busy") or {}).items():
            seen.setdefault(uuid, busy)
        window = max(window, answer.get("window_s") or 0.0)
    if not seen:
        return None
    failed = next((v for v in seen.values() if isinstance(v, str)), None)
    if failed is not None:
        return Reading.unavailable("s", failed, BUSY_SOURCE)
    covered = min(c for _, c in seen.values())
    if covered <= 0.0:  # the driver samples every 1/6 to 1 s: a shorter window may hold none
        return Reading.unavailable("s", f"no GPU utilisation sample in this {window:.3g} s window "
                                        "(the driver samples every 1/6 to 1 s)", BUSY_SOURCE)
    total = float(sum(b for b, _ in seen.values()))
    if left is not None:
        return Reading.unavailable("s", f"{left}; the devices still seen: {total:.6g} s", BUSY_SOURCE)
    note = f"{counted(len(seen), 'device')}, utilisation x time"
    if window >= 2.0 and covered < 0.9 * window:
        note += f"; the samples cover only the last {covered:.3g} s of this {window:.3g} s window"
    return Reading(total, "s", "sampled", BUSY_SOURCE, note)


def _why_not(address: str, begin: Edge, end: Edge) -> str | None:
    """Why a worker there at the start was not measured over the whole window; None if it was."""
    first, last = begin.answers.get(address), end.answers.get(address)
    if first is None:
        return f"its start could not be read: {begin.failed.get(address, 'no answer')}"
    if first.get("late"):
        return "its start arrived after the cell's end"
    if first.get("late_s") is not None:  # work it did meanwhile would be missed
        return (f"its start was read {first['late_s'] * 1e3:.0f} ms late, through the scheduler after the "
                "direct connection failed")
    if last is None:
        return end.failed.get(address) or "gone"
    if "pid" in first and last.get("pid") != first["pid"]:  # a start sent without an answer has no pid
        return "restarted"
    if not last.get("began"):
        if last.get("waited"):
            return f"its start did not arrive within {last['waited']:g} s of the cell's end"
        return "it had no record of the cell's start"
    return None


def _membership(begin: Edge, end: Edge) -> tuple[list[str], str | None, str | None]:
    """The workers measured over the whole window, and what to say about the others."""
    present = sorted(set(begin.answers) | set(begin.failed))
    why = {a: _why_not(a, begin, end) for a in present}
    measured = [a for a in present if why[a] is None]
    gone = [a for a in present if why[a] is not None]
    joined = sorted((set(end.answers) | set(end.joined)) - set(present))
    left = None
    if gone:
        left = (f"{counted(len(gone), 'worker')} not measured over the whole cell ("
                + ", ".join(f"{a}: {why[a]}" for a in gone) + "), so the total is not known")
    note = None
    if joined:
        verb = "is" if len(joined) == 1 else "are"
        note = (f"{counted(len(joined), 'worker')} joined during the cell and {verb} not counted: "
                + ", ".join(joined))
    return measured, left, note


def _shared(answers: dict[str, dict[str, Any]], workers: list[str],
            kernel: tuple[str, int]) -> dict[str, str]:
    """Workers with no process of their own: in the kernel's, or several in one."""
    where = [(answers[a].get("host"), answers[a].get("pid")) for a in workers]
    shared = {}
    for address, place in zip(workers, where):
        if place == kernel:
            shared[address] = ("the worker runs in the kernel's process (processes=False): its CPU time and "
                               "memory are in the kernel's own readings")
        elif where.count(place) > 1:
            shared[address] = "several workers share this worker's process (processes=False)"
    return shared


def combine(begin: Edge, end: Edge, kernel: tuple[str, int] = ("", -1)) -> Readings:
    """The window's cluster readings: totals over the measured workers and each worker's own.
    ``kernel`` is this process's (host name, pid), to tell in-process workers apart."""
    workers, left, joined = _membership(begin, end)
    if not workers:
        reason = left or "no worker answered at both edges of the cell"
        return unavailable(reason, gpu=any(a.get("gpu") for a in end.answers.values()))
    shared = _shared(end.answers, workers, kernel)
    readings: Readings = {}
    cpus, processes, peaks, rises, tasks, sent = [], [], [], [], [], []
    for address in workers:
        e = end.answers[address]
        tasks.append(_count(e.get("tasks"), COUNT, TASKS_SOURCE))
        sent.append(_count(e.get("sent"), "B", SENT_SOURCE, "estimated", SENT_NOTE))
        why = shared.get(address)
        if why is not None:
            cpus.append(Reading.unavailable("s", why, CPU_SOURCE)._replace(note=f"worker {address}: {why}"))
            processes.append(Reading.unavailable("s", why, PROCESS_CPU_SOURCE))
            peaks.append(Reading.unavailable("B", why, PEAK_SOURCE))
            rises.append(Reading.unavailable("B", why, PEAK_SOURCE))
            continue
        process, loop = e.get("cpu"), e.get("loop_cpu")
        processes.append(_count(process, "s", PROCESS_CPU_SOURCE))
        work = None if process is None or loop is None else max(process - loop, 0.0)
        cpus.append(_count(work, "s", CPU_SOURCE)._replace(note=f"worker {address}"))
        peak = _peak(e)
        peaks.append(peak)
        start = e.get("rss_start")
        rises.append(Reading.unavailable("B", peak.note or "no peak", peak.source) if peak.value is None
                     else Reading.unavailable("B", "no RSS at the cell's start", peak.source) if start is None
                     else peak._replace(value=peak.value - start, source=f"{peak.source} - start rss"))
    per_worker = zip(cpus[:PER_WORKER_KEPT], processes, peaks, rises, tasks, sent)
    for i, (cpu, process_cpu, peak, rise, n, out) in enumerate(per_worker):
        readings.update({f"worker{i}_cpu_s": cpu, f"worker{i}_process_cpu_s": process_cpu,
                         f"worker{i}_rss_peak_bytes": peak, f"worker{i}_rss_rise_bytes": rise,
                         f"worker{i}_tasks": n, f"worker{i}_sent_bytes": out})
    notes = [n for n in (left, joined) if n]
    if len(workers) > PER_WORKER_KEPT:
        notes.append(f"per-worker readings for the first {PER_WORKER_KEPT} of {len(workers)} workers")
    readings.update({
        "cluster_cpu_s": _total([c._replace(note=c.note if c.value is None else None) for c in cpus], "s",
                                CPU_SOURCE, left),
        "cluster_process_cpu_s": _total(processes, "s", PROCESS_CPU_SOURCE, left),
        "cluster_workers": Reading(len(workers), COUNT, "measured", "client.run", "; ".join(notes) or None),
        "cluster_rss_peak_bytes": _total(peaks, "B", PEAK_SOURCE, left),
        "cluster_rss_rise_bytes": _total(rises, "B", f"{PEAK_SOURCE} - start rss", left),
        "cluster_tasks": _total(tasks, COUNT, TASKS_SOURCE, left),
        "cluster_sent_bytes": _total(sent, "B", SENT_SOURCE, left),
    })
    local = [a for a in workers if end.answers[a].get("gpu") and end.answers[a].get("host") == kernel[0]]
    found = ((GPU_KEY, _gpu_energy(end, workers, left)), (BUSY_KEY, _gpu_busy(end, workers, left)))
    for key, reading in found:
        if reading is not None:
            readings[key] = reading if not local or reading.value is None else reading._replace(
                note=f"{reading.note}; {SAME_MACHINE}")
    return readings
