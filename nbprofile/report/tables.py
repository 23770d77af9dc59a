"""Records as tables: ``%nbprofile history``, ``%nbprofile last``, ``nbprofile show`` and ``run``.

Each object shows itself as HTML in Jupyter and as text in a terminal (rich, with
markup off: cell code such as ``[i for i in x]`` is printed as written).
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from io import StringIO
from typing import Any

from nbprofile.budgets.evaluate import Verdict
from nbprofile.format import UNAVAILABLE, format_duration, shown_value
from nbprofile.metrics import label_of, unit_of
from nbprofile.record import CellRecord
from nbprofile.redact import mask, mask_record
from nbprofile.report.died import MARK, MISSING, died_cause, died_summaries, died_summary, is_died
from nbprofile.report.footer import hotspot_lines, hotspots_of, how

#: a died cell in Jupyter's HTML: the theme's error colour, as the footer's failed budget
_DIED_STYLE = "color: var(--jp-error-color1, #c62828); font-weight: 600"
#: the reading keys of the history table's columns
HISTORY_KEYS: tuple[str, ...] = ("wall_s", "cpu_s", "rss_peak_bytes")


def first_line(source: str, width: int = 40) -> str:
    """The first non-empty line of a cell, with ``…`` when there is more or it is cut; its
    secrets masked before it is cut (a cut key no longer looks like one)."""
    lines = [line for line in source.strip().splitlines() if line.strip()]
    text = mask(lines[0]).strip() if lines else ""
    if len(lines) > 1:
        text += " …"
    return text if len(text) <= width else text[: width - 1] + "…"


def status_text(record: CellRecord) -> str:
    if is_died(record):  # its cause may be unknown: never "died (None)"
        return f"{MARK} died ({died_cause(record)})"
    return record.status if record.status == "ok" else f"{record.status} ({record.error_type})"


def render_text(table: Any, width: int = 120) -> str:
    """A rich table as plain text, without trailing padding to the console's width."""
    from rich.console import Console

    buffer = StringIO()
    # force_jupyter=False: in a kernel rich would otherwise display the table itself (a second copy
    # of every table nbprofile prints) rather than write it to the buffer
    Console(file=buffer, width=width, force_terminal=False, force_jupyter=False, color_system=None,
            markup=False).print(table)
    return "\n".join(line.rstrip() for line in buffer.getvalue().rstrip().splitlines())


@dataclass
class RecordTable:
    """A table of records that shows itself as HTML in Jupyter and text in a terminal."""

    records: Sequence[CellRecord]
    title: str

    def __post_init__(self) -> None:
        # records are masked when made; these may come from a store an older version wrote
        self.records = [mask_record(r) for r in self.records]

    def rows(self) -> list[list[str]]:
        rows = []
        for rec in self.records:
            row = [
                str(rec.execution_count) if rec.execution_count is not None else "",
                rec.started_iso[11:19],
                first_line(rec.name or rec.source),
                status_text(rec),
            ]
            row += [shown_value(rec.readings.get(key)) for key in HISTORY_KEYS]
            row.append(rec.verdict_status or "")
            rows.append(row)
        return rows

    @property
    def headers(self) -> list[str]:
        return ["#", "started (UTC)", "cell", "status", *(label_of(k) for k in HISTORY_KEYS), "budget"]

    def __repr__(self) -> str:
        if not self.records:
            return f"{self.title}: no records yet"
        from rich.table import Table

        table = Table(title=self.title, title_justify="left")
        numeric = {"#", *(label_of(k) for k in HISTORY_KEYS)}
        for header in self.headers:
            table.add_column(header, justify="right" if header in numeric else "left")
        for row in self.rows():
            table.add_row(*row)
        # a died cell's row holds only what the journal knew: say what happened under the table
        return "\n".join([render_text(table), *(f"{MARK} {line}" for line in died_summaries(self.records))])

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
            title = f"{died_summary(rec)}\n\n{rec.source[:2000]}" if is_died(rec) else rec.source[:2000]
            style = f' style="{_DIED_STYLE}"' if is_died(rec) else ""
            body.append(f'<tr title="{esc(title)}"{style}>{cells}</tr>')
        deaths = "".join(f'<p style="{_DIED_STYLE}">{esc(MARK)} {esc(line)}</p>'
                         for line in died_summaries(self.records))
        return (
            f'<div class="nbprofile-history"><b>{esc(self.title)}</b>'
            f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>{deaths}</div>"
        )


