"""The process's one profiler: the extension's when it is loaded, else one made for a script.

This is the only process-wide state nbprofile keeps.
"""

from __future__ import annotations

import atexit
import os
import sys

from nbprofile.engine.profiler import Profiler

_profiler: Profiler | None = None


def current() -> Profiler | None:
    """The profiler of this process, if one exists."""
    return _profiler


def install(profiler: Profiler | None) -> Profiler | None:
    """Make ``profiler`` the process's profiler (None: there is none); return the one it replaces."""
    global _profiler
    previous, _profiler = _profiler, profiler
    return previous


def process_profiler() -> Profiler:
    """The process's profiler, made on first use for a script (its records name the script)."""
    global _profiler
    if _profiler is None:
        script = sys.argv[0] if sys.argv and os.path.isfile(sys.argv[0]) else None
        _profiler = Profiler(notebook=os.path.abspath(script) if script else None)
        # what its writer has not written yet goes to the store when the script ends
        atexit.register(_profiler.recorder.finish)
    return _profiler
