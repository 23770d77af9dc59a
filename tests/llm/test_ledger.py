"""The usage ledger, the manual record() API, the meters' readings and the budget guard (no SDK)."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from typing import Any

import pytest
from tests.llm.test_llm_server import expected_usd, hooked

import nbprofile.llm as llm
from nbprofile.llm.guard import TokenBudgetGuard
from nbprofile.llm.ledger import Ledger, Usage
from nbprofile.llm.meter import LlmMeter, LocalGenerateMeter, derive_local_j_per_token
from nbprofile.readings import Reading

__all__ = ["hooked"]


def usage(
    tokens_in: int | None = 10, tokens_out: int | None = 5, cost: str | None = "0.01", kind: str = "api"
) -> Usage:
    return Usage(
        kind,
        "manual",
        "record",
        "m",
        tokens_in,
        tokens_out,
        0,
        0,
        None,  # type: ignore[arg-type]
        "measured",
        None,
        None if cost is None else Decimal(cost),
        None,
        1.0,
        1.0,
    )


def test_nested_marks_see_their_own_calls() -> None:
    ledger = Ledger()
    outer = ledger.mark()
    ledger.append(usage())
    inner = ledger.mark()
    ledger.append(usage(20, 1))
    assert [u.input_tokens for u in ledger.release(inner)] == [20]
    assert [u.input_tokens for u in ledger.release(outer)] == [10, 20]
    t = ledger.totals()
    assert (t.calls, t.tokens, t.cost) == (2, 36, Decimal("0.02"))


def test_entries_are_trimmed_when_no_window_needs_them() -> None:
    ledger = Ledger()
    for _ in range(2000):
        ledger.append(usage())
    assert len(ledger.entries()) <= 512 and len(ledger) == 2000
    mark = ledger.mark()
    for _ in range(1000):
        ledger.append(usage())
    assert len(ledger.release(mark)) == 1000  # an open mark keeps everything after it
    assert ledger.totals().calls == 3000


def test_appends_from_threads_and_tasks_all_count() -> None:
    ledger = Ledger()
    mark = ledger.mark()

    def work() -> None:
        for _ in range(500):
            ledger.append(usage(1, 1, "0.000001"))

    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    async def task() -> None:
        for _ in range(100):
            ledger.append(usage(1, 1, "0.000001"))
            await asyncio.sleep(0)

    async def main() -> None:
        await asyncio.gather(*(task() for _ in range(5)))

    asyncio.run(main())
    assert len(ledger.release(mark)) == 4500
    assert ledger.totals().tokens == 9000 and ledger.totals().cost == Decimal("0.0045")


def test_meter_windows_nest_and_zero_means_no_calls(hooked: Any) -> None:
    meter = LlmMeter()
    assert meter.probe().available
    meter.begin("empty")
    empty = meter.end("empty")
    # no call: the readings budgets need, measured at zero, and nothing else is stored
    assert empty["llm_tokens"] == Reading(0, "tokens", "measured", "nbprofile.llm")
    assert set(empty) == {"llm_tokens", "llm_input_tokens", "llm_output_tokens", "llm_calls", "llm_cost_usd"}
    assert empty["llm_cost_usd"].value == 0.0 and empty["llm_calls"].unit == "calls"
    meter.begin("cell")
    llm.record(model="gpt-4o-mini", input_tokens=1000, output_tokens=200, cached_tokens=400)
    meter.begin("block")
    llm.record(
        model="claude-haiku-4-5",
        input_tokens=300,
        output_tokens=50,
        cache_write_tokens=100,
        reasoning_tokens=20,
    )
    block = meter.end("block")
    cell = meter.end("cell")
    assert block["llm_tokens"].value == 350 and block["llm_calls"].value == 1
    assert cell["llm_tokens"].value == 1550 and cell["llm_cached_tokens"].value == 400
    usd = Decimal(repr(expected_usd("gpt-4o-mini", uncached=600, cached=400, output=200))) + Decimal(
        repr(expected_usd("claude-haiku-4-5", uncached=200, write=100, output=50))
    )
    assert abs(cell["llm_cost_usd"].value - float(usd)) < 1e-15
    assert cell["llm_reasoning_tokens"].value is None  # gpt-4o-mini's call did not say
    assert "1 of 2 calls did not report it; the other calls: 20" in cell["llm_reasoning_tokens"].note
    assert (
        "gpt-4o-mini: 1 call" in cell["llm_calls"].note
        and "claude-haiku-4-5: 1 call" in cell["llm_calls"].note
    )
    assert set(meter.detail("cell")["models"]) == {"gpt-4o-mini", "claude-haiku-4-5"}
    assert set(cell) == set(LlmMeter.keys)


def test_exact_sum_over_many_calls(hooked: Any) -> None:
    meter = LlmMeter()
    meter.begin("k")
    for _ in range(1000):
        llm.record(model="gpt-4o", input_tokens=3, output_tokens=1)
    cost = meter.end("k")["llm_cost_usd"]
    # 1000 × (3 × 0.0000025 + 0.00001): exact in decimal, while float addition would drift
    assert cost.value == float(Decimal("0.0175"))


def test_record_validates_and_accepts_a_given_cost(hooked: Any) -> None:
    with pytest.raises(ValueError, match="input_tokens=-1"):
        llm.record(model="m", input_tokens=-1, output_tokens=0)
    with pytest.raises(ValueError, match="cannot exceed it"):
        llm.record(model="m", input_tokens=5, output_tokens=0, cached_tokens=6)
    with pytest.raises(ValueError, match="cost_usd"):
        llm.record(model="m", input_tokens=5, output_tokens=0, cost_usd="lots")
    entry = llm.record(model="in-house", input_tokens=5, output_tokens=1, cost_usd=0.25)
    assert entry.cost == Decimal("0.25") and entry.price_source == "cost given to record()"


def test_unknown_model_in_a_window_makes_the_total_unavailable(hooked: Any) -> None:
    meter = LlmMeter()
    meter.begin("k")
    llm.record(model="gpt-4o", input_tokens=1000, output_tokens=0)
    llm.record(model="mystery", input_tokens=10, output_tokens=10)
    cost = meter.end("k")["llm_cost_usd"]
    assert cost.value is None and cost.method == "unavailable"
    assert "unknown model mystery" in cost.note and "the other calls: $0.0025" in cost.note


def test_guard_raises_before_the_call_after_the_limit(hooked: Any) -> None:
    guard = TokenBudgetGuard({"llm_cost_usd": 0.001}, exception=RuntimeError)
    guard()
    llm.record(model="gpt-4o", input_tokens=400, output_tokens=0)  # $0.001: at the limit, allowed
    guard()
    llm.record(model="gpt-4o", input_tokens=1, output_tokens=0)
    with pytest.raises(RuntimeError, match=r"llm_cost_usd \$0.0010025 over the limit \$0.001"):
        guard()
    with pytest.raises(ValueError, match="no running total"):
        TokenBudgetGuard({"energy_j": 1})
    assert llm.set_call_guard(guard) is None and llm.set_call_guard(None) is guard


def test_local_generate_meter_and_energy_per_token(hooked: Any) -> None:
    meter = LocalGenerateMeter()
    meter.begin("k")
    llm.LEDGER.append(usage(12, 48, None, kind="local")._replace(provider="transformers", duration_s=2.0))
    out = meter.end("k")
    assert out["local_output_tokens"].value == 48 and out["local_tokens_per_s"].value == 24.0
    readings = {**out, "energy_j": Reading(96.0, "J", "measured", "rapl")}
    assert derive_local_j_per_token(readings)["local_j_per_token"].value == 2.0
    no_energy = derive_local_j_per_token(dict(out))["local_j_per_token"]
    assert no_energy.value is None and no_energy.method == "unavailable"
    meter.begin("none")
    assert meter.end("none") == {}  # no generate() call: nothing to say
    assert derive_local_j_per_token(meter.end("never-begun")) == {}
