"""The price table, user prices, the magic's argument parser and the cost formula."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from nbprofile.llm.price_input import parse_price_args, parse_price_value
from nbprofile.llm.prices import CallTokens, PriceBook

TABLE = Path(__file__).resolve().parents[2] / "nbprofile" / "data" / "llm_prices.json"


@pytest.fixture
def book(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> PriceBook:
    monkeypatch.setenv("NBPROFILE_LLM_PRICES", str(tmp_path / "none.toml"))  # never the user's own file
    return PriceBook()


def test_table_is_dated_sourced_and_covers_the_main_providers() -> None:
    data = json.loads(TABLE.read_text())
    meta = data["_meta"]
    assert (
        meta["retrieved"].startswith("20")
        and "litellm" in meta["source"]
        and len(meta["source_sha256"]) == 64
    )
    providers = {row["provider"] for row in data["models"].values()}
    assert providers == {"openai", "anthropic", "gemini", "mistral"}
    for name in (
        "gpt-4o",
        "gpt-4o-mini",
        "o4-mini",
        "text-embedding-3-small",
        "claude-opus-4-7",
        "claude-haiku-4-5",
        "gemini/gemini-2.5-pro",
        "mistral/mistral-large-latest",
    ):
        row = data["models"][name]
        assert row["input"] > 0 and row["output"] >= 0
    allowed = {
        "provider",
        "mode",
        "input",
        "output",
        "cache_read",
        "cache_write",
        "cache_write_long",
        "above",
        "flex",
        "priority",
    }
    assert all(set(row) <= allowed for row in data["models"].values())


def test_cost_is_exact_and_labelled(book: PriceBook) -> None:
    usd, note, source = book.cost("claude-opus-4-7", CallTokens(100, 2000, 300, 0, 250))
    expected = (
        Decimal("5e-06") * 100
        + Decimal("5e-07") * 2000
        + Decimal("6.25e-06") * 300
        + Decimal("2.5e-05") * 250
    )
    assert usd == expected and note is None
    assert source.startswith("litellm 1.") and "prices of 20" in source


def test_long_context_and_service_tiers(book: PriceBook) -> None:
    short, _, _ = book.cost("gemini/gemini-2.5-pro", CallTokens(200_000, 0, 0, 0, 10))
    long, _, _ = book.cost("gemini/gemini-2.5-pro", CallTokens(200_001, 0, 0, 0, 10))
    assert short == Decimal("1.25e-06") * 200_000 + Decimal("1e-05") * 10
    assert long == Decimal("2.5e-06") * 200_001 + Decimal("1.5e-05") * 10
    flex, _, _ = book.cost("gpt-5.5", CallTokens(10, 0, 0, 0, 10), service_tier="flex")
    assert flex == Decimal("2.5e-06") * 10 + Decimal("1.5e-05") * 10
    _, note, _ = book.cost("gpt-4o", CallTokens(10, 0, 0, 0, 10), service_tier="flex")
    assert note == "no flex price for gpt-4o; priced at the standard rate"


def test_lookup_response_model_then_requested_and_bare_names(book: PriceBook) -> None:
    assert book.lookup("gpt-4o-2099-01-01", "gpt-4o").model == "gpt-4o"
    assert book.lookup("gemini-2.5-pro").model == "gemini/gemini-2.5-pro"
    assert book.lookup("no-such-model") is None
    usd, note, _ = book.cost("no-such-model", CallTokens(1, 0, 0, 0, 1))
    assert usd is None
    assert (
        note
        == "unknown model no-such-model: set a price with %nbprofile price no-such-model input=... output=..."
    )


def test_user_prices_win_and_unknown_models_need_both(book: PriceBook) -> None:
    with pytest.raises(ValueError, match="give both input"):
        book.set("brand-new", input=Decimal("1e-6"))
    book.set("gpt-4o", cached_input=Decimal("1e-7"))  # known model: the rest stays the table's
    price = book.lookup("gpt-4o-2024-08-06", "gpt-4o")  # the user's price for the requested name wins
    assert (
        price.source == "user"
        and price.base.input == Decimal("2.5e-06")
        and price.base.cache_read == Decimal("1e-7")
    )
    usd, _, source = book.cost("gpt-4o", CallTokens(0, 10, 0, 0, 0))
    assert usd == Decimal("1e-6") and source == "user price"
    book.clear("gpt-4o")
    assert book.lookup("gpt-4o").source == "table"


def test_parse_price_args() -> None:
    model, prices = parse_price_args(
        ["my-model", "input=2.50", "output=$10/M", "cached_input=0.00125/1K", "cache_write=3e-6/token"]
    )
    assert model == "my-model"
    assert prices == {
        "input": Decimal("0.0000025"),
        "output": Decimal("0.00001"),
        "cached_input": Decimal("0.00000125"),
        "cache_write": Decimal("3e-6"),
    }


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "usage: %nbprofile price MODEL"),
        (["input=2"], "the model name comes first"),
        (["m"], "no prices for m"),
        (["m", "inptu=2"], "'inptu=2': unknown price 'inptu'"),
        (["m", "input"], "'input': expected KEY=VALUE"),
        (["m", "input=abc"], "input=abc is not a price"),
        (["m", "input=2/parsec"], "input=2/parsec: unknown unit /parsec"),
        (["m", "input=0.0000025"], "looks like a per-token price"),
        (["m", "input=1", "input=2"], "input given twice"),
    ],
)
def test_parse_price_args_errors_name_the_bad_part(args: list[str], message: str) -> None:
    with pytest.raises(ValueError) as error:
        parse_price_args(args)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_price_values() -> None:
    assert parse_price_value("input", 2.5) == Decimal("0.0000025")
    assert parse_price_value("input", "2.5e-6/token") == Decimal("2.5e-6")
    with pytest.raises(ValueError):
        parse_price_value("input", True)


def test_price_file_toml_and_json(book: PriceBook, tmp_path: Path) -> None:
    toml = tmp_path / "prices.toml"
    toml.write_text('per = "1M"\n[models."corp-llm"]\ninput = 2.5\noutput = "10/M"\ncached_input = 1.25\n')
    assert book.load_config(toml) == 1
    assert book.lookup("corp-llm").base.output == Decimal("0.00001")
    as_json = tmp_path / "prices.json"
    as_json.write_text(json.dumps({"models": {"other": {"input": "1e-6/token", "output": 2, "per": "1M"}}}))
    assert book.load_config(as_json) == 1
    assert book.lookup("other").base.input == Decimal("1e-6")


def test_bad_price_file_warns_and_prices_nothing(book: PriceBook, tmp_path: Path) -> None:
    bad = tmp_path / "prices.toml"
    bad.write_text('[models."x"]\ninput = 1\noutptu = 2\n')
    with pytest.warns(UserWarning, match="unknown key 'outptu'"):
        assert book.load_config(bad) == 0
    assert book.lookup("x") is None


def test_env_price_file_is_read_on_first_use(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text('[models."env-model"]\ninput = 1\noutput = 1\n')
    monkeypatch.setenv("NBPROFILE_LLM_PRICES", str(path))
    assert PriceBook().lookup("env-model").source == "user"
