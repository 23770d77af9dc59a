"""``%load_ext nbprofile`` and ``%unload_ext nbprofile``: symmetric, and nothing else touches the shell.

Loading makes the process's :class:`~nbprofile.engine.profiler.Profiler`,
hooks it into the shell's cells, registers the magics and wraps the LLM SDKs
(when, and if, they are imported). Unloading undoes each of those.
"""

from __future__ import annotations

import os
import sys
from typing import Any

from nbprofile import llm
from nbprofile._version import __version__
from nbprofile.engine import current
from nbprofile.engine.launcher import launcher_command, notebook_from_launcher
from nbprofile.engine.profiler import Profiler
from nbprofile.ipython.hooks import CellHooks
from nbprofile.ipython.magics import NbprofileMagics


def load(shell: Any) -> None:
    """Measure every cell of ``shell`` from the next one on."""
    hooks = hooks_of(shell)
    profiler = current.current()
    if hooks is not None and profiler is hooks.profiler:
        return  # already measuring this shell (`nbprofile run` loads us first): nothing to add
    if profiler is not None:
        profiler.close()
    server_kernel = kernel_id()
    profiler = Profiler(notebook=notebook_path(shell, headless=server_kernel is None), kernel_id=server_kernel)
    if server_kernel is None and getattr(shell, "kernel", None) is not None:
        # a kernel no server started (nbconvert, papermill, an nbclient script): say what did
        command = launcher_command()
        if command is not None:
            profiler.run.extra["launched_by"] = command
    current.install(profiler)
    if hooks is not None:  # the shell's old hooks (their profiler was replaced): off
        hooks.unregister()
    hooks = CellHooks(shell, profiler)
    shell.register_magics(NbprofileMagics(shell, hooks))
    hooks.register()
    llm.install()  # wraps the openai / anthropic SDKs when (and if) they are imported
    measured = ", ".join(profiler.windows.measuring())
    print(f"nbprofile {__version__}: measuring every cell ({measured}); %nbprofile status for details")


def unload(shell: Any) -> None:
    """Unhook, remove the magics, release the meters and the store."""
    hooks = hooks_of(shell)
    if hooks is None:
        return
    hooks.unregister()
    if current.current() is hooks.profiler:
        current.install(None)
    hooks.profiler.close()
    llm.uninstall()
    llm.set_call_guard(None)
    manager = shell.magics_manager
    manager.magics["line"].pop("nbprofile", None)
    manager.magics["cell"].pop("budget", None)
    manager.registry.pop("NbprofileMagics", None)


def hooks_of(shell: Any) -> CellHooks | None:
    """The cell hooks nbprofile put on a shell, if it is loaded there (its magics hold them)."""
    magics = shell.magics_manager.registry.get(NbprofileMagics.__name__)
    return magics.hooks if isinstance(magics, NbprofileMagics) else None


def notebook_path(shell: Any, *, headless: bool = False) -> str | None:
    """The notebook this kernel serves, as the frontend named it at kernel start; for a
    kernel no Jupyter server started (``headless``), as its launcher's command line names it."""
    path = os.environ.get("JPY_SESSION_NAME")
    if not path and shell is not None:
        ns = shell.user_ns
        path = ns.get("__session__") or ns.get("__vsc_ipynb_file__")
    if not path and headless and getattr(shell, "kernel", None) is not None:
        path = notebook_from_launcher()
    return str(path) if path else None


def kernel_id() -> str | None:
    """The id a Jupyter server knows this kernel by (from its connection file's name)."""
    module = sys.modules.get("ipykernel.kernelapp")
    if module is None or not module.IPKernelApp.initialized():
        return None
    name = os.path.basename(module.IPKernelApp.instance().connection_file or "")
    if name.startswith("kernel-") and name.endswith(".json"):  # as jupyter_server names them
        return name[len("kernel-"):-len(".json")]
    return None  # a temporary connection file (nbclient): no id a server would know
