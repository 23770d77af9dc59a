"""What every SDK wrapper reads on every call: the process-wide switches, and how a method is wrapped.

:func:`set_include_usage` asks OpenAI streams for their usage; :func:`set_call_guard`
puts a budget guard before every hooked call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

#: (owner, attribute, original) for each method replaced
Patch = tuple[Any, str, Any]
CallGuard = Callable[[], None]


class _Config:
    """The switches every wrapper reads on every call (plain attributes: one load each)."""

    installed: bool = False
    include_usage: bool = False
    guard: CallGuard | None = None


CONFIG = _Config()


def wrap(owner: Any, attr: str, wrapper: Callable[..., Any]) -> Patch:
    """Replace ``owner.attr`` (a method defined on the class itself) with a FunctionWrapper."""
    import wrapt

    original = owner.__dict__[attr]  # KeyError if the SDK moved it: reported by _on_import
    setattr(owner, attr, wrapt.FunctionWrapper(original, wrapper))
    return owner, attr, original



def set_include_usage(on: bool) -> None:
    """Ask OpenAI streams for their usage chunk (``stream_options.include_usage``).

    Off by default: nbprofile does not change the user's request silently. When
    on, a stream the user did not ask usage for gets it, and the extra final
    chunk (empty ``choices``) is consumed by nbprofile, not shown to the user's
    loop, so ``chunk.choices[0]`` code keeps working.
    """
    CONFIG.include_usage = bool(on)


def set_call_guard(guard: CallGuard | None) -> CallGuard | None:
    """Call ``guard()`` before every hooked LLM call; whatever it raises stops the call.

    For ``--enforce`` budgets on tokens or cost: the guard compares the running
    totals (:func:`nbprofile.llm.ledger.LEDGER.totals`) with the limit and raises
    (e.g. ``BudgetExceeded``) once it is crossed, so the cell stops at the first
    call after the limit, before that call is sent. The call that crossed it has
    already been paid for. One guard at a time; returns the previous one so a
    nested budget can put it back. ``None`` removes it.
    """
    previous = CONFIG.guard
    CONFIG.guard = guard
    return previous


def check_guard() -> None:
    guard = CONFIG.guard
    if guard is not None:
        guard()
