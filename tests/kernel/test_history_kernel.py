"""`%nbprofile history` and `%nbprofile last` as a notebook user sees them in a real kernel: one table,
the user's own cells (not nbprofile's magic cells), and `last` is the user's previous cell."""

from __future__ import annotations

from pathlib import Path

import pytest

pytestmark = pytest.mark.kernel
LOADED = ["--InteractiveShellApp.extensions=['nbprofile']"]


def test_history_is_one_table_of_the_users_cells_and_last_is_the_users_cell(
        start_kernel, _isolated_store: Path) -> None:
    kernel = start_kernel(extra_arguments=LOADED)
    kernel.run("alpha = 1", cell_id="a")
    kernel.run("%nbprofile status", cell_id="s")
    kernel.run("beta = 2", cell_id="b")
    kernel.run("%nbprofile footer compact", cell_id="f")
    last = kernel.run("%nbprofile last", cell_id="l")
    assert "beta = 2" not in last.stdout  # the table is the result, not printed
    shown = last.result["text/plain"]
    assert "cell b," in shown, shown  # the user's cell, not the %nbprofile footer cell before it
    history = kernel.run("%nbprofile history", cell_id="h")
    assert history.order == ["result", "footer"], history.order  # one table (rich drew a second before)
    text = history.result["text/plain"]
    assert "alpha = 1" in text and "beta = 2" in text
    assert "%nbprofile" not in text, text  # nbprofile's own cells are left out...
    everything = kernel.run("%nbprofile history --all", cell_id="h2").result["text/plain"]
    assert "%nbprofile status" in everything  # ...unless asked for
