"""A real IPython kernel driven over ZMQ, as a frontend drives it: what each execute request produced."""

from __future__ import annotations

import os
import queue
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Reply:
    """Everything one execute request produced, as a frontend would see it."""

    status: str
    execution_count: int | None
    stdout: str = ""
    stderr: str = ""
    displays: list[dict[str, Any]] = field(default_factory=list)  # display_data bundles
    result: dict[str, Any] | None = None  # execute_result bundle
    error: dict[str, Any] | None = None  # ename, evalue, traceback
    order: list[str] = field(default_factory=list)  # "stdout", "stderr", "display", "footer", "result", "error"
    comm_opens: list[dict[str, Any]] = field(default_factory=list)  # comm_open contents (comm_id, target, data)
    comm_msgs: list[dict[str, Any]] = field(default_factory=list)  # comm_msg data, in order
    display_ids: list[str | None] = field(default_factory=list)  # each display_data's display_id
    updates: list[dict[str, Any]] = field(default_factory=list)  # update_display_data: display_id, data

    @property
    def footers(self) -> list[str]:
        return [d["text/plain"] for d in self.displays if "nbprofile-footer" in d.get("text/html", "")]


#: a silent request (no hooks run, no record) that writes the kernel's journal into the store now
SETTLE = ("import nbprofile.engine.current as _nbp_current\n"
          "_nbp_current.current() and _nbp_current.current().recorder.sync(force=True)")


class Kernel:
    """A real ipykernel started with jupyter_client; ``run`` sends one execute
    request with JupyterLab's ``cellId`` metadata and collects its messages."""

    def __init__(self, env: dict[str, str], extra_arguments: list[str] | None = None) -> None:
        from jupyter_client.manager import start_new_kernel

        self.km, self.kc = start_new_kernel(kernel_name="python3", env=env,
                                            extra_arguments=extra_arguments or [])

    def run(self, code: str, cell_id: str | None = None, timeout: float = 60, settle: bool = True) -> Reply:
        """Run a cell; with ``settle``, also wait until its record is in the store (the kernel's
        writer moves it there within about a second; tests read the store right away)."""
        reply = self._execute(code, cell_id, timeout, silent=False)
        if settle:
            self._execute(SETTLE, None, timeout, silent=True)
        return reply

    def _execute(self, code: str, cell_id: str | None, timeout: float, silent: bool) -> Reply:
        metadata = {"cellId": cell_id} if cell_id else {}
        msg = self.kc.session.msg(
            "execute_request",
            {"code": code, "silent": silent, "store_history": not silent, "user_expressions": {},
             "allow_stdin": False, "stop_on_error": True},
            metadata=metadata,
        )
        self.kc.shell_channel.send(msg)
        msg_id = msg["header"]["msg_id"]
        reply = Reply(status="", execution_count=None)
        while True:
            try:
                m = self.kc.get_iopub_msg(timeout=timeout)
            except queue.Empty:
                raise TimeoutError(f"no reply to {code!r} within {timeout} s") from None
            if m["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = m["msg_type"], m["content"]
            if kind == "stream":
                reply.order.append(content["name"])
                if content["name"] == "stdout":
                    reply.stdout += content["text"]
                else:
                    reply.stderr += content["text"]
            elif kind == "update_display_data":
                reply.updates.append({"display_id": content["transient"]["display_id"], "data": content["data"]})
                reply.order.append("update")
            elif kind == "display_data":
                reply.displays.append(content["data"])
                reply.display_ids.append(content.get("transient", {}).get("display_id"))
                footer = "nbprofile-footer" in content["data"].get("text/html", "")
                reply.order.append("footer" if footer else "display")
            elif kind == "comm_open":
                reply.comm_opens.append(content)
            elif kind == "comm_msg":
                reply.comm_msgs.append(content["data"])
                reply.order.append("comm")
            elif kind == "execute_result":
                reply.result = content["data"]
                reply.order.append("result")
            elif kind == "error":
                reply.error = {k: content[k] for k in ("ename", "evalue", "traceback")}
                reply.order.append("error")
            elif kind == "status" and content["execution_state"] == "idle":
                break
        while True:  # the reply to this request, not a stray one
            shell_reply = self.kc.get_shell_msg(timeout=timeout)
            if shell_reply["parent_header"].get("msg_id") == msg_id:
                break
        reply.status = shell_reply["content"]["status"]
        reply.execution_count = shell_reply["content"].get("execution_count")
        return reply

    def comm_send(self, comm_id: str, data: dict[str, Any]) -> None:
        """Send ``data`` on an open comm, as a frontend does (handled once the kernel is idle)."""
        msg = self.kc.session.msg("comm_msg", {"comm_id": comm_id, "data": data})
        self.kc.shell_channel.send(msg)

    def comm_info(self, target: str) -> dict[str, Any]:
        """The comms the kernel has open for ``target`` (what a reloaded page asks)."""
        msg = self.kc.session.msg("comm_info_request", {"target_name": target})
        self.kc.shell_channel.send(msg)
        while True:
            reply = self.kc.get_shell_msg(timeout=10)
            if reply["parent_header"].get("msg_id") == msg["header"]["msg_id"]:
                return dict(reply["content"]["comms"])

    def interrupt(self) -> None:
        self.km.interrupt_kernel()

    def shutdown(self) -> None:
        self.kc.stop_channels()
        self.km.shutdown_kernel(now=True)


def kernel_env(tmp_path: Path, db: Path, notebook: str | None) -> dict[str, str]:
    env = dict(os.environ)
    env["NBPROFILE_DB"] = str(db)
    env["IPYTHONDIR"] = str(tmp_path / "ipython")
    env["PYTHONWARNINGS"] = "default"
    if notebook is not None:
        env["JPY_SESSION_NAME"] = notebook
    return env
