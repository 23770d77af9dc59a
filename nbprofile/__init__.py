"""nbprofile: measure every notebook cell, keep the numbers, judge them against budgets.

``%load_ext nbprofile`` in IPython or Jupyter starts measuring every cell;
``with nbprofile.measure("step") as m:`` measures a block in any Python program.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nbprofile._version import __version__
from nbprofile.errors import BudgetExceeded, NbprofileError
from nbprofile.measure import measure

if TYPE_CHECKING:
    from IPython.core.interactiveshell import InteractiveShell

def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "nbprofile"}]


__all__ = ["BudgetExceeded", "NbprofileError", "__version__", "budget", "measure", "load_ipython_extension", "unload_ipython_extension"]


def load_ipython_extension(shell: InteractiveShell) -> None:
    """``%load_ext nbprofile``: measure every cell from the next one on."""
    from nbprofile import _state
    from nbprofile.magics import NbprofileMagics
    from nbprofile.profiler import Profiler

    if _state.profiler is not None and _state.profiler.shell is shell:
        return  # already measuring this shell (`nbprofile run` loads us first): nothing to add
    if _state.profiler is not None:
        _state.profiler.close()
    profiler = Profiler(shell)
    _state.profiler = profiler
    shell.register_magics(NbprofileMagics(shell, profiler))
    profiler.register()
    from nbprofile import llm

    llm.install()  # wraps the openai / anthropic SDKs when (and if) they are imported
    measured = ", ".join(m.name for m in profiler.active_meters()
                         if getattr(m, "enabled", True) and profiler.availability[m.name].available)
    print(f"nbprofile {__version__}: measuring every cell ({measured}); %nbprofile status for details")


def unload_ipython_extension(shell: InteractiveShell) -> None:
    """``%unload_ext nbprofile``: unhook, remove the magics, release the meters and the store."""
    from nbprofile import _state

    profiler = _state.profiler
    if profiler is None or profiler.shell is not shell:
        return
    profiler.close()
    _state.profiler = None
    from nbprofile import llm

    llm.uninstall()
    llm.set_call_guard(None)
    manager = shell.magics_manager
    manager.magics["line"].pop("nbprofile", None)
    manager.magics["cell"].pop("budget", None)
    manager.registry.pop("NbprofileMagics", None)



def _jupyter_server_extension_points() -> list[dict[str, str]]:
    return [{"module": "nbprofile"}]


def _load_jupyter_server_extension(server_app: Any) -> None:
    """The REST API the JupyterLab panel reads (enabled by installing the package)."""
    from nbprofile.server import load

    load(server_app)


def __getattr__(name: str) -> object:
    # nbprofile.budget() pulls in the budget grammar and IPython's error types;
    # import it on first use so that `import nbprofile` stays light.
    if name == "budget":
        from nbprofile.budget_runtime import budget

        return budget
    raise AttributeError(f"module 'nbprofile' has no attribute {name!r}")
