"""Warnings nbprofile gives once per kind, so that a failure repeated by every cell is said once."""

from __future__ import annotations

import warnings

from nbprofile.errors import NbprofileWarning


class OnceWarnings:
    """One per profiler: ``warn(key, message)`` warns the first time for each key."""

    def __init__(self) -> None:
        self._given: set[str] = set()

    def warn(self, key: str, message: str) -> None:
        if key in self._given:
            return
        self._given.add(key)
        warnings.warn(f"nbprofile: {message}", NbprofileWarning, stacklevel=3)

    def again(self, key: str) -> None:
        """Let the warning of ``key`` be given once more (it says something new)."""
        self._given.discard(key)
