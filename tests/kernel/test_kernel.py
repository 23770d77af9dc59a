"""Issue 2's acceptance, through a real kernel: what a JupyterLab user's cells record."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel

MiB = 1024**2
NOTEBOOK = "/work/nb/analysis.ipynb"


def records(db: Path, notebook: str = NOTEBOOK) -> list:
    store = SQLiteStore(db)
    try:
        return store.history(notebook, limit=100_000)
    finally:
        store.close()


def by_cell(db: Path, cell_id: str):
    matches = [r for r in records(db) if r.cell_id == cell_id]
    assert len(matches) == 1, f"expected one record for {cell_id}, got {len(matches)}"
    return matches[0]


def test_cells_are_measured_and_stored_with_their_ids(start_kernel, _isolated_store: Path) -> None:
    k = start_kernel()
    load = k.run("%load_ext nbprofile", cell_id="load")
    assert "measuring every cell" in load.stdout

    # Each cell reports what it observed of itself, so that the checks below compare the record
    # with the cell, not with a quiet machine's timing.
    sleep_code = "import time\nt0 = time.perf_counter()\ntime.sleep(0.2)\nprint(time.perf_counter() - t0)"
    sleep = k.run(sleep_code, cell_id="c-sleep")
    busy = k.run(
        "import time\nt0, c0 = time.perf_counter(), time.process_time()\n"
        "while time.perf_counter() - t0 < 1.0:\n    pass\n"
        "print(time.perf_counter() - t0, time.process_time() - c0)",
        cell_id="c-busy",
    )
    # An earlier, larger peak: only a per-cell reset of the high-water mark can
    # then show the 400 MiB cell's own peak.
    k.run("big = bytearray(600 * 1024 * 1024)\ndel big", cell_id="c-big")
    alloc = k.run("b = bytearray(400 * 1024 * 1024)\nb[::4096] = b'x' * len(b[::4096])\ndel b",
                  cell_id="c-alloc")

    rec = by_cell(_isolated_store, "c-sleep")
    body = float(sleep.stdout)  # the sleep as the cell itself timed it
    # the window holds the body and only the hooks' edges around it: no earlier or later cell
    assert body <= rec.value("wall_s") < body + 0.1 + 0.1 * body, (rec.value("wall_s"), body)
    assert rec.readings["wall_s"].method == "measured"
    assert rec.status == "ok" and rec.error_type is None
    assert rec.notebook == NOTEBOOK
    assert rec.execution_count == sleep.execution_count
    assert rec.source == sleep_code

    rec = by_cell(_isolated_store, "c-busy")
    wall, cpu = rec.value("wall_s"), rec.value("cpu_s")
    body_wall, body_cpu = map(float, busy.stdout.split())
    # a loaded machine gives the loop less CPU than wall time; the record agrees with the loop itself
    assert body_wall <= wall < body_wall + 0.1 + 0.1 * body_wall, (wall, body_wall)
    assert body_cpu - 0.01 <= cpu < body_cpu + 0.05 + 0.1 * body_cpu, (cpu, body_cpu)

    rec = by_cell(_isolated_store, "c-alloc")
    increase = rec.value("rss_peak_bytes") - rec.value("rss_start_bytes")
    # the 400 MiB cell's own peak: not the earlier 600 MiB one, not less than it touched
    assert 0.98 * 400 * MiB <= increase < 450 * MiB, increase / MiB
    assert rec.readings["rss_peak_bytes"].method == "measured"
    assert rec.readings["rss_peak_bytes"].source == "clear_refs+VmHWM"

    # the footer is what was stored, under the cell, in text and HTML
    for reply in (sleep, busy, alloc):
        assert len(reply.footers) == 1
    assert alloc.footers[0].startswith(("1", "2", "3", "4", "5", "6", "7", "8", "9"))
    assert "peak RAM" in alloc.footers[0] and "(+40" in alloc.footers[0], alloc.footers[0]
    assert " wall · " in sleep.footers[0] and " CPU · " in sleep.footers[0]


def test_errors_are_recorded_and_the_traceback_is_unchanged(start_kernel, _isolated_store: Path) -> None:
    cells = ["x = 1", "def f():\n    return 1 / 0\n", "f()"]
    plain = start_kernel()
    plain_replies = [plain.run(code) for code in cells]

    profiled = start_kernel()
    profiled.run("%load_ext nbprofile", cell_id="load")
    # the load cell shifts the execution count by one: run one cell less before
    profiled_replies = [profiled.run(code, cell_id=f"e{i}") for i, code in enumerate(cells[1:], 1)]

    assert plain_replies[-1].error is not None
    got, want = profiled_replies[-1].error, plain_replies[-1].error
    assert got == want, "nbprofile changed what the user sees of the exception"
    assert profiled_replies[-1].status == plain_replies[-1].status == "error"
    assert profiled_replies[-1].stdout == plain_replies[-1].stdout == ""

    rec = by_cell(_isolated_store, "e2")
    assert rec.status == "error"
    assert rec.error_type == "ZeroDivisionError"
    assert rec.value("wall_s") is not None
    assert len(profiled_replies[-1].footers) == 1  # measured and shown even though it raised

    syntax = profiled.run("def broken(:\n    pass", cell_id="e-syntax")
    assert syntax.error["ename"] == "SyntaxError"
    assert by_cell(_isolated_store, "e-syntax").error_type == "SyntaxError"


def test_unload_restores_the_shell(start_kernel, _isolated_store: Path) -> None:
    k = start_kernel()
    probe = ("ip = get_ipython()\n"
             "print(len(ip.events.callbacks['pre_run_cell']), len(ip.events.callbacks['post_run_cell']),"
             " 'nbprofile' in ip.magics_manager.magics['line'], 'budget' in ip.magics_manager.magics['cell'])")
    before = k.run(probe).stdout
    k.run("%load_ext nbprofile")
    loaded = k.run(probe)
    assert loaded.stdout != before and len(loaded.footers) == 1
    k.run("%unload_ext nbprofile")
    after = k.run(probe, cell_id="after")
    assert after.stdout == before
    assert after.footers == [] and after.displays == []
    gone = k.run("%nbprofile status")
    assert gone.status == "error"
    assert "UsageError: Line magic function `%nbprofile` not found." in gone.stderr
    assert not any(r.cell_id == "after" for r in records(_isolated_store))


def test_two_kernels_writing_at_once_lose_no_record(start_kernel, _isolated_store: Path) -> None:
    n = 150
    kernels = [start_kernel(notebook=f"/work/nb/k{i}.ipynb") for i in range(2)]
    for k in kernels:
        k.run("%load_ext nbprofile\n%nbprofile footer off")
    errors: list[BaseException] = []

    def drive(i: int, k) -> None:
        try:
            for j in range(n):
                k.run(f"x = {j}", cell_id=f"k{i}-{j}")
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=drive, args=(i, k)) for i, k in enumerate(kernels)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors
    for i, k in enumerate(kernels):
        got = records(_isolated_store, f"/work/nb/k{i}.ipynb")
        missing = sorted({f"k{i}-{j}" for j in range(n)} - {r.cell_id for r in got})
        if missing:  # say why: the kernel's own view of its store
            state = k.run("from nbprofile.engine import current; p = current.current()\n"
                          "print(len(p.recorder.unsaved), p.recorder.store_error)").stdout
            pytest.fail(f"kernel {i} lost {missing[:10]} ({len(missing)}); unsaved, error, warnings: {state}")
        assert sorted(r.cell_id for r in got) == sorted(f"k{i}-{j}" for j in range(n))
        assert len({r.run_id for r in got}) == 1


def test_peak_is_the_kernels_own_not_its_parents(start_kernel, _isolated_store: Path) -> None:
    """A kernel inherits its spawner's peak in ru_maxrss (the kernel sets it at exec);
    the cell's peak must come from the kernel's own high-water mark."""
    ballast = bytearray(300 * MiB)  # the parent is large, as a Jupyter server is
    ballast[::4096] = b"x" * len(ballast[::4096])
    k = start_kernel()
    del ballast
    k.run("%load_ext nbprofile")
    k.run("x = 1", cell_id="small")
    rec = by_cell(_isolated_store, "small")
    assert rec.value("rss_peak_bytes") < 200 * MiB, rec.value("rss_peak_bytes") / MiB
    assert rec.value("rss_peak_bytes") - rec.value("rss_start_bytes") < 5 * MiB


def test_the_footer_comes_after_everything_the_cell_showed(start_kernel, _isolated_store: Path) -> None:
    k = start_kernel()
    k.run("%load_ext nbprofile")
    quiet = k.run("x = 1", cell_id="quiet")
    assert quiet.order == ["footer"]
    loud = k.run("import sys\nprint('out')\nsys.stderr.write('err\\n')\n"
                 "from IPython.display import display\ndisplay('shown')\nprint('late')",  # 'late' is still buffered
                 cell_id="loud")
    assert loud.stdout == "out\nlate\n" and loud.stderr == "err\n"
    assert loud.order[-1] == "footer" and loud.order.count("footer") == 1, loud.order
    assert loud.order[-2] == "stdout" and {"stderr", "display"} <= set(loud.order), loud.order
    failing = k.run("print('before')\n1 / 0", cell_id="failing")
    assert failing.order[0] == "stdout" and "footer" in failing.order, failing.order
    assert failing.order.index("stdout") < failing.order.index("footer"), failing.order


def test_a_cell_that_runs_cells_is_one_record_with_one_footer(start_kernel, _isolated_store: Path) -> None:
    # %%capture (like %rerun, %edit and get_ipython().run_cell) runs its body as a cell of its own
    k = start_kernel()
    k.run("%load_ext nbprofile")
    captured = k.run("%%capture cap\nimport time\nprint('hidden')\ntime.sleep(0.05)", cell_id="capture")
    assert captured.stdout == "" and captured.order == ["footer"], captured.order
    shown = k.run("print(cap.stdout, end='')\nprint(len(cap.outputs))", cell_id="shown")
    assert shown.stdout == "hidden\n0\n", "the footer went into the user's capture"
    inner = k.run("get_ipython().run_cell('y = 2')\nget_ipython().run_cell('   ')\nimport time\n"
                  "time.sleep(0.05)\ny", cell_id="inner")
    assert inner.result["text/plain"] == "2" and inner.order.count("footer") == 1, inner.order
    after = k.run("z = 3", cell_id="after")
    assert after.order == ["footer"]

    got = {r.cell_id: r for r in records(_isolated_store)}
    assert got["capture"].source.startswith("%%capture cap") and got["capture"].value("wall_s") >= 0.05
    assert got["capture"].execution_count == captured.execution_count
    assert got["inner"].value("wall_s") >= 0.05 and got["inner"].execution_count == inner.execution_count
    assert "after" in got and len([r for r in records(_isolated_store) if r.cell_id is None]) == 0
