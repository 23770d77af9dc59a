"""What was shown is kept, even when the kernel is killed; a cell a kernel died in is explained;
many kernels lose nothing."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
LOADED = ["--InteractiveShellApp.extensions=['nbprofile']"]


def kill(kernel) -> None:
    kernel.km.signal_kernel(signal.SIGKILL)
    deadline = time.time() + 10
    while kernel.km.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    assert not kernel.km.is_alive()


def test_a_killed_kernel_leaves_exactly_the_completed_cells(start_kernel, _isolated_store: Path) -> None:
    kernel = start_kernel(extra_arguments=LOADED)
    n = 23  # killed right after the last footer: the writer thread has not run for the last few
    for i in range(n):
        reply = kernel.run(f"r{i} = {i} ** 2", cell_id=f"done-{i}", settle=False)
        assert reply.footers
    kill(kernel)
    # the next reader to open the store recovers the dead kernel's journal
    records = [r for r in SQLiteStore(_isolated_store).history(None, 1000) if r.cell_id]
    assert [r.cell_id for r in records] == [f"done-{i}" for i in range(n)]
    assert all(r.status == "ok" for r in records)
    assert not list((_isolated_store.parent / "records.db.journals").glob("*.jsonl")), "recovered journals go"


def test_a_kernel_killed_during_a_cell_leaves_a_died_record_for_it(start_kernel, _isolated_store: Path) -> None:
    kernel = start_kernel(extra_arguments=LOADED)
    kernel.run("ok = 1", cell_id="before")
    kernel.kc.execute("import time\nblob = bytearray(300 * 2**20)\nblob[::4096] = b'x' * len(blob[::4096])\n"
                      "time.sleep(30)")
    time.sleep(3.5)  # long enough for a heartbeat with the cell's RSS (one a second after the first)
    kill(kernel)
    store = SQLiteStore(_isolated_store)
    records = store.history(None, 100)
    assert [r.cell_id for r in records][:1] == ["before"] and len(records) == 2
    died = records[-1]
    assert died.status == "died" and "time.sleep(30)" in died.source
    assert died.execution_count == records[0].execution_count + 1, [r.execution_count for r in records]
    wall = died.readings["wall_s"]
    assert wall.method == "estimated" and 2.0 <= wall.value <= 30, wall  # started, then seen alive ~3 s
    rss = died.readings["rss_peak_bytes"]
    assert rss.value >= 300 * 2**20, rss  # the 300 MiB it had touched
    assert "the kernel died while this cell ran" in died.notes[0]
    store.close()


def test_four_kernels_writing_2500_cells_each_lose_nothing(start_kernel, _isolated_store: Path) -> None:
    per_kernel = 2500
    kernels = [start_kernel(notebook=f"/work/nb/load{i}.ipynb", extra_arguments=LOADED) for i in range(4)]
    for kernel in kernels:
        kernel.run("%nbprofile footer off", settle=False)
    errors: list[BaseException] = []

    def drive(i: int) -> None:
        try:
            for j in range(per_kernel):
                kernel = kernels[i]
                kernel.run(f"x = {j}", cell_id=f"k{i}-{j}", settle=False)
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(i,)) for i in range(4)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    assert not errors, errors
    store = SQLiteStore(_isolated_store)
    deadline = time.monotonic() + 20  # each kernel's writer moves its journal in within about a second
    while store.count() < 4 * (per_kernel + 1) and time.monotonic() < deadline:
        time.sleep(0.1)
    for i in range(4):
        ids = {r.cell_id for r in store.history(f"/work/nb/load{i}.ipynb", 10**6) if r.cell_id}
        assert ids == {f"k{i}-{j}" for j in range(per_kernel)}, f"kernel {i} lost {per_kernel - len(ids)}"
    print(f"\n4 kernels x {per_kernel} cells into one store: {4 * per_kernel / elapsed:.0f} cells/s, no loss")