@dataclass
class RecordDetail:
    """Every reading of one record, with how it was obtained (``%nbprofile last``)."""

    record: CellRecord

    def __post_init__(self) -> None:
        self.record = mask_record(self.record)

    def rows(self) -> list[tuple[str, str, str]]:
        out = [(key, shown_value(reading, unit_of(key)), how(reading))
               for key, reading in self.record.readings.items()]
        if is_died(self.record):  # the hooks never finished this cell: its overhead is unknown, not 0
            out.append(("overhead_s", UNAVAILABLE, MISSING))
        else:
            out.append(("overhead_s", format_duration(self.record.overhead_s), "profiler's own time"))
        return out

    def _header(self) -> str:
        r = self.record
        where = f"cell {r.cell_id}" if r.cell_id else f"code {r.code_hash}"
        return f"[{r.execution_count}] {where}, {status_text(r)}, started {r.started_iso}, run {r.run_id}"

    def _verdict_items(self) -> list[tuple[str, str]]:
        if not self.record.verdict:
            return []
        return [(i.status, i.describe()) for i in Verdict.from_json(self.record.verdict).items]

    def __repr__(self) -> str:
        lines = [self._header()]
        if is_died(self.record):
            lines.append(f"  {MARK} {died_summary(self.record)}; other readings {MISSING}")
        rows = self.rows()
        width = max(len(k) for k, _, _ in rows)
        lines += [f"  {key:<{width}}  {value:>12}  {detail}" for key, value, detail in rows]
        lines += [f"  budget: {status}: {text}" for status, text in self._verdict_items()]
        lines += [f"  hot spot: {text}  ({where})" for text, where in self._hotspots()]
        lines += [f"  note: {note}" for note in self.record.notes]
        return "\n".join(lines)

    def _hotspots(self) -> list[tuple[str, str]]:
        hot = hotspots_of(self.record)
        found = None if hot is None else hotspot_lines(self.record, top=len(hot.entries))
        return [] if hot is None or found is None else list(zip(found[0], (e.where for e in hot.entries)))

    def _repr_pretty_(self, p: Any, cycle: bool) -> None:
        p.text(repr(self))

    def _repr_html_(self) -> str:
        esc = html.escape
        rows = "".join(
            f"<tr><td><code>{esc(k)}</code></td><td>{esc(v)}</td><td>{esc(h)}</td></tr>"
            for k, v, h in self.rows()
        )
        verdict = "".join(f"<li>{esc(s)}: {esc(t)}</li>" for s, t in self._verdict_items())
        notes = "".join(f"<li>{esc(n)}</li>" for n in self.record.notes)
        hot = "".join(f"<li>hot spot: {esc(t)} <code>{esc(w)}</code></li>" for t, w in self._hotspots())
        died = (f'<p style="{_DIED_STYLE}">{esc(MARK)} {esc(died_summary(self.record))}; other readings '
                f"{esc(MISSING)}</p>" if is_died(self.record) else "")
        return (
            f"<div class=\"nbprofile-last\"><b>{esc(self._header())}</b>{died}"
            f"<table><tbody>{rows}</tbody></table>{f'<ul>{verdict}</ul>' if verdict else ''}"
            f"{f'<ul>{hot}</ul>' if hot else ''}{f'<ul>{notes}</ul>' if notes else ''}</div>"
        )
