"""Ctrl-C in a profiled kernel (JupyterLab's interrupt button): the user's cell stops, its record says
so, and the kernel goes on measuring."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
LOADED = ["--InteractiveShellApp.extensions=['nbprofile']"]


def test_interrupting_a_profiled_cell_stops_it_and_records_it(start_kernel, _isolated_store: Path) -> None:
    kernel = start_kernel(extra_arguments=LOADED)
    assert kernel.run("x = 1", cell_id="warm").status == "ok"
    timer = threading.Timer(1.0, kernel.interrupt)
    timer.start()
    reply = kernel.run("import time\ntime.sleep(60)\nnever = True", cell_id="long", timeout=50)
    timer.join()
    assert reply.status == "error" and reply.error["ename"] == "KeyboardInterrupt"
    assert reply.footers, "the interrupted cell still gets its footer"
    after = kernel.run("print('alive')", cell_id="after")
    assert after.stdout == "alive\n" and after.footers
    assert kernel.run("print('never' in dir())").stdout == "False\n"
    records = {r.cell_id: r for r in SQLiteStore(_isolated_store).history(None, 100) if r.cell_id}
    long = records["long"]
    assert (long.status, long.error_type) == ("interrupted", "KeyboardInterrupt")
    assert 0.5 < long.value("wall_s") < 40 and records["after"].status == "ok"
    assert not long.notes, long.notes  # no meter was blamed for the user's Ctrl-C
