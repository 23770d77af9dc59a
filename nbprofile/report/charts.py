"""Inline SVG charts for the HTML report: no script, no network, printable.

Long runs are binned (at most :data:`MAX_BARS` bars, each the largest value of
its cells) so that a 10,000-cell report stays small and quick to open; the
chart says when it is binned.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence

MAX_BARS = 400
WIDTH, HEIGHT, PAD = 720, 160, 32
#: the narrowest a chart is drawn in the HTML report (its grid's column minimum), in CSS px
NARROWEST_PX = 360
#: axis labels, in the SVG's own units: it is scaled to its column, so 11 px on screen at the
#: narrowest column is 11 x 720 / 360 = 22 units (a CSS font-size in px would shrink with it, to ~6 px)
AXIS_FONT = 11 * WIDTH // NARROWEST_PX
_AXIS = f'class="axis" font-size="{AXIS_FONT}"'


def _bins(values: Sequence[float | None]) -> tuple[list[float | None], int]:
    size = max(1, -(-len(values) // MAX_BARS))  # ceiling division
    if size == 1:
        return list(values), 1
    binned: list[float | None] = []
    for start in range(0, len(values), size):
        chunk = [v for v in values[start:start + size] if v is not None]
        binned.append(max(chunk) if chunk else None)
    return binned, size


def bar_chart(title: str, values: Sequence[float | None], fmt: Callable[[float], str],
              labels: Sequence[str] | None = None) -> str:
    """Bars of one metric per cell; cells without a value leave a gap (never a 0 bar)."""
    shown, size = _bins(values)
    known = [v for v in shown if v is not None]
    esc = html.escape
    if not known:
        return f'<figure class="chart"><figcaption>{esc(title)}: no cell has this measurement</figcaption></figure>'
    top = max(known) or 1.0
    step = (WIDTH - 2 * PAD) / len(shown)
    bars = []
    for i, value in enumerate(shown):
        if value is None:
            continue
        h = (HEIGHT - 2 * PAD) * value / top
        x, y = PAD + i * step, HEIGHT - PAD - h
        first = i * size
        if labels is not None and size == 1:
            tip = f"#{first + 1} {labels[first]}: {fmt(value)}"
        else:
            tip = f"cells {first + 1}–{min(first + size, len(values))}: max {fmt(value)}"
        bars.append(f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(step - 1, 0.5):.1f}" height="{h:.1f}">'
                    f"<title>{esc(tip)}</title></rect>")
    note = f" (binned: {size} cells per bar, the largest shown)" if size > 1 else ""
    return (
        f'<figure class="chart"><figcaption>{esc(title)}{esc(note)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}">'
        f'<text x="{PAD}" y="{PAD - 8}" {_AXIS}>{esc(fmt(top))}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="base"/>'
        f'<g class="bars">{"".join(bars)}</g>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" {_AXIS}>cell 1</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" {_AXIS} text-anchor="end">cell {len(values)}</text>'
        f"</svg></figure>"
    )


def cumulative_chart(title: str, values: Sequence[float | None], fmt: Callable[[float], str]) -> str:
    """The running total over the cells (a timeline of where the run's time went)."""
    esc = html.escape
    running, points = 0.0, []
    for value in values:
        running += value or 0.0  # a cell without a value adds nothing to the timeline
        points.append(running)
    if not points or running <= 0:
        return f'<figure class="chart"><figcaption>{esc(title)}: nothing to plot</figcaption></figure>'
    stride = max(1, len(points) // 1000)
    sampled = points[::stride] + ([points[-1]] if (len(points) - 1) % stride else [])
    n = len(sampled) - 1 or 1
    coords = " ".join(
        f"{PAD + (WIDTH - 2 * PAD) * i / n:.1f},{HEIGHT - PAD - (HEIGHT - 2 * PAD) * p / running:.1f}"
        for i, p in enumerate(sampled)
    )
    return (
        f'<figure class="chart"><figcaption>{esc(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}">'
        f'<text x="{PAD}" y="{PAD - 8}" {_AXIS}>{esc(fmt(running))}</text>'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" class="base"/>'
        f'<polyline points="{coords}" class="line"/>'
        f'<text x="{PAD}" y="{HEIGHT - 8}" {_AXIS}>cell 1</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" {_AXIS} text-anchor="end">cell {len(values)}</text>'
        f"</svg></figure>"
    )


def delta_chart(title: str, fractions: Sequence[float | None], labels: Sequence[str]) -> str:
    """Per-cell change as signed bars around zero: up (red) is slower / more."""
    esc = html.escape
    shown, size = _bins(fractions)
    known = [abs(v) for v in shown if v is not None]
    if not known:
        return f'<figure class="chart"><figcaption>{esc(title)}: no cell in both runs</figcaption></figure>'
    top = max(known) or 1.0
    mid = HEIGHT / 2
    step = (WIDTH - 2 * PAD) / len(shown)
    bars = []
    for i, value in enumerate(shown):
        if value is None:
            continue
        h = (mid - PAD) * abs(value) / top
        y = mid - h if value > 0 else mid
        cls = "up" if value > 0 else "down"
        tip = f"#{i * size + 1} {labels[i * size]}: {value * 100:+.1f}%" if size == 1 else f"{value * 100:+.1f}%"
        bars.append(f'<rect class="{cls}" x="{PAD + i * step:.1f}" y="{y:.1f}" '
                    f'width="{max(step - 1, 0.5):.1f}" height="{h:.1f}"><title>{esc(tip)}</title></rect>')
    return (
        f'<figure class="chart"><figcaption>{esc(title)}</figcaption>'
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{esc(title)}">'
        f'<text x="{PAD}" y="{PAD - 8}" {_AXIS}>±{top * 100:.0f}%</text>'
        f'<line x1="{PAD}" y1="{mid}" x2="{WIDTH - PAD}" y2="{mid}" class="base"/>'
        f'{"".join(bars)}</svg></figure>'
    )
