"""``with nbprofile.measure("step") as m: ...`` — the profiler for scripts and tests.

A ``measure()`` block opens its own window on the same meters as the cells, so it
works inside a profiled cell too (the cell's peak RSS stays exact), and its
record goes to the same store and run.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import TYPE_CHECKING

from nbprofile.record import CellRecord, Status

if TYPE_CHECKING:
    from nbprofile.profiler import Profiler, Window


def process_profiler() -> Profiler:
    """The process's one profiler: the extension's, or one made for a script."""
    from nbprofile import _state
    from nbprofile.profiler import Profiler

    if _state.profiler is None:
        script = sys.argv[0] if sys.argv and os.path.isfile(sys.argv[0]) else None
        _state.profiler = Profiler(notebook=os.path.abspath(script) if script else None)
    return _state.profiler


class measure:
    """Measure a block of code like a cell.

    ``store=False`` keeps the record off the store (it is still on ``m.record``).
    An exception inside the block is recorded (status ``error``) and re-raised.
    """

    def __init__(self, name: str | None = None, *, store: bool = True) -> None:
        self.name = name
        self.store = store
        self.record: CellRecord | None = None
        self._profiler: Profiler | None = None
        self._window: Window | None = None

    def __enter__(self) -> "measure":
        self._profiler = process_profiler()
        self._window = self._profiler.open_window(self)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        profiler, window = self._profiler, self._window
        assert profiler is not None and window is not None, "measure() exited without entering"
        readings = profiler.close_window(window)
        status: Status = "ok"
        if exc_type is not None:
            status = "interrupted" if issubclass(exc_type, KeyboardInterrupt) else "error"
        self.record = profiler._make_record(
            window, readings, None, self.name or "", None, status,
            exc_type.__name__ if exc_type is not None else None, name=self.name,
        )
        if self.store:
            profiler.save(self.record)

    def value(self, key: str) -> float | None:
        """A reading's value (``m.value("wall_s")``), ``None`` if unavailable or not yet measured."""
        return None if self.record is None else self.record.value(key)

    def __repr__(self) -> str:
        if self.record is None:
            return f"measure({self.name!r}) (running)"
        from nbprofile.display import footer_text

        return f"measure({self.name!r}): {footer_text(self.record)}"
