"""Showing things under the running cell: the footer, and nbprofile's own notices.

In a kernel, a bundle goes out as a ``display_data`` message; in a terminal, the
footer's text is printed (``display()`` would also file it in IPython 9's output
history, one more entry per cell for the whole session).
"""

from __future__ import annotations

import html
import sys
from typing import Any

from nbprofile.record import CellRecord
from nbprofile.report.footer import footer_bundle, footer_text


def show_footer(shell: Any, record: CellRecord, mode: str) -> None:
    if getattr(shell, "kernel", None) is None:
        print(footer_text(record, mode))
    else:
        publish_bundle(shell, footer_bundle(record, mode))


def publish(shell: Any, text: str, *, css_class: str, style: str = "") -> None:
    """A notice under the cell: plain text, and HTML with the text escaped."""
    body = html.escape(text).replace("\n", "<br>")
    publish_bundle(shell, {"text/plain": text,
                           "text/html": f'<div class="{css_class}" style="{style}">{body}</div>'})


def publish_bundle(shell: Any, bundle: dict[str, str]) -> None:
    """Show a bundle under the running cell.

    ``display()`` in ipykernel first flushes stdout and stderr, each a round trip
    to the I/O thread (~300 µs) even with nothing to flush. When both streams'
    buffers are empty, everything the cell printed is already queued on that
    thread ahead of this message, so it is sent straight away, in order.
    """
    pub = getattr(shell, "display_pub", None)
    if pub is not None and _streams_idle():
        session, socket = getattr(pub, "session", None), getattr(pub, "pub_socket", None)
        if session is not None and socket is not None:  # else not ipykernel's publisher: display()
            session.send(socket, "display_data", {"data": bundle, "metadata": {}, "transient": {}},
                         parent=pub.parent_header, ident=getattr(pub, "topic", None))
            return
    from IPython.display import display

    display(bundle, raw=True)  # type: ignore[no-untyped-call]


def _streams_idle() -> bool:
    """True only when stdout and stderr are ipykernel streams with nothing buffered."""
    for stream in (sys.stdout, sys.stderr):
        buffers, lock = getattr(stream, "_buffers", None), getattr(stream, "_buffer_lock", None)
        if not isinstance(buffers, dict) or lock is None:
            return False  # another ipykernel or a redirect: let display() flush
        with lock:
            if any(buffer.tell() for buffer in buffers.values()):
                return False
    return True
