"""A ready-made call guard for ``--enforce`` budgets on tokens and dollars.

``set_call_guard(TokenBudgetGuard({"llm_tokens": 10_000, "llm_cost_usd": 0.50}))``
makes every hooked LLM call check, before it is sent, what was spent since the
guard was made; once a limit is crossed the next call raises (``BudgetExceeded``
by default) instead of going out. The check is a subtraction of two running
totals: O(1), well under a microsecond.

Unknown parts cannot be checked: a call whose tokens were not reported (an
OpenAI stream without usage) adds nothing to the running tokens, and a call to
an unpriced model nothing to the dollars. The end-of-cell verdict reports those
as unmeasurable.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from nbprofile.errors import BudgetExceeded
from nbprofile.llm.ledger import LEDGER, Ledger, Totals

GETTERS: dict[str, Callable[[Totals], float | int | Decimal]] = {
    "llm_tokens": lambda t: t.tokens,
    "llm_input_tokens": lambda t: t.input_tokens,
    "llm_output_tokens": lambda t: t.output_tokens,
    "llm_calls": lambda t: t.calls,
    "llm_cost_usd": lambda t: t.cost,
}


class TokenBudgetGuard:
    """Raise before the next call once the spending since creation crosses a limit.

    ``limits`` maps reading keys (``llm_tokens``, ``llm_input_tokens``,
    ``llm_output_tokens``, ``llm_calls``, ``llm_cost_usd``) to the largest
    allowed value (``value <= limit`` passes), or to ``("<", limit)`` for a strict
    bound. ``describe(key, value, limit)`` words the message; ``exception`` is
    the type raised (:class:`nbprofile.errors.BudgetExceeded` by default).
    """

    def __init__(
        self,
        limits: dict[str, Any],
        *,
        exception: type[BaseException] | None = None,
        describe: Callable[[str, float, float], str] | None = None,
        ledger: Ledger = LEDGER,
    ) -> None:
        unknown = sorted(set(limits) - set(GETTERS))
        if unknown:
            raise ValueError(f"no running total for {unknown[0]!r}; use one of {', '.join(GETTERS)}")
        self._checks: list[tuple[str, Callable[[Totals], Any], bool, float]] = []
        for key, limit in limits.items():
            strict, value = (
                (limit[0] == "<", float(limit[1])) if isinstance(limit, tuple) else (False, float(limit))
            )
            self._checks.append((key, GETTERS[key], strict, value))
        if exception is None:
            exception = BudgetExceeded
        self._exception = exception
        self._describe = describe or _describe
        self._ledger = ledger
        self._start = ledger.totals()
        self.crossed: str | None = None

    def spent(self) -> Totals:
        """What was spent since the guard was made."""
        return self._ledger.totals() - self._start

    def __call__(self) -> None:
        spent = self._ledger.totals() - self._start
        for key, getter, strict, limit in self._checks:
            value = float(getter(spent))
            if value >= limit if strict else value > limit:
                self.crossed = self._describe(key, value, limit)
                raise self._exception(self.crossed)


def _describe(key: str, value: float, limit: float) -> str:
    if key == "llm_cost_usd":
        return (
            f"stopped by --enforce before the next LLM call: {key} ${value:.6g} over the limit ${limit:.6g}"
        )
    return f"stopped by --enforce before the next LLM call: {key} {value:,.0f} over the limit {limit:,.0f}"
