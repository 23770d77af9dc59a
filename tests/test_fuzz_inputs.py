"""Issue 9: every user-facing parser, fuzzed. A bad input is a clear one-line error and changes
nothing; nothing ever escapes as a traceback or a server error."""

from __future__ import annotations

import json
import random
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tornado.httpclient import HTTPClientError

from nbprofile.derive.carbon import CarbonConfig, parse_carbon_args
from nbprofile.derive.cost import ComputePrices
from nbprofile.derive.cost import parse_price_args as parse_compute_prices
from nbprofile.llm import parse_price_args as parse_llm_prices

WORD = st.text(alphabet=string.ascii_letters + string.digits + "=$:.,-+_%*/ \\'\"<>\x00é∞", max_size=30)
KEYISH = st.one_of(WORD, st.sampled_from(["region", "pue", "intensity", "gpu_hour", "kwh", "gpu:H100",
                                          "input", "output", "cached_input", "cache_write"]))
ARG = st.one_of(WORD, st.builds(lambda k, v: f"{k}={v}", KEYISH, WORD))


def one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text.strip(), repr(text)


@settings(max_examples=400, deadline=None)
@given(st.lists(ARG, max_size=4))
def test_carbon_settings(args: list[str]) -> None:
    before = CarbonConfig(region="FRA", pue=1.2)
    try:
        after = parse_carbon_args(args, before)
    except ValueError as exc:
        one_line(exc)
        assert before == CarbonConfig(region="FRA", pue=1.2)  # a bad line changes nothing
        return
    assert after.pue > 0 and (after.intensity_g_per_kwh is None or after.intensity_g_per_kwh >= 0)


@settings(max_examples=400, deadline=None)
@given(st.lists(ARG, max_size=4))
def test_compute_prices(args: list[str]) -> None:
    before = ComputePrices()
    try:
        after = parse_compute_prices(args, before)
    except ValueError as exc:
        one_line(exc)
        return
    assert after.kwh_usd is None or after.kwh_usd >= 0


@settings(max_examples=400, deadline=None)
@given(st.lists(ARG, min_size=1, max_size=5))
def test_llm_prices(args: list[str]) -> None:
    try:
        model, prices = parse_llm_prices(args)
    except ValueError as exc:
        one_line(exc)
        return
    assert model and all(p >= 0 for p in prices.values())


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["runs", "show", "report", "compare"]), st.lists(WORD, max_size=3))
def test_cli_arguments(capsys, _isolated_store, tmp_path_factory, command: str, words: list[str]) -> None:
    from nbprofile.cli.main import main

    out_dir = tmp_path_factory.mktemp("out")
    argv = [command, *words] + (["-o", str(out_dir / "r.html")] if command == "report" else [])
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors
        assert exit_.code == 2
        assert "usage:" in capsys.readouterr().err
        return
    assert code in (0, 1, 2)
    if code == 2:
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and err[0].startswith("nbprofile "), err


ADVERSARIAL = [
    "", ".", "..", "../", "../../etc/passwd", "/etc/passwd", "a/../../b", "%2e%2e/%2e%2e", "\x00", "a\x00b",
    "x" * 5000, "nb.ipynb?x=1", "C:\\windows", "~/.ssh/id_rsa", "é∞.ipynb", "a" + "/.." * 50, "//server/share",
]


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


async def test_rest_parameters_never_break_the_server(jp_fetch) -> None:
    rng = random.Random(9)
    alphabet = string.printable + "é∞\u202e"
    noise = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    for value in ADVERSARIAL + noise:
        for path, params in (
            (("runs",), {"notebook": value}),
            (("runs",), {"notebook": "a.ipynb", "kernel": value}),
            (("compare",), {"a": value, "b": value}),
            (("report",), {"run": value, "format": value[:8]}),
        ):
            try:
                response = await jp_fetch("nbprofile", "api", *path, params=params)
                code, body = response.code, response.body
            except HTTPClientError as exc:
                code, body = exc.code, exc.response.body if exc.response else b"{}"
            assert code in (200, 400, 404), (path, params, code)
            if code != 200:
                assert json.loads(body)["message"], (path, params)
    for run_id in ["a" * 65, "../x", "x y", "%00"]:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("nbprofile", "api", "runs", run_id)
        assert info.value.code == 404
