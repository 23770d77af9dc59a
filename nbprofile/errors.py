"""nbprofile's exceptions and its one warning: one root, one subclass per place things go wrong.

Each message says what failed and what to do about it, on one line.
"""

from __future__ import annotations


class NbprofileError(Exception):
    """Root of every error nbprofile raises on purpose."""


class StoreError(NbprofileError):
    """The record store cannot be opened, read or written."""


class MeterError(NbprofileError):
    """A meter failed; the profiler disables it and carries on."""


class ExportError(NbprofileError):
    """A report cannot be produced in the format asked for."""


class BudgetExceeded(NbprofileError):
    """A ``%%budget --strict`` or ``--enforce`` limit failed (or ``nbprofile.budget()`` in a script).

    The cell's record is stored with the failed verdict before this is raised.
    """

    #: the user's line a cell was stopped at, in words ("Cell In[3], line 5: time.sleep(1)"), if any
    where: str | None = None

    def _render_traceback_(self) -> list[str]:
        """What IPython shows for it: the verdict and the user's line it stopped at, not a
        traceback through nbprofile's own frames (IPython asks exceptions for this first)."""
        lines = [f"BudgetExceeded: {self}"]
        if self.where:
            lines.append(f"  stopped at {self.where}")
        return lines


class NbprofileWarning(UserWarning):
    """Something nbprofile could not do; the notebook is unaffected."""
