"""The OOM guard in a real kernel (jupyter/notebook#2429, "which cell killed my kernel?"): a cell that
allocates past the limit is stopped before it, and the kernel lives on with its variables."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
LOADED = ["--InteractiveShellApp.extensions=['nbprofile']"]
MiB = 1024**2

# 50 MiB at a time, each page written so that it counts in RSS, up to {total} MiB: far past the limit
HOG = """\
chunks = []
for _ in range({total} // 50):
    chunk = bytearray(50 * 2**20)
    chunk[::4096] = b"\\x01" * len(range(0, len(chunk), 4096))
    chunks.append(chunk)
"""
RSS = "import os\nprint(int(open('/proc/self/statm').read().split()[1]) * os.sysconf('SC_PAGE_SIZE'))"


def test_a_cell_past_the_limit_is_stopped_and_the_kernel_keeps_its_variables(
        start_kernel: Any, _isolated_store: Path) -> None:
    kernel = start_kernel(extra_arguments=LOADED)
    has_guard = kernel.run("from nbprofile.engine import current\n"
                           "print(hasattr(current.current(), 'oom_guard'))", cell_id="probe")
    if has_guard.stdout.strip() != "True":
        pytest.skip("the profiler has no oom_guard yet: the OOM guard is not wired into the cell hooks")
    rss = int(kernel.run(RSS, cell_id="rss").stdout)
    # well above what the kernel holds already, and with 10 % of it (the room between the threshold and
    # the limit) more than a fast machine allocates between two looks and the interrupt landing
    limit = max(2048 * MiB, rss + 1024 * MiB) // MiB * MiB
    total = limit // MiB + 1024
    setting = kernel.run(f"%nbprofile oom-guard limit={limit // MiB}MiB", cell_id="set")
    assert setting.status == "ok" and setting.stdout.startswith("nbprofile: OOM guard on; "), setting

    hog = kernel.run(HOG.format(total=total), cell_id="hog", timeout=120)
    assert hog.status == "error" and hog.error is not None and hog.error["ename"] == "KeyboardInterrupt"

    after = kernel.run(f"print(len(chunks) > 0, sum(map(len, chunks)) < {total} * 2**20)", cell_id="after")
    assert after.status == "ok" and after.stdout == "True True\n", after  # alive, and its variables kept
    records = {r.cell_id: r for r in SQLiteStore(_isolated_store).history(None, 100) if r.cell_id}
    stopped = records["hog"]
    assert stopped.status == "interrupted", stopped.status
    assert any("OOM guard" in note for note in stopped.notes), stopped.notes
    peak = stopped.value("rss_peak_bytes")
    # stopped once it passed 90 % (not before), and long before the 1 GiB more it would have taken; how far
    # past 90 % depends on how soon the guard's thread gets a CPU, so the bound is the cell's own total
    assert peak is not None and 0.9 * limit <= peak < total * MiB, (peak, limit)
    assert records["after"].status == "ok"
