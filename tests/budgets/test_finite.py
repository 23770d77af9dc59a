"""Numbers users type are finite and cannot overflow in use: budgets, LLM prices, compute prices,
carbon settings. A number that is too large is one line that says what to write instead, and a
threshold that overflows anyway (a limit stored by an older version) is unmeasurable, never inf."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from IPython.core.error import UsageError

from nbprofile import llm
from nbprofile.budgets.evaluate import evaluate
from nbprofile.budgets.grammar import BudgetSyntaxError, parse_budget, parse_limit
from nbprofile.budgets.limits import Limit
from nbprofile.derive.carbon import CarbonConfig, parse_carbon_args
from nbprofile.derive.cost import ComputePrices
from nbprofile.derive.cost import parse_price_args as parse_compute_prices
from nbprofile.llm.prices import PriceBook
from nbprofile.readings import Reading

GiB = 1024**3


def one_line(exc: BaseException) -> str:
    text = str(exc)
    assert text and "\n" not in text.strip(), repr(text)
    return text


def ram(value: float) -> dict[str, Reading]:
    return {"rss_peak_bytes": Reading(value, "B", "measured", "clear_refs+VmHWM")}


# -- budgets ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("text", ["ram<=+1e305%", "ram<=1e7%", "time<=last+2000000%",
                                  "time<=baseline+1e300%", "ram<=+1e400%"])
def test_a_change_too_large_to_compute_is_refused(text: str) -> None:
    with pytest.raises(BudgetSyntaxError) as info:
        parse_limit(text)
    message = one_line(info.value)
    assert message.startswith(text)
    assert "finite" in message or "1,000,000%" in message


@pytest.mark.parametrize("text", ["ram<=+1000000%", "time<=last+999999%", "time<=+10%"])
def test_large_but_computable_changes_are_kept(text: str) -> None:
    limit = parse_limit(text)
    verdict = evaluate([limit], ram(GiB) | {"wall_s": Reading(1.0, "s", "measured", "x")},
                       previous=ram(GiB) | {"wall_s": Reading(1.0, "s", "measured", "x")})
    assert verdict.status == "pass"
    assert all(math.isfinite(item.threshold or 0.0) for item in verdict.items)


def test_budget_cell_refuses_the_overflowing_change(shell: Any) -> None:
    """``%%budget ram<=+1e305%`` run twice stored ``"threshold": Infinity``; now it never runs."""
    shell.run_line_magic("load_ext", "nbprofile")
    for _ in range(2):
        result = shell.run_cell("%%budget ram<=+1e305%\nx = 1")
        error = result.error_in_exec or result.error_before_exec
        assert isinstance(error, UsageError)
        assert one_line(error).startswith("%%budget: ram<=+1e305%: ")


def test_a_stored_limit_that_overflows_is_unmeasurable_with_a_reason() -> None:
    # as an older version parsed and stored it
    stored = Limit.from_json({"key": "ram", "op": "<=", "kind": "percent", "value": 1e305,
                              "percent": 1e305, "text": "ram<=+1e305%"})
    item = evaluate([stored], ram(GiB), previous=ram(GiB)).items[0]
    assert item.status == "unmeasurable" and item.threshold is None and item.value == GiB
    assert item.reason is not None and "beyond any number" in item.reason
    assert "not checked against ram<=+1e305%" in item.describe()
    json.dumps(item.to_json(shown=True), allow_nan=False)  # storable: no Infinity in it

    added = Limit.from_json({"key": "time", "op": "<=", "kind": "last", "value": 1.7e308,
                             "percent": None, "text": "time<=last+1.7e308s"})
    huge = {"wall_s": Reading(1e308, "s", "measured", "x")}
    item = evaluate([added], huge, previous=huge).items[0]
    assert item.status == "unmeasurable" and item.threshold is None

    infinite = Limit.from_json({"key": "time", "op": "<=", "kind": "absolute", "value": math.inf,
                                "percent": None, "text": "time<=inf"})
    item = evaluate([infinite], huge).items[0]
    assert item.status == "unmeasurable" and item.threshold is None


def test_budget_lines_with_non_finite_numbers_are_refused() -> None:
    for line in ("time<=inf", "time<=nan s", "ram<=1e400GiB", "cost<=1e999", "time<=last+1e400s"):
        with pytest.raises(BudgetSyntaxError) as info:
            parse_budget(line)
        assert "finite" in one_line(info.value)


# -- LLM prices ------------------------------------------------------------------------------------

@pytest.fixture
def clean_prices() -> Iterator[None]:
    yield
    llm.PRICES.clear()


@pytest.mark.parametrize("args", [
    ["gpt-4o-mini", "input=1e400", "output=1e400"],
    ["gpt-4o-mini", "input=2000000", "output=10"],
    ["my-model", "input=2.5", "output=2/token"],
    ["my-model", "input=2.5", "output=1e300/1K"],
])
def test_an_llm_price_beyond_a_million_dollars_per_million_tokens_is_refused(args: list[str]) -> None:
    with pytest.raises(ValueError) as info:
        llm.parse_price_args(args)
    message = one_line(info.value)
    assert "$1,000,000 per 1M tokens" in message and "e.g." in message


def test_the_price_magic_refuses_and_changes_nothing(shell: Any, clean_prices: None, capsys) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    before = llm.describe_price("gpt-4o-mini")
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("nbprofile", "price gpt-4o-mini input=1e400 output=1e400")
    assert one_line(info.value).startswith("%nbprofile price: input=1e400 is more than $1,000,000")
    assert llm.describe_price("gpt-4o-mini") == before
    shell.run_line_magic("nbprofile", "price gpt-4o-mini input=1000000 output=0.6")  # the bound itself
    assert "input $1000000" in capsys.readouterr().out


def test_set_price_and_price_files_refuse_it_too(clean_prices: None, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"output=1e\+300 is more than"):
        llm.set_price("my-model", input=1, output=1e300)
    with pytest.raises(ValueError, match="more than"):
        llm.set_price("my-model", input=Decimal("1e400"), output=1)
    assert "my-model" not in llm.PRICES.user_prices()
    book = PriceBook()
    path = tmp_path / "prices.toml"
    path.write_text('[models."corp"]\ninput = "1e400"\noutput = 1\n')  # a string: TOML reads 1e400 as inf
    with pytest.warns(UserWarning, match="more than"):
        assert book.load_config(path) == 0
    assert book.lookup("corp") is None


# -- compute prices and carbon ------------------------------------------------------------------

@pytest.mark.parametrize("arg", ["gpu_hour=1e308", "gpu:H100=inf", "kwh=1e300", "kwh=nan",
                                 "gpu_hour=1e400", "kwh=-inf"])
def test_compute_prices_must_be_finite_and_bounded(arg: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_compute_prices([arg], ComputePrices())
    message = one_line(info.value)
    assert message.startswith(arg) and "e.g." in message


def test_compute_prices_that_anyone_charges_are_kept() -> None:
    prices = parse_compute_prices(["gpu_hour=100000", "kwh=1000"], ComputePrices())
    assert prices.gpu_hour_usd == (("*", 100000.0),) and prices.kwh_usd == 1000.0


@pytest.mark.parametrize("arg", ["pue=1e308", "intensity=1e308", "pue=inf", "intensity=nan",
                                 "pue=101", "intensity=100001"])
def test_carbon_settings_must_be_finite_and_bounded(arg: str) -> None:
    with pytest.raises(ValueError) as info:
        parse_carbon_args([arg], CarbonConfig())
    message = one_line(info.value)
    assert message.startswith(arg) and "e.g." in message


def test_the_carbon_magic_refuses_an_overflowing_pue(shell: Any) -> None:
    shell.run_line_magic("load_ext", "nbprofile")
    with pytest.raises(UsageError) as info:
        shell.run_line_magic("nbprofile", "carbon pue=1e200 intensity=1e200")
    assert one_line(info.value).startswith("%nbprofile carbon: pue=1e200 is above 100")
