"""nbprofile's own channel to frontends that draw the footer themselves: one comm.

A footer sent as a ``display_data`` output is saved into the ``.ipynb``: every re-run changes
the file and shows in a git diff. JupyterLab (and Notebook 7) with nbprofile's extension draws
the footer under the cell from this channel instead, as jupyterlab-execute-time draws its
timing, so nothing of nbprofile's is saved with the notebook.

The kernel opens the comm when nbprofile loads. A frontend that knows it answers ``hello``:
at once, when it is connected (it registered the comm target), or later, after a page reload
(it finds the open comm with a ``comm_info_request``, as ipywidgets does). Until a frontend
has said hello, and for cells that no notebook sent (no ``cellId``: a console, the terminal,
nbclient), the footer stays an output: VS Code, nbclient and the terminal see what they always saw.
"""

from __future__ import annotations

from typing import Any

#: the comm's target name, shared with the extension (labextension/src/footer/channel.ts)
TARGET = "nbprofile"
#: bumped when a message changes shape; the frontend says which it speaks in its hello
PROTOCOL = 1


class FrontendChannel:
    """The kernel's end of the comm; closed when nbprofile unloads."""

    def __init__(self, shell: Any) -> None:
        self.shell = shell
        self._comm: Any = None
        #: frontends that said hello (their session ids), until they say goodbye
        self._frontends: set[str] = set()

    def open(self) -> None:
        """Open the comm, where the shell is a kernel's (a terminal has no frontend to talk to)."""
        if getattr(self.shell, "kernel", None) is None or self._comm is not None:
            return
        import comm  # ipykernel's comm package: present wherever there is a kernel

        self._comm = comm.create_comm(target_name=TARGET, data={"protocol": PROTOCOL})
        self._comm.on_msg(self._received)
        self._comm.on_close(self._closed)

    def close(self) -> None:
        if self._comm is not None:
            self._comm.close()
        self._comm = None
        self._frontends.clear()

    @property
    def listening(self) -> bool:
        return self._comm is not None and bool(self._frontends)

    def draws_footer_of(self, cell_id: str | None) -> bool:
        """True when a frontend that draws footers is listening and the cell came from a notebook."""
        return cell_id is not None and self.listening

    def send(self, data: dict[str, Any]) -> None:
        if self._comm is not None:
            self._comm.send(data)

    def _received(self, msg: dict[str, Any]) -> None:
        data = msg.get("content", {}).get("data") or {}
        session = str(msg.get("header", {}).get("session", ""))
        if data.get("hello") is not None:
            self._frontends.add(session)
        elif data.get("goodbye") is not None:
            self._frontends.discard(session)

    def _closed(self, msg: dict[str, Any]) -> None:
        self._comm = None  # a frontend closed it for everyone: outputs again
        self._frontends.clear()
