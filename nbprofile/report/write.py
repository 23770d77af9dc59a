"""Writing a stored run (or a comparison of two) to a report file."""

from __future__ import annotations

from nbprofile.report import registry
from nbprofile.store.base import RecordStore
from nbprofile.store.selection import resolve_run


def write_report(store: RecordStore, fmt: str | None, output: str | None, run_ref: str = "latest",
                 compare: tuple[str, str] | None = None, notebook: str | None = None) -> tuple[str, str]:
    """Export a run (or ``compare = (A, B)``: B compared with A) to ``output``, or to
    ``nbprofile-<run>.<suffix>`` in the current folder; return (path, format name)."""
    chosen = registry.choose(fmt, output)  # a bad name or suffix stops here, before any reading
    if compare is not None:
        other, run = resolve_run(store, compare[0], notebook), resolve_run(store, compare[1], notebook)
    else:
        other, run = None, resolve_run(store, run_ref, notebook)
    path = output or f"nbprofile-{run['run_id']}{chosen.suffix}"
    text = chosen.render(store.records(run["run_id"]), run,
                         other=store.records(other["run_id"]) if other else None, other_run=other)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path, chosen.name
