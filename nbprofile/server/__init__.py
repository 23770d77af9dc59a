"""The Jupyter server extension: nbprofile's REST API for the JupyterLab panel."""

from __future__ import annotations

from typing import Any

from traitlets import Unicode
from traitlets.config import Configurable

from nbprofile.server.handlers import setup_handlers


class Nbprofile(Configurable):
    """Server-side settings (``c.Nbprofile.db = ...`` in jupyter_server_config.py)."""

    db = Unicode(
        "", config=True,
        help="Record store the panel reads. Default: $NBPROFILE_DB, else the user's store "
             "(nbprofile/records.db in Jupyter's data directory), the one kernels write to.",
    )


def load(server_app: Any) -> None:
    settings = Nbprofile(config=server_app.config)
    setup_handlers(server_app.web_app, settings.db or None)
    server_app.log.info("nbprofile: REST API at /nbprofile/api/")
