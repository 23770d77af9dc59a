"""The extension as ``nbprofile run`` loads it into its kernel.

Loaded under this name, a notebook's own ``%load_ext nbprofile`` later finds the
profiler in place and says nothing, instead of IPython's "already loaded".
"""

from __future__ import annotations

from typing import Any

from nbprofile.ipython.extension import load, unload


def load_ipython_extension(shell: Any) -> None:
    load(shell)


def unload_ipython_extension(shell: Any) -> None:
    unload(shell)
