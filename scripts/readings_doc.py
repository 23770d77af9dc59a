"""Write docs/readings.md from the metric catalog (nbprofile/metrics.py): every reading key, its unit,
what it is, where it comes from, and the budget key that limits it.

    python scripts/readings_doc.py          # rewrite docs/readings.md
tests/house/test_docs.py fails while the file differs from what this writes.
"""

from __future__ import annotations

from pathlib import Path

from nbprofile.metrics import CATALOG

DOC = Path(__file__).resolve().parents[1] / "docs" / "readings.md"

INTRO = """\
# Reading keys

Every record holds readings keyed by name; the key carries the unit (`_s` seconds, `_bytes` bytes, `_j`
joules, `_g` grams CO2e, `_usd` dollars, `_tokens` tokens, `_w` watts, `_pct` percent, `_fraction` 0..1).
A reading is `(value, unit, method, source, note)` with method `measured`, `sampled`, `estimated` or
`unavailable`; an unavailable reading has no value and says why in its note, never 0. Exports (JSON, CSV)
and the REST API carry the same keys.

This page is written from the metric catalog, `nbprofile/metrics.py` (`python scripts/readings_doc.py`);
`gpu{i}_...` stands for one key per device. A run's figure for a metric is the sum of its cells' values,
or, where the table says *max*, the largest cell's.
"""


def render() -> str:
    rows = ["| key | unit | what | from | budget key | run figure |", "|---|---|---|---|---|---|"]
    for m in CATALOG:
        budget = f"`{m.budget}`" if m.budget else ""
        rows.append(f"| `{m.key}` | {m.unit or '—'} | {m.description} | {m.source} | {budget} | {m.aggregate} |")
    return INTRO + "\n" + "\n".join(rows) + "\n"


if __name__ == "__main__":
    DOC.write_text(render(), encoding="utf-8")
    print(f"wrote {DOC}")
