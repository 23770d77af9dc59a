"""The footer under each cell: one line of its numbers, each saying how it was obtained.

Pure functions of a record, so what the user sees under the cell is what was
stored. Which readings appear, in which words and when, is the catalog's
(:mod:`nbprofile.metrics`: ``footer``, ``footer_detail``, ``footer_zero``,
``footer_missing``, ``footer_estimate_from``). Numbers that are not plainly measured are marked
(``~`` for sampled or estimated, ``n/a`` with the reason for unavailable), in
text and in the HTML tooltips.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import NamedTuple

from nbprofile.budgets.evaluate import Verdict
from nbprofile.format import (
    UNAVAILABLE,
    counted,
    format_bytes,
    format_count,
    format_duration,
    format_energy,
    format_percent,
    format_usd,
    format_value,
    shown_value,
)
from nbprofile.insights import HotSpots, describe
from nbprofile.metrics import CATALOG, Metric
from nbprofile.readings import Reading
from nbprofile.record import CellRecord, LiveNumbers
from nbprofile.report.died import MARK, died_summary, is_died
from nbprofile.report.hotspot_share import share_words, shares

SEP = " · "
_MUTED = "color: var(--jp-ui-font-color2, #777)"
_FAIL = "color: var(--jp-error-color1, #c62828); font-weight: 600"


class Part(NamedTuple):
    """One item of the footer: its text and a tooltip that says how it was obtained."""

    text: str
    title: str = ""
    fail: bool = False


def how(reading: Reading) -> str:
    """How a reading was obtained, in words: the tooltip of its value everywhere."""
    if reading.method == "unavailable":
        return f"unavailable: {reading.note}"
    text = f"{reading.method} ({reading.source})" if reading.source else reading.method
    return f"{text}: {reading.note}" if reading.note else text


def _no_title(reading: Reading) -> str:
    return ""


def _shown(m: Metric, reading: Reading, mode: str) -> bool:
    """Whether the compact (or full) footer has something to say about this reading."""
    if reading.value is None:
        return mode == "full" or m.footer_missing
    if reading.value == 0 and (m.footer_zero == "hidden" or (m.footer_zero == "full only" and mode != "full")):
        return False
    # the compact footer leaves out small estimates: a few millijoules from CPU time are noise on every quick cell
    return mode == "full" or reading.method == "measured" or abs(reading.value) >= m.footer_estimate_from


def _part(m: Metric, reading: Reading, record: CellRecord, mode: str, title: Callable[[Reading], str]) -> Part:
    assert m.footer is not None
    if reading.value is None:
        # "CPU n/a", "cluster CPU n/a" (not "cluster n/a CPU"), "peak RAM n/a"
        if m.footer.startswith("{}") or not m.footer.endswith("{}"):
            return Part(f"{m.label} {UNAVAILABLE}", title(reading))
        return Part(m.footer.format(UNAVAILABLE), title(reading))
    words = m.footer_one if m.footer_one and reading.value == 1 else m.footer
    text = words.format(shown_value(reading, m.unit))  # m.unit: for tasks stored without a unit
    if m.key == "cpu_s" and "cluster_cpu_s" in record.readings:  # the kernel's share beside the cluster's
        text = f"kernel {text}"
    elif m.key == "cluster_cpu_s":
        workers = record.readings.get("cluster_workers")
        if workers is not None and workers.value is not None:
            text += f" on {counted(int(workers.value), 'worker')}"
    if m.key == "rss_peak_bytes":  # how far the peak rose above the cell's starting RSS
        start = record.readings.get("rss_start_bytes")
        rise = None if start is None or start.value is None else reading.value - start.value
        if rise:
            text += f" ({format_bytes(rise, signed=True)})"
        if reading.method != "measured" and mode == "full":
            text += f" [{reading.method}]"
    return Part(text, title(reading))


def footer_parts(record: CellRecord, mode: str = "compact", *, titles: bool = True) -> list[Part]:
    """The footer's items, in order. ``titles=False`` skips the tooltips (the text footer
    has none; they cost more than the text)."""
    title = how if titles else _no_title
    readings = record.readings
    parts: list[Part] = []
    notes = record.notes
    if is_died(record):
        # first, in the failure colour: what happened; the journal's sentence (its first note,
        # which says when the kernel was last seen) becomes its tooltip instead of a second item
        parts.append(Part(f"{MARK} {died_summary(record)}", notes[0] if notes else "", fail=True))
        notes = notes[1:]
    footer = CATALOG.footer
    for m in footer:
        reading = readings.get(m.key)
        if reading is not None and not m.footer_detail and _shown(m, reading, mode):
            parts.append(_part(m, reading, record, mode, title))
    if mode == "full":
        for m in footer:
            reading = readings.get(m.key)
            if reading is not None and m.footer_detail:
                parts.append(_part(m, reading, record, mode, title))
        parts.extend(hotspot_parts(record))
        if not is_died(record):  # a died cell's hooks never finished: no overhead to tell (not 0)
            parts.append(Part(f"overhead {format_duration(record.overhead_s)}",
                              "time nbprofile's hooks spent measuring this cell, outside its wall time"))
    parts.extend(verdict_parts(record))
    for note in notes:
        parts.append(Part(f"⚠ {note}", note))
    return parts


def hotspots_of(record: CellRecord) -> HotSpots | None:
    found = (record.insights or {}).get("hotspots")
    return HotSpots.from_json(found) if found else None


def hotspot_lines(record: CellRecord, top: int = 3) -> tuple[list[str], str] | None:
    """Where the sampled time went (``62 % train.py:forward ← cell line 14``, …) and how it
    was found; None when the cell was not sampled."""
    hot = hotspots_of(record)
    if hot is None or not hot.entries:
        return None
    how_found = (f"share of {hot.samples} samples of the main thread's stack, one every "
                 f"{format_duration(hot.interval_s)} over the cell's last {format_duration(hot.covered_s)} "
                 "(sampled)")
    lines = [describe(e) for e in hot.entries[:top]]
    split = shares(record, hot)
    if split is None:
        return lines, how_found
    shared = zip(lines, split.energy_j, split.cost_usd)
    return [f"{line} · {share_words(j, usd)}" for line, j, usd in shared], f"{how_found}; {split.how}"


def hotspot_parts(record: CellRecord, top: int = 3) -> list[Part]:
    """``hot: 62 % train.py:forward ← cell line 14; 20 % …``: where the sampled time went."""
    found = hotspot_lines(record, top)
    return [] if found is None else [Part("hot: " + "; ".join(found[0]), found[1])]


def verdict_parts(record: CellRecord) -> list[Part]:
    """``✓ budget`` when every limit held; else a ``✗`` or ``?`` item per limit that did not."""
    if not record.verdict:
        return []
    verdict = Verdict.from_json(record.verdict)
    name = f" {verdict.name}" if verdict.name else ""
    if verdict.status == "pass":
        return [Part(f"✓ budget{name}", "; ".join(i.describe() for i in verdict.items))]
    parts = []
    for item in verdict.items:
        if item.status == "fail":
            parts.append(Part(f"✗ {item.describe()}", item.reason or "", fail=True))
        elif item.status == "unmeasurable":
            parts.append(Part(f"? {item.describe()}", item.reason or ""))
    return parts


def footer_text(record: CellRecord, mode: str = "compact") -> str:
    return SEP.join(p.text for p in footer_parts(record, mode, titles=False))


def footer_html(record: CellRecord, mode: str = "compact") -> str:
    items = []
    for part in footer_parts(record, mode):
        style = f' style="{_FAIL}"' if part.fail else ""
        title = f' title="{html.escape(part.title)}"' if part.title else ""
        items.append(f"<span{title}{style}>{html.escape(part.text)}</span>")
    body = f'<span style="{_MUTED}">{SEP}</span>'.join(items)
    return (
        '<div class="nbprofile-footer" style="font-size: 0.85em; '
        f"font-family: var(--jp-code-font-family, monospace); {_MUTED}\">{body}</div>"
    )


def footer_bundle(record: CellRecord, mode: str = "compact") -> dict[str, str]:
    return {"text/plain": footer_text(record, mode), "text/html": footer_html(record, mode)}


def live_text(numbers: LiveNumbers) -> str:
    """The running cell's line, replaced by its footer when it ends:
    ``running 12.3 s · CPU 11.9 s (98%) · RAM 1.20 GiB (peak 1.31 GiB)``, then, when the cell
    drives a progress bar, where it will end and the budget limits that will break."""
    parts = [f"running {format_duration(numbers.elapsed_s)}"]
    if numbers.cpu_s is not None:
        busy = "" if numbers.cpu_fraction is None else f" ({format_percent(numbers.cpu_fraction)})"
        parts.append(f"CPU {format_duration(numbers.cpu_s)}{busy}")
    if numbers.rss_now_bytes is not None:
        peak = numbers.rss_peak_bytes
        higher = peak is not None and peak > numbers.rss_now_bytes
        parts.append(f"RAM {format_bytes(numbers.rss_now_bytes)}"
                     + (f" (peak {format_bytes(peak)})" if higher and peak is not None else ""))
    for index, joules, watts in numbers.gpus:
        power = "" if watts is None else f" {format_value(watts, 'W')}"
        parts.append(f"GPU{index}{power} {format_energy(joules)}")
    if numbers.llm_tokens is not None:
        parts.append(f"{format_count(numbers.llm_tokens)} tokens")
    if numbers.llm_cost_usd is not None:
        parts.append(format_usd(numbers.llm_cost_usd))
    if numbers.projection is not None:
        parts.append(numbers.projection)
    parts.extend(f"⚠ {warning}" for warning in numbers.will_break)
    return SEP.join(parts)
