"""Issue 9: what was shown is stored, even when the kernel is killed; many kernels lose nothing."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
LOADED = ["--InteractiveShellApp.extensions=['nbprofile']"]


def test_a_killed_kernel_leaves_exactly_the_completed_cells(start_kernel, _isolated_store: Path) -> None:
    kernel = start_kernel(extra_arguments=LOADED)
    n = 23  # not a multiple of any batch size: a store written in batches would lose the last few
    reader = SQLiteStore(_isolated_store)
    for i in range(n):
        reply = kernel.run(f"r{i} = {i} ** 2", cell_id=f"done-{i}")
        assert reply.footers, "the footer shows once the record is committed"
        assert reader.count() == i + 1, "a record is in the store by the time its footer shows"
    reader.close()
    kernel.km.signal_kernel(signal.SIGKILL)
    deadline = time.time() + 10
    while kernel.km.is_alive() and time.time() < deadline:
        time.sleep(0.05)
    assert not kernel.km.is_alive()
    records = [r for r in SQLiteStore(_isolated_store).history(None, 1000) if r.cell_id]
    assert [r.cell_id for r in records] == [f"done-{i}" for i in range(n)]


def test_four_kernels_writing_2500_cells_each_lose_nothing(start_kernel, _isolated_store: Path) -> None:
    per_kernel = 2500
    kernels = [start_kernel(notebook=f"/work/nb/load{i}.ipynb", extra_arguments=LOADED) for i in range(4)]
    for kernel in kernels:
        kernel.run("%nbprofile footer off")
    errors: list[BaseException] = []

    def drive(i: int) -> None:
        try:
            for j in range(per_kernel):
                kernel = kernels[i]
                kernel.run(f"x = {j}", cell_id=f"k{i}-{j}")
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
    for i in range(4):
        ids = {r.cell_id for r in store.history(f"/work/nb/load{i}.ipynb", 10**6) if r.cell_id}
        assert ids == {f"k{i}-{j}" for j in range(per_kernel)}, f"kernel {i} lost {per_kernel - len(ids)}"
    print(f"\n4 kernels x {per_kernel} cells into one store: {4 * per_kernel / elapsed:.0f} cells/s, no loss")
