"""10,000 cells in one shell: nbprofile's own memory stays flat and its overhead does not grow.

Run: python bench/long_session.py [N_CELLS]
Memory is what tracemalloc attributes to nbprofile's own files (not the user's
objects), with the footer off and then on; overhead is the per-cell overhead_s
the records carry, first 1,000 cells against the last 1,000. With the footer
on, terminal IPython 9 keeps every printed line of every cell in
history_manager.outputs, the footer's too: that is IPython's retention (a
Jupyter kernel's publisher keeps none), reported separately.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import tracemalloc
from contextlib import redirect_stdout
from pathlib import Path


class Discard:
    """Stdout that keeps nothing: a StringIO would hold every footer and count against us."""

    def write(self, text: str) -> int:
        return len(text)

    def flush(self) -> None:
        pass


def nbprofile_bytes(snapshot: tracemalloc.Snapshot) -> int:
    root = str(Path(__file__).resolve().parent.parent / "nbprofile")
    return sum(s.size for s in snapshot.statistics("filename") if s.traceback[0].filename.startswith(root))


def run(shell, n: int, footer: str) -> dict:
    from nbprofile.engine import current

    shell.run_line_magic("nbprofile", f"footer {footer}")
    tracemalloc.start(1)
    marks = {}
    first_id = current.current().recorder.store.count()
    for i in range(1, n + 1):
        shell.run_cell(f"x = {i}", store_history=True)
        if i in (1_000, n // 2, n):
            marks[i] = nbprofile_bytes(tracemalloc.take_snapshot())
    tracemalloc.stop()
    records = current.current().recorder.store.history(None, n)
    overheads = [r.overhead_s for r in records if r.source.startswith("x = ")]
    assert len(overheads) == n and current.current().recorder.store.count() - first_id == n
    return {"memory_bytes": marks, "growth_bytes": marks[n] - marks[1_000],
            "overhead_first_us": statistics.median(overheads[:1000]) * 1e6,
            "overhead_last_us": statistics.median(overheads[-1000:]) * 1e6}


def main() -> None:
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
    tmp = tempfile.mkdtemp()
    os.environ["NBPROFILE_DB"] = os.path.join(tmp, "records.db")
    from IPython.core.interactiveshell import InteractiveShell
    from traitlets.config import Config

    config = Config()
    config.HistoryManager.hist_file = ":memory:"
    shell = InteractiveShell.instance(config=config)
    results = {}
    with redirect_stdout(Discard()):  # type: ignore[type-var]
        shell.run_line_magic("load_ext", "nbprofile")
        for footer in ("off", "compact"):
            results[footer] = run(shell, n, footer)
    print(f"{n:,} cells in one shell (tracemalloc on: overheads are inflated by it)")
    for footer, r in results.items():
        print(f"footer {footer}:")
        for i, size in r["memory_bytes"].items():
            print(f"  nbprofile-allocated memory still held after {i:>6,} cells: {size:>10,} bytes")
        print(f"  growth from cell 1,000 to {n:,}: {r['growth_bytes']:+,} bytes "
              f"({r['growth_bytes'] / (n - 1000):+.1f} bytes/cell)")
        print(f"  overhead per cell: median {r['overhead_first_us']:.1f} µs (first 1,000) vs "
              f"{r['overhead_last_us']:.1f} µs (last 1,000)")
    print("footer on: the growth is the footer lines IPython 9 keeps in history_manager.outputs")
    out = Path(__file__).parent / "results"
    out.mkdir(exist_ok=True)
    (out / "long_session.json").write_text(json.dumps({"cells": n, **results}, indent=1))


if __name__ == "__main__":
    main()
