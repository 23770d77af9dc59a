"""A running cell's numbers under it, once a second after two (the engine's live view).

Where a frontend draws footers itself (JupyterLab with the extension), the numbers go over
nbprofile's channel and the page draws them where the footer will be. Elsewhere in a kernel
(VS Code, Notebook 6, nbclient) they are one output updated in place (a ``display_id``),
which the cell's footer then replaces: nothing is left behind. A terminal shows none.
"""

from __future__ import annotations

import uuid
from typing import Any

from nbprofile.ipython.channel import FrontendChannel
from nbprofile.record import LiveNumbers
from nbprofile.report.footer import live_text


class LiveDisplay:
    """The engine's live listener for one shell; called from the OOM guard's thread."""

    def __init__(self, shell: Any, channel: FrontendChannel) -> None:
        self.shell = shell
        self.channel = channel
        self._cell_id: str | None = None
        self._parent: dict[str, Any] | None = None
        self._display_id: str | None = None

    def begin(self, cell_id: str | None) -> None:
        """A cell starts (main thread): where its numbers will go."""
        self._cell_id = cell_id
        self._display_id = None
        pub = getattr(self.shell, "display_pub", None)
        # the cell's request: a message sent from another thread names it, so the frontend
        # puts the output under this cell
        self._parent = getattr(pub, "parent_header", None)

    def take_display_id(self) -> str | None:
        """The output the numbers went to, for the footer to replace (main thread, cell over)."""
        display_id, self._display_id = self._display_id, None
        return display_id

    def __call__(self, numbers: LiveNumbers) -> None:
        text = live_text(numbers)
        if self.channel.draws_footer_of(self._cell_id):
            live = {"cell_id": self._cell_id, "text": text, "numbers": numbers.to_json()}
            self.channel.send({"live": live})
            return
        pub = getattr(self.shell, "display_pub", None)
        session, socket = getattr(pub, "session", None), getattr(pub, "pub_socket", None)
        if session is None or socket is None or self._parent is None:
            return  # a terminal, or not ipykernel's publisher: no live line
        first = self._display_id is None
        if first:
            self._display_id = f"nbprofile-live-{uuid.uuid4().hex}"
        content = {"data": {"text/plain": text}, "metadata": {},
                   "transient": {"display_id": self._display_id}}
        session.send(socket, "display_data" if first else "update_display_data", content,
                     parent=self._parent, ident=getattr(pub, "topic", None))
