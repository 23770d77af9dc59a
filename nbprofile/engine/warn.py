"""Warnings nbprofile gives once per kind, so that a failure repeated by every cell is said once."""

from __future__ import annotations

import warnings

from nbprofile.errors import NbprofileWarning

#: where every nbprofile warning says it comes from: a name linecache cannot resolve (it skips
#: ``<...>`` names), so Python's formatter prints the one message line and no source line under it;
#: the real call site would be nbprofile's own code, which says nothing to the user
WARNING_ORIGIN = "<nbprofile>"


def warn_one_line(message: str) -> None:
    """Give an :class:`NbprofileWarning` that shows as exactly one line.

    ``warn_explicit`` rather than a patched ``formatwarning``: other categories keep Python's
    formatting, and filters still apply (``module="nbprofile"`` matches ``-W ...::nbprofile``).
    """
    # a message quoting an exception (str(exc)) may hold line breaks of its own
    one_line = " ".join(part.strip() for part in message.splitlines() if part.strip())
    warnings.warn_explicit(one_line, NbprofileWarning, WARNING_ORIGIN, 0, module="nbprofile")


class OnceWarnings:
    """One per profiler: ``warn(key, message)`` warns the first time for each key."""

    def __init__(self) -> None:
        self._given: set[str] = set()

    def warn(self, key: str, message: str) -> None:
        if key in self._given:
            return
        self._given.add(key)
        warn_one_line(f"nbprofile: {message}")

    def again(self, key: str) -> None:
        """Let the warning of ``key`` be given once more (it says something new)."""
        self._given.discard(key)
