"""The status bar's readout: a kernel's memory now, read by the server from the OS."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from jupyter_core.utils import ensure_async
from tornado.httpclient import HTTPClientError

from nbprofile.server.kernel_usage import kernel_pid, kernel_usage, process_rss


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


async def usage(jp_fetch: Any, kernel_id: str) -> dict[str, Any]:
    response = await jp_fetch("nbprofile", "api", "kernels", kernel_id, "usage")
    return dict(json.loads(response.body))


async def test_a_running_kernels_memory_grows_with_what_it_holds(jp_fetch, jp_serverapp) -> None:
    response = await jp_fetch("api", "kernels", method="POST", body=json.dumps({"name": "python3"}))
    kernel_id = json.loads(response.body)["id"]
    client = jp_serverapp.kernel_manager.get_kernel(kernel_id).client()
    client.start_channels()
    try:
        await ensure_async(client.wait_for_ready(timeout=60))
        before = await usage(jp_fetch, kernel_id)
        assert before["reason"] is None
        assert 10 * 2**20 < before["rss_bytes"] < 2**30  # a python kernel: tens of MiB
        assert before["limit_bytes"] is None or before["limit_bytes"] > before["rss_bytes"]
        # what the kernel holds shows: 200 MiB more after it allocates them
        reply = await ensure_async(client.execute_interactive("held = b'x' * (200 * 2**20)", timeout=60))
        assert reply["content"]["status"] == "ok"
        after = await usage(jp_fetch, kernel_id)
        assert after["rss_bytes"] - before["rss_bytes"] > 150 * 2**20
    finally:
        client.stop_channels()
        await jp_fetch("api", "kernels", kernel_id, method="DELETE")


async def test_an_unknown_kernel_is_404(jp_fetch) -> None:
    with pytest.raises(HTTPClientError) as raised:
        await usage(jp_fetch, "no-such-kernel")
    assert raised.value.code == 404


def test_a_remote_kernel_has_no_memory_here_and_says_why() -> None:
    class RemoteKernel:
        provisioner = None  # a gateway's kernel: no process on this machine

    found = kernel_usage(RemoteKernel())
    assert found["rss_bytes"] is None and "does not run on the server's machine" in found["reason"]


def test_a_process_that_is_gone_is_unavailable(tmp_path: Path) -> None:
    assert process_rss(2**22 + 12345) is None
    assert kernel_pid(object()) is None
