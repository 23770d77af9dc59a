"""The Markdown report, rendered as a reader's Markdown viewer renders it: every string a user or a
stored record controls shows as the text it is, never as HTML, a link, or a broken table."""

from __future__ import annotations

import html
import re
import time
from typing import Any

from markdown_it import MarkdownIt

from nbprofile.readings import Reading
from nbprofile.record import CellRecord
from nbprofile.report.registry import export

EVIL = "<img src=y onerror=alert(1)> a|b"
LINK = "![t](http://tracker.example/p.png) [x](javascript:alert(2)) *em* _u_ &lt;i&gt;"


def _record(seq: int, *, source: str, name: str | None, status: str = "ok",
            error_type: str | None = None, verdict: dict[str, Any] | None = None) -> CellRecord:
    return CellRecord(
        run_id="r1", seq=seq, notebook=f"/nb/{EVIL}.ipynb", cell_id=f"c{seq}", execution_count=seq,
        code_hash=f"h{seq}", source=source, started_at=time.time(), status=status,  # type: ignore[arg-type]
        error_type=error_type, overhead_s=1e-5, name=name, verdict=verdict,
        verdict_status=None if verdict is None else verdict["status"],
        readings={"wall_s": Reading(0.5, "s", "measured", "perf_counter"),
                  "energy_j": Reading(1.0, "J", "estimated", "tdp")},
    )


def _evil_verdict() -> dict[str, Any]:
    limit = {"key": "time", "op": "<=", "kind": "absolute", "value": 1.0, "percent": None,
             "text": f"time<=1s {EVIL}"}
    return {"items": [{"limit": limit, "status": "unmeasurable", "value": 0.5, "threshold": None,
                       "reason": LINK}], "name": None, "status": "unmeasurable"}


def _render() -> str:
    records = [
        _record(1, source=f"print('{EVIL}')", name=None, status="error", error_type=EVIL,
                verdict=_evil_verdict()),
        _record(2, source="x = 1", name=EVIL, status="error", error_type=LINK),
    ]
    run = {"run_id": "r1", "notebook": f"/nb/{EVIL}.ipynb", "started_at": time.time(),
           "info": {"host": EVIL, "python": LINK}}
    return export("md", records, run)


def _viewer() -> MarkdownIt:
    # raw HTML on, as GitHub, JupyterLab and most viewers pass (some of) it through
    return MarkdownIt("commonmark", {"html": True}).enable("table")


def _cells(rendered: str, heading: str) -> list[list[str]]:
    """The text of each body cell of the table after ``heading``, as a reader sees it."""
    part = rendered.split(f">{heading}</h2>", 1)[1].split("</table>", 1)[0]
    body = part.split("<tbody>", 1)[1]
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.DOTALL)]
            for row in re.findall(r"<tr>(.*?)</tr>", body, re.DOTALL)]


def test_no_user_string_becomes_html_or_a_link() -> None:
    rendered = _viewer().render(_render())
    assert "<img" not in rendered and "<a " not in rendered
    assert "<em>" not in rendered and "<i>" not in rendered


def test_user_strings_show_as_typed_and_keep_the_table_whole() -> None:
    markdown = _render()
    rendered = _viewer().render(markdown)
    title = html.unescape(re.sub(r"<[^>]+>", "", rendered.split("</h1>", 1)[0]))
    assert title == f"nbprofile report: /nb/{EVIL}.ipynb"

    heads = re.findall(r"<th[^>]*>(.*?)</th>", rendered.split(">Cells</h2>", 1)[1].split("</thead>", 1)[0])
    first, second = _cells(rendered, "Cells")
    assert len(first) == len(second) == len(heads)  # a '|' in a string made no extra column
    assert first[2] == f"error ({EVIL})"
    assert second[2] == f"error ({LINK})"
    assert second[1] == EVIL  # the block's name, as its label
    assert f"time<=1s {EVIL}" in first[-1] and LINK in first[-1]

    environment = {row[0]: row[1] for row in _cells(rendered, "Environment")}
    assert environment["host"] == EVIL and environment["Python"] == LINK


def test_mistune_reads_it_the_same_way() -> None:
    """A second, independent renderer (nbconvert's): no tag from user strings either."""
    import mistune

    rendered = mistune.create_markdown(escape=False, plugins=["table"])(_render())
    assert isinstance(rendered, str)
    assert "<img" not in rendered and "<a " not in rendered and "<em>" not in rendered
    assert html.escape(f"error ({EVIL})", quote=False) in rendered
