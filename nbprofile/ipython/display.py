"""Showing things under the running cell: the footer, and nbprofile's own notices.

Where a frontend draws footers itself (JupyterLab with the extension), the footer goes
over nbprofile's channel and is never an output saved into the notebook. Elsewhere in
a kernel, a bundle goes out as a ``display_data`` message; in a terminal, the footer's
text is printed (``display()`` would also file it in IPython 9's output history, one
more entry per cell for the whole session).
"""

from __future__ import annotations

import html
import sys
from typing import Any

from nbprofile.ipython.channel import PROTOCOL, FrontendChannel
from nbprofile.record import CellRecord
from nbprofile.report.footer import footer_bundle, footer_text


def show_footer(shell: Any, record: CellRecord, mode: str, channel: FrontendChannel | None = None,
                *, replace: str | None = None) -> None:
    """``replace``: the output showing the cell's live numbers, which the footer takes over."""
    if channel is not None and channel.draws_footer_of(record.cell_id):
        channel.send(footer_message(record, mode))
    elif getattr(shell, "kernel", None) is None:
        print(footer_text(record, mode))
    else:
        # marked, so that a page with the extension that has not said hello yet (the cells
        # "Run All" queued behind %load_ext) still moves it out of the outputs and draws it
        publish_bundle(shell, footer_bundle(record, mode), {"nbprofile": footer_marker(record)},
                       display_id=replace)


def clear_display(shell: Any, display_id: str) -> None:
    """Empty an output nbprofile showed (the live numbers of a cell whose footer is hidden)."""
    publish_bundle(shell, {"text/plain": ""}, display_id=display_id)


def footer_message(record: CellRecord, mode: str) -> dict[str, Any]:
    """What the frontend draws under the cell, and the compact summary it may keep in the
    cell's metadata (an option, for numbers that travel with the file)."""
    bundle = footer_bundle(record, mode)
    # the compact footer's text is the bundle's own text in the default mode: not made twice
    compact = bundle["text/plain"] if mode == "compact" else footer_text(record, "compact")
    return {"footer": {
        "cell_id": record.cell_id, "run_id": record.run_id, "seq": record.seq,
        "execution_count": record.execution_count, "bundle": bundle,
        "summary": {"text": compact, **footer_marker(record)},
    }}


def footer_marker(record: CellRecord) -> dict[str, Any]:
    """What marks a footer output as nbprofile's (its metadata), and what a summary keeps."""
    return {"footer": PROTOCOL, "run_id": record.run_id, "seq": record.seq,
            "status": record.status, "verdict": record.verdict_status,
            "execution_count": record.execution_count}


def publish(shell: Any, text: str, *, css_class: str, style: str = "") -> None:
    """A notice under the cell: plain text, and HTML with the text escaped."""
    body = html.escape(text).replace("\n", "<br>")
    publish_bundle(shell, {"text/plain": text,
                           "text/html": f'<div class="{css_class}" style="{style}">{body}</div>'})


def publish_bundle(shell: Any, bundle: dict[str, str], metadata: dict[str, Any] | None = None,
                   display_id: str | None = None) -> None:
    """Show a bundle under the running cell; with ``display_id``, in place of that output.

    ``display()`` in ipykernel first flushes stdout and stderr, each a round trip
    to the I/O thread (~300 µs) even with nothing to flush. When both streams'
    buffers are empty, everything the cell printed is already queued on that
    thread ahead of this message, so it is sent straight away, in order.
    """
    pub = getattr(shell, "display_pub", None)
    if pub is not None and _streams_idle():
        session, socket = getattr(pub, "session", None), getattr(pub, "pub_socket", None)
        if session is not None and socket is not None:  # else not ipykernel's publisher: display()
            kind, transient = (("update_display_data", {"display_id": display_id}) if display_id
                               else ("display_data", {}))
            session.send(socket, kind, {"data": bundle, "metadata": metadata or {}, "transient": transient},
                         parent=pub.parent_header, ident=getattr(pub, "topic", None))
            return
    from IPython.display import display

    if display_id is None:
        display(bundle, raw=True, metadata=metadata)  # type: ignore[no-untyped-call]
    else:
        display(bundle, raw=True, metadata=metadata,  # type: ignore[no-untyped-call]
                display_id=display_id, update=True)


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
