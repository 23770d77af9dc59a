"""nbprofile: measure every notebook cell, keep the numbers, judge them against budgets.

``%load_ext nbprofile`` in IPython or Jupyter starts measuring every cell;
``with nbprofile.measure("step") as m:`` measures a block in any Python program,
``with nbprofile.budget("time<=2s"):`` judges one. The package's map is
``docs/architecture.md``.
"""

from __future__ import annotations

from typing import Any

from nbprofile._version import __version__
from nbprofile.errors import BudgetExceeded, NbprofileError

__all__ = [
    "BudgetExceeded",
    "NbprofileError",
    "__version__",
    "budget",
    "load_ipython_extension",
    "measure",
    "unload_ipython_extension",
]


def load_ipython_extension(shell: Any) -> None:
    """``%load_ext nbprofile``: measure every cell from the next one on."""
    from nbprofile.ipython.extension import load

    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    """``%unload_ext nbprofile``: unhook, remove the magics, release the meters and the store."""
    from nbprofile.ipython.extension import unload

    unload(shell)


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nbprofile"}]


def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbprofile"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """The REST API the JupyterLab panel reads (enabled by installing the package)."""
    from nbprofile.server import load

    load(server_app)


def __getattr__(name: str) -> object:
    # measure() and budget() bring the engine (meters, store); `import nbprofile` alone
    # (the server, the CLI) stays light, so they are imported on first use.
    if name in ("measure", "budget"):
        from nbprofile import blocks

        return getattr(blocks, name)
    raise AttributeError(f"module 'nbprofile' has no attribute {name!r}")
