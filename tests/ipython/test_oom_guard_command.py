"""``%nbprofile oom-guard`` in an in-process shell: what it prints, what it refuses, what status shows."""

from __future__ import annotations

from typing import Any

import pytest
from IPython.core.error import UsageError

from nbprofile.engine import current
from nbprofile.engine.oom_guard import OomGuard
from nbprofile.meters.memory_limit import MemoryLimit

MiB, GiB = 1024**2, 1024**3


@pytest.fixture
def guard(shell: Any, capsys: pytest.CaptureFixture[str]) -> OomGuard:
    """The loaded profiler's guard: its own once the profiler makes one, else one set here with a known limit."""
    shell.run_line_magic("load_ext", "nbprofile")
    profiler = current.current()
    assert profiler is not None
    made = getattr(profiler, "oom_guard", None)
    if made is None:
        made = OomGuard(lambda: 300 * MiB, lambda: MemoryLimit(4 * GiB, "cgroup v2 memory.max"))
        profiler.oom_guard = made  # type: ignore[attr-defined]
    capsys.readouterr()
    return made


def test_the_state_settings_and_status_line(shell: Any, guard: OomGuard, capsys: pytest.CaptureFixture[str]) -> None:
    shell.run_line_magic("nbprofile", "oom-guard")
    assert capsys.readouterr().out.startswith("nbprofile: OOM guard on; ")
    shell.run_line_magic("nbprofile", "oom-guard limit=64GiB at=85%")
    assert capsys.readouterr().out == ("nbprofile: OOM guard on; stops a cell at 54.4 GiB of RSS, 85 % of "
                                       "64.0 GiB (set with %nbprofile oom-guard limit)\n")
    assert (guard.limit_override, guard.fraction, guard.enabled) == (64 * GiB, 0.85, True)
    shell.run_line_magic("nbprofile", "oom-guard off")
    assert capsys.readouterr().out.startswith("nbprofile: OOM guard off (%nbprofile oom-guard on to resume)")
    assert "  OOM guard: off (%nbprofile oom-guard on to resume)" in repr(shell.run_line_magic("nbprofile", "status"))
    shell.run_line_magic("nbprofile", "oom-guard on limit=auto at=90%")
    assert (guard.limit_override, guard.fraction, guard.enabled) == (None, 0.9, True)


@pytest.mark.parametrize(("words", "says"), [  # a good setting before the bad one does not apply either
    ("at=80% limit=12XB", "%nbprofile oom-guard: limit=12XB: unknown unit 'XB' for ram (use B, KB"),
    ("at=80% limit=1KiB", "%nbprofile oom-guard: a limit of 1.00 KiB at 80 % is below the"),
    ("limit=64GiB at=150%", ("%nbprofile oom-guard: at=150% is not a percentage above 0 and below 100 "
                             "(use e.g. at=85%)")),
    ("at=80% maybe", "%nbprofile oom-guard: 'maybe' is not a setting; use on, off, limit=SIZE"),
    ("off on", "%nbprofile oom-guard: 'on': give each setting once"),
])
def test_bad_settings_are_one_line_and_change_nothing(shell: Any, guard: OomGuard, words: str, says: str) -> None:
    before = (guard.enabled, guard.limit_override, guard.fraction)
    with pytest.raises(UsageError) as caught:
        shell.run_line_magic("nbprofile", f"oom-guard {words}")
    assert str(caught.value).startswith(says) and "\n" not in str(caught.value), str(caught.value)
    assert (guard.enabled, guard.limit_override, guard.fraction) == before


def test_the_usage_comes_from_the_parser() -> None:
    from nbprofile.ipython.commands import COMMANDS, help_text

    assert COMMANDS["oom-guard"].usage == "%nbprofile oom-guard [{on,off}] [limit=SIZE] [at=PCT%]"
    assert "%nbprofile oom-guard [{on,off}] [limit=SIZE] [at=PCT%]" in help_text()
