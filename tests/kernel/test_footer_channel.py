"""The footer over nbprofile's channel: a frontend that draws footers itself (JupyterLab with
the extension) gets them as comm messages and the notebook gets no footer output; every
other frontend keeps the footer as an output."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.store import stored

pytestmark = pytest.mark.kernel


def load(k) -> str:
    """Load nbprofile; return the id of the comm it opens to the frontends."""
    reply = k.run("%load_ext nbprofile", cell_id="load")
    (opened,) = [c for c in reply.comm_opens if c["target_name"] == "nbprofile"]
    assert opened["data"] == {"protocol": 1}
    return str(opened["comm_id"])


def with_frontend(k) -> str:
    """Load nbprofile and say hello on its channel, as JupyterLab with the extension does."""
    comm_id = load(k)
    k.comm_send(comm_id, {"hello": 1})
    return comm_id


def test_a_frontend_that_said_hello_gets_the_footer_and_no_output_is_saved(start_kernel,
                                                                        _isolated_store: Path) -> None:
    k = start_kernel()
    with_frontend(k)
    reply = k.run("print('hi')\nx = sum(range(10_000))", cell_id="cell-a")
    assert reply.stdout == "hi\n"
    assert reply.displays == [], "the footer must not be an output (it would be saved into the .ipynb)"
    (message,) = reply.comm_msgs
    footer = message["footer"]
    assert footer["cell_id"] == "cell-a"
    assert "nbprofile-footer" in footer["bundle"]["text/html"] and footer["bundle"]["text/plain"]
    # the compact summary a user may keep in the cell's metadata is the compact footer's text
    assert footer["summary"]["text"] == footer["bundle"]["text/plain"]
    assert footer["summary"]["status"] == "ok" and footer["summary"]["verdict"] is None
    (record,) = stored(_isolated_store)
    assert footer["run_id"] == record.run_id and footer["seq"] == record.seq
    assert footer["execution_count"] == reply.execution_count


def test_without_a_hello_the_footer_stays_an_output(start_kernel) -> None:
    k = start_kernel()
    load(k)  # a frontend without the extension (VS Code, nbclient) never answers
    reply = k.run("x = 1", cell_id="cell-a")
    assert len(reply.footers) == 1 and reply.comm_msgs == []


def test_cells_no_notebook_sent_and_frontends_that_left_get_outputs(start_kernel) -> None:
    k = start_kernel()
    comm_id = with_frontend(k)
    console = k.run("x = 1")  # no cellId: a console or another client of the same kernel
    assert len(console.footers) == 1 and console.comm_msgs == []
    k.comm_send(comm_id, {"goodbye": 1})
    after = k.run("x = 2", cell_id="cell-b")
    assert len(after.footers) == 1 and after.comm_msgs == []


def test_a_reloaded_page_finds_the_open_channel(start_kernel) -> None:
    k = start_kernel()
    comm_id = load(k)
    assert k.comm_info("nbprofile") == {comm_id: {"target_name": "nbprofile"}}
    k.run("%unload_ext nbprofile")
    assert k.comm_info("nbprofile") == {}, "unloading closes the channel"
