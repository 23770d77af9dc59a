"""Issue 9: a meter that raises or hangs never changes what the user's cells do.

Each default meter in turn is broken inside a real kernel (through the kernel's
exec_lines, which run before the first cell and do not count as cells), then a
user's cells run and everything the user sees is compared with plain IPython.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel

CELLS = ["x = 6 * 7\nx", "print('hello')", "import math\nmath.sqrt(-1)", "y = x + 1\ny", "z = [i for i in range(10**5)]"]
METERS = ["nvml", "torch_cuda", "memory", "cpu_energy", "cpu", "flops", "wall"]
BREAK = {
    # the injection line is itself run as a cell, whose end must not fail yet: skip one call
    "raise": "_orig, _n = _m.end, [0]; _m.end = lambda *a, **k: _orig(*a, **k) if (_n.append(1) or len(_n) < 3)"
             " else (_ for _ in ()).throw(OSError('injected fault'))",
    "hang": "_m.begin = lambda *a, **k: __import__('time').sleep(60)",
}


def what_the_user_sees(reply) -> tuple:
    return (reply.status, reply.execution_count, reply.stdout, reply.result, reply.error)


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> list[tuple]:
    from tests.support.kernel import Kernel, kernel_env

    tmp = tmp_path_factory.mktemp("plain")
    kernel = Kernel(kernel_env(tmp, tmp / "unused.db", "/work/nb/plain.ipynb"))
    try:
        return [what_the_user_sees(kernel.run(code)) for code in CELLS]
    finally:
        kernel.shutdown()


@pytest.mark.parametrize("mode", ["raise", "hang"])
@pytest.mark.parametrize("meter", METERS)
def test_broken_meter_leaves_the_cells_alone(start_kernel, plain, _isolated_store: Path, meter: str, mode: str) -> None:
    inject = (f"from nbprofile.engine import current; _m = next(m for m in current.current().windows.meters if m.name == {meter!r}); "
              + BREAK[mode])
    kernel = start_kernel(extra_arguments=[
        "--InteractiveShellApp.extensions=['nbprofile']",
        f"--InteractiveShellApp.exec_lines=[{inject!r}]",
    ])
    started = time.perf_counter()
    replies = [kernel.run(code, cell_id=f"c{i}") for i, code in enumerate(CELLS)]
    elapsed = time.perf_counter() - started
    assert [what_the_user_sees(r) for r in replies] == plain
    warnings = [line for r in replies for line in r.stderr.splitlines() if "nbprofile" in line]
    assert len(warnings) == 1 and f"{meter} meter failed" in warnings[0], warnings
    if mode == "hang":
        assert "did not answer within 2 s" in warnings[0]
        assert elapsed < 10, "a hung meter must be bounded by the guard's timeout"
    records = [r for r in SQLiteStore(_isolated_store).history(None, 50) if r.cell_id]
    assert [r.cell_id for r in records] == [f"c{i}" for i in range(len(CELLS))]
    assert any(f"{meter} meter failed" in note for note in records[0].notes)
    for key in ("wall_s", "cpu_s", "rss_peak_bytes"):
        owner = {"wall_s": "wall", "cpu_s": "cpu", "rss_peak_bytes": "memory"}[key]
        reading = records[-1].readings[key]
        if owner == meter:
            assert reading.value is None and "failed" in (reading.note or "")
        else:
            assert reading.value is not None, f"{key} lost because {meter} broke"
