"""``%nbprofile`` (control and inspection) and ``%%budget`` (limits for one cell).

The subcommands and their parsers are in :mod:`nbprofile.ipython.commands`;
``%nbprofile?`` lists their usage, made from those parsers.
"""

from __future__ import annotations

import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, cell_magic, line_magic, magics_class

from nbprofile.ipython.budget_cell import run_budget_cell
from nbprofile.ipython.commands import COMMANDS, help_text
from nbprofile.ipython.hooks import CellHooks

_NBPROFILE_DOC = """Control nbprofile, which measures every cell of this kernel.

Usage (``%nbprofile`` alone is ``%nbprofile status``)::

{commands}
"""


@magics_class
class NbprofileMagics(Magics):
    """The magics of one shell's :class:`~nbprofile.ipython.hooks.CellHooks`."""

    def __init__(self, shell: Any, hooks: CellHooks) -> None:
        super().__init__(shell)
        self.hooks = hooks

    @line_magic
    def nbprofile(self, line: str) -> Any:
        try:
            words = shlex.split(line)
        except ValueError as exc:
            raise UsageError(f"%nbprofile: {exc}") from None
        if not words:
            words = ["status"]
        command = COMMANDS.get(words[0])
        if command is None:
            raise UsageError(f"%nbprofile: unknown command {words[0]!r}; use one of: {', '.join(COMMANDS)}")
        return command(self.hooks, words[1:])

    @cell_magic
    def budget(self, line: str, cell: str) -> Any:
        """Run the cell under limits and judge it: ``%%budget time<=30s vram<=8GiB``.

        Options: ``--strict`` (raise BudgetExceeded after the cell if a limit
        failed, so Run All stops), ``--enforce`` (stop the cell as soon as a
        limit that can be watched live is crossed), ``--name NAME``.
        """
        __tracebackhide__ = True  # the user's traceback starts at their own code
        return run_budget_cell(self.hooks, line, cell)


NbprofileMagics.nbprofile.__doc__ = _NBPROFILE_DOC.format(commands=help_text())
