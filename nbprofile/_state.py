"""The one piece of process-wide state: the profiler instance, if one exists."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbprofile.profiler import Profiler

profiler: Profiler | None = None
