"""The footer under each cell and the tables of ``%nbprofile history``.

Everything here is a pure function of records: the footer is built from the
committed record, so what the user sees under the cell is what was stored.
Numbers that are not plainly measured are marked (``~`` for sampled or
estimated, ``n/a`` with the reason for unavailable), in text and in HTML.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Any, NamedTuple, Sequence

from nbprofile.format import UNAVAILABLE, format_bytes, format_duration, format_value
from nbprofile.readings import Reading
from nbprofile.record import CellRecord

SEP = " · "
_MUTED = "color: var(--jp-ui-font-color2, #777)"
_FAIL = "color: var(--jp-error-color1, #c62828); font-weight: 600"


#: Quantities beyond time and RAM, in footer order: shown when measured (compact)
#: or always, with n/a and the reason in the tooltip (full).
EXTRA: tuple[tuple[str, str, str], ...] = (  # (key, shown, shown when unavailable)
    ("gpu_time_s", "{} GPU", "GPU time"),
    ("vram_peak_bytes", "peak VRAM {}", "peak VRAM"),
    ("energy_j", "{}", "energy"),
    ("co2_g", "{}", "CO2e"),
    ("llm_tokens", "{} tokens", "tokens"),
    ("cost_usd", "{}", "cost"),
)
#: In the compact footer an estimate shows only from this much on: a few millijoules
#: estimated from CPU time are noise on every quick cell (the full footer shows them).
ESTIMATE_SHOWN_FROM: dict[str, float] = {"energy_j": 36.0, "co2_g": 0.01, "cost_usd": 0.0001}

#: Extra detail of the full footer.
DETAIL: tuple[tuple[str, str], ...] = (
    ("cpu_user_s", "user"),
    ("cpu_sys_s", "system"),
    ("rss_end_bytes", "RAM after"),
)


class Part(NamedTuple):
    """One item of the footer: its text and a tooltip that says how it was obtained."""

    text: str
    title: str = ""
    fail: bool = False


def _how(reading: Reading) -> str:
    if reading.method == "unavailable":
        return f"unavailable: {reading.note}"
    how = f"{reading.method} ({reading.source})" if reading.source else reading.method
    return f"{how}: {reading.note}" if reading.note else how


def _mark(reading: Reading) -> str:
    return "~" if reading.method in ("sampled", "estimated") else ""


def _value(reading: Reading | None, *, ascii: bool = False) -> str:
    if reading is None or reading.value is None:
        return UNAVAILABLE
    if reading.unit == "s":
        return _mark(reading) + format_duration(reading.value, ascii=ascii)
    return _mark(reading) + format_value(reading.value, reading.unit)


def footer_parts(record: CellRecord, mode: str = "compact", *, titles: bool = True) -> list[Part]:
    """The footer's items, in order. Pure: table-tested in tests/test_display.py.

    ``titles=False`` skips the tooltips (the text footer has none; they cost more
    than the text)."""
    r = record.readings
    how = _how if titles else _no_title
    parts: list[Part] = []
    wall = r.get("wall_s")
    if wall is not None:
        parts.append(Part(f"{_value(wall)} wall", how(wall)))
    cpu = r.get("cpu_s")
    if cpu is not None:
        parts.append(Part(f"{_value(cpu)} CPU", how(cpu)))
        children = r.get("children_cpu_s")
        if children is not None and children.value:
            parts.append(Part(f"{_value(children)} CPU in child processes", how(children)))
    peak = r.get("rss_peak_bytes")
    if peak is not None:
        parts.append(_ram_part(peak, r.get("rss_start_bytes"), mode, how))
    for key, label, name in EXTRA:
        reading = r.get(key)
        if reading is None or (reading.value is None and mode != "full"):
            continue  # compact: what was not measured here is left out, never shown as 0
        if (mode != "full" and reading.method != "measured" and reading.value is not None
                and abs(reading.value) < ESTIMATE_SHOWN_FROM.get(key, 0.0)):
            continue
        if mode != "full" and reading.value == 0 and key in ("llm_tokens", "cost_usd"):
            continue  # a cell that called no model: nothing to say
        text = label.format(_value(reading)) if reading.value is not None else f"{name} {UNAVAILABLE}"
        parts.append(Part(text, how(reading)))
    if mode == "full":
        for key, label in DETAIL:
            reading = r.get(key)
            if reading is not None:
                parts.append(Part(f"{label} {_value(reading)}", how(reading)))
        parts.append(Part(f"overhead {format_duration(record.overhead_s)}",
                          "time nbprofile's hooks spent measuring this cell, outside its wall time"))
    parts.extend(_verdict_parts(record))
    for note in record.notes:
        parts.append(Part(f"⚠ {note}", note))
    return parts


def _no_title(reading: Reading) -> str:
    return ""


def _ram_part(peak: Reading, start: Reading | None, mode: str, how: Any = _how) -> Part:
    if peak.value is None:
        return Part(f"peak RAM {UNAVAILABLE}", how(peak))
    text = f"peak RAM {_value(peak)}"
    rise = None if start is None or start.value is None else peak.value - start.value
    if rise:  # no rise, nothing to say
        text += f" ({format_bytes(rise, signed=True)})"
    if peak.method != "measured" and mode == "full":
        text += f" [{peak.method}]"
    return Part(text, how(peak))


def _verdict_parts(record: CellRecord) -> list[Part]:
    verdict = record.verdict
    if not verdict:
        return []
    from nbprofile.budget_eval import Verdict

    v = Verdict.from_json(verdict)
    name = f" {v.name}" if v.name else ""
    if v.status == "pass":
        return [Part(f"✓ budget{name}", "; ".join(i.describe() for i in v.items))]
    parts = []
    for item in v.items:
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


# -- tables ---------------------------------------------------------------------

_COLUMNS: tuple[tuple[str, str], ...] = (
    ("wall_s", "wall"),
    ("cpu_s", "CPU"),
    ("rss_peak_bytes", "peak RAM"),
)


def _first_line(source: str, width: int = 40) -> str:
    lines = [line for line in source.strip().splitlines() if line.strip()]
    text = lines[0] if lines else ""
    if len(lines) > 1:
        text += " …"
    return text if len(text) <= width else text[: width - 1] + "…"


@dataclass
class RecordTable:
    """A table of records that shows itself as HTML in Jupyter and text in a terminal."""

    records: Sequence[CellRecord]
    title: str

    def rows(self) -> list[list[str]]:
        rows = []
        for rec in self.records:
            row = [
                str(rec.execution_count) if rec.execution_count is not None else "",
                rec.started_iso[11:19],
                _first_line(rec.name or rec.source),
                rec.status if rec.status == "ok" else f"{rec.status} ({rec.error_type})",
            ]
            row += [_value(rec.readings.get(key), ascii=True) for key, _ in _COLUMNS]
            row.append(rec.verdict_status or "")
            rows.append(row)
        return rows

    @property
    def headers(self) -> list[str]:
        return ["#", "started (UTC)", "cell", "status"] + [label for _, label in _COLUMNS] + ["budget"]

    def __repr__(self) -> str:
        if not self.records:
            return f"{self.title}: no records yet"
        from io import StringIO

        from rich.console import Console
        from rich.table import Table

        table = Table(title=self.title, title_justify="left")
        for header in self.headers:
            table.add_column(header, justify="right" if header in ("#",) + tuple(l for _, l in _COLUMNS) else "left")
        for row in self.rows():
            table.add_row(*row)
        buffer = StringIO()
        Console(file=buffer, width=120, force_terminal=False, color_system=None, markup=False).print(table)
        return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip().splitlines())

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        esc = html.escape
        if not self.records:
            return f"<p>{esc(self.title)}: no records yet</p>"
        head = "".join(f"<th>{esc(h)}</th>" for h in self.headers)
        body = []
        for rec, row in zip(self.records, self.rows()):
            cells = "".join(f"<td>{esc(v)}</td>" for v in row)
            title = esc(rec.source[:2000])
            body.append(f'<tr title="{title}">{cells}</tr>')
        return (
            f'<div class="nbprofile-history"><b>{esc(self.title)}</b>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table></div>"
        )


@dataclass
class RecordDetail:
    """Every reading of one record, with how it was obtained (``%nbprofile last``)."""

    record: CellRecord

    def rows(self) -> list[tuple[str, str, str]]:
        out = []
        for key, reading in self.record.readings.items():
            out.append((key, _value(reading, ascii=True), _how(reading)))
        out.append(("overhead_s", format_duration(self.record.overhead_s, ascii=True), "profiler's own time"))
        return out

    def _header(self) -> str:
        r = self.record
        where = f"cell {r.cell_id}" if r.cell_id else f"code {r.code_hash}"
        status = r.status if r.status == "ok" else f"{r.status} ({r.error_type})"
        return f"[{r.execution_count}] {where}, {status}, started {r.started_iso}, run {r.run_id}"

    def __repr__(self) -> str:
        lines = [self._header()]
        width = max(len(k) for k, _, _ in self.rows())
        for key, value, how in self.rows():
            lines.append(f"  {key:<{width}}  {value:>12}  {how}")
        if self.record.verdict:
            from nbprofile.budget_eval import Verdict

            for item in Verdict.from_json(self.record.verdict).items:
                lines.append(f"  budget: {item.status}: {item.describe()}")
        for note in self.record.notes:
            lines.append(f"  note: {note}")
        return "\n".join(lines)

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td><code>{esc(k)}</code></td><td>{esc(v)}</td><td>{esc(h)}</td></tr>"
            for k, v, h in self.rows()
        )
        extra = ""
        if self.record.verdict:
            from nbprofile.budget_eval import Verdict

            extra = "".join(
                f"<li>{esc(i.status)}: {esc(i.describe())}</li>"
                for i in Verdict.from_json(self.record.verdict).items
            )
            extra = f"<ul>{extra}</ul>"
        notes = "".join(f"<li>{esc(n)}</li>" for n in self.record.notes)
        return (
            f"<div class=\"nbprofile-last\"><b>{esc(self._header())}</b>"
            f"<table><tbody>{rows}</tbody></table>{extra}"
            f"{f'<ul>{notes}</ul>' if notes else ''}</div>"
        )
