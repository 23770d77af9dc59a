"""Issue 9: every user-facing parser, fuzzed. A bad input is a clear one-line error and changes
nothing; nothing ever escapes as a traceback or a server error."""

from __future__ import annotations

import json
import math
import posixpath
import random
import re
import string
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tornado.httpclient import HTTPClientError

from nbprofile.derive.carbon import MAX_INTENSITY_G_PER_KWH, MAX_PUE, CarbonConfig, parse_carbon_args
from nbprofile.derive.cost import ComputePrices
from nbprofile.derive.cost import parse_price_args as parse_compute_prices
from nbprofile.llm import parse_price_args as parse_llm_prices
from tests.support import machine

WORD = st.text(alphabet=string.ascii_letters + string.digits + "=$:.,-+_%*/ \\'\"<>\x00é∞", max_size=30)
KEYISH = st.one_of(WORD, st.sampled_from(["region", "pue", "intensity", "gpu_hour", "kwh", "gpu:H100",
                                          "input", "output", "cached_input", "cache_write"]))
ARG = st.one_of(WORD, st.builds(lambda k, v: f"{k}={v}", KEYISH, WORD))


def one_line(exc: BaseException) -> None:
    text = str(exc)
    assert text and "\n" not in text.strip(), repr(text)


# -- carbon settings: the documented rules, applied by the test itself -------------------------

NUMBER = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.floats(min_value=-0.5, max_value=3.0).map(lambda x: f"{x:.3g}"),  # around the pue >= 1 line
    st.integers(-3, 3).map(str),
    st.sampled_from(["1", "1.0", "0.999", "-0", "nan", "inf", "-inf", "1e400", "1_000", "0x1", "1,2", "$1"]),
)
REGION = st.sampled_from(["FRA", "fra", " deu ", "France", "germany", "world", "WORLD", "none", "XYZ",
                          "Frnce", "FR", "United Kingdom"])
CARBON_ARG = st.one_of(
    ARG,
    st.builds("pue={}".format, NUMBER),
    st.builds("intensity={}".format, st.one_of(NUMBER, st.sampled_from(["auto", "None", "AUTO"]))),
    st.builds("region={}".format, REGION),
    st.builds(" {} = {} ".format, st.sampled_from(["PUE", "Region", "Intensity"]), st.one_of(NUMBER, REGION)),
)
STARTS = st.sampled_from([CarbonConfig(), CarbonConfig(region="FRA", pue=1.2),
                          CarbonConfig(region=None, pue=1.5, intensity_g_per_kwh=30.0)])


def _finite(text: str) -> float | None:
    try:
        number = float(text)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _country_codes() -> dict[str, str]:
    """ISO-3 codes and country names (upper case) -> ISO-3, from the intensity table itself."""
    codes: dict[str, str] = {}
    for iso, row in machine.energy_mix().items():
        if not iso.startswith("_") and row.get("carbon_intensity") is not None:
            codes[iso.upper()] = iso.upper()
            codes.setdefault(str(row["country_name"]).upper(), iso.upper())
    return codes


COUNTRIES = _country_codes()


def expected_carbon(args: list[str], start: CarbonConfig) -> tuple[CarbonConfig | None, str]:
    """What ``%nbprofile carbon`` documents for ``args``: the settings they make of ``start``, or
    None and the part of the first bad argument that the error must quote.

    Rules: each argument is key=value (case-insensitive key); region is an ISO-3 code or a country
    name in the table, or world/none; pue is a finite number from 1 to MAX_PUE; intensity a finite
    number from 0 to MAX_INTENSITY_G_PER_KWH, or auto/none. The last setting of a key wins; one bad
    argument refuses the whole line.
    """
    region, pue, intensity = start.region, start.pue, start.intensity_g_per_kwh
    for arg in args:
        key, sep, value = arg.partition("=")
        key, value = key.strip().lower(), value.strip()
        if not sep or not value:
            return None, repr(arg)
        if key == "pue":
            number = _finite(value)
            if number is None or not 1 <= number <= MAX_PUE:
                return None, f"pue={value}"
            pue = number
        elif key == "intensity":
            if value.lower() in ("auto", "none"):
                intensity = None
                continue
            number = _finite(value)
            if number is None or not 0 <= number <= MAX_INTENSITY_G_PER_KWH:
                return None, f"intensity={value}"
            intensity = number
        elif key == "region":
            if value.lower() in ("world", "none"):
                region = None
                continue
            if value.upper() not in COUNTRIES:
                return None, repr(value)
            region = COUNTRIES[value.upper()]
        else:
            return None, repr(key)
    return CarbonConfig(region=region, pue=pue, intensity_g_per_kwh=intensity), ""


@settings(max_examples=400, deadline=None)
@given(st.lists(CARBON_ARG, max_size=4), STARTS)
def test_carbon_settings(args: list[str], start: CarbonConfig) -> None:
    """A good line gives exactly the settings asked for (PUE >= 1, intensity >= 0); a bad one is
    refused whole, with one line quoting what is wrong."""
    want, bad_part = expected_carbon(args, start)
    try:
        after = parse_carbon_args(args, start)
    except ValueError as exc:
        one_line(exc)
        assert want is None, f"{args!r} refused ({exc}), but the rules accept it as {want}"
        assert bad_part in str(exc), (bad_part, str(exc))
        return
    assert want is not None, f"{args!r} accepted as {after}, but the rules refuse it ({bad_part})"
    assert after == want
    assert after.pue >= 1.0
    assert after.intensity_g_per_kwh is None or 0 <= after.intensity_g_per_kwh < math.inf


def test_a_bad_carbon_line_changes_nothing(shell: Any, capsys: pytest.CaptureFixture[str]) -> None:
    """``%nbprofile carbon region=DEU pue=0.5`` is refused whole: the region before it is not applied."""
    from IPython.core.error import UsageError

    shell.run_line_magic("load_ext", "nbprofile")
    capsys.readouterr()
    shell.run_line_magic("nbprofile", "carbon region=FRA pue=1.2")
    name, grams = machine.country_intensity("FRA")
    shown = capsys.readouterr().out
    assert shown.startswith(f"nbprofile: carbon intensity {grams:g} gCO2e/kWh ({name} (FRA), ")
    assert shown.rstrip().endswith("x PUE 1.2")
    for line, quoted in (("carbon region=DEU pue=0.5", "pue=0.5"), ("carbon pue=1.5 region=Atlantis", "Atlantis"),
                         ("carbon intensity=-3", "intensity=-3"), ("carbon region", "'region'")):
        with pytest.raises(UsageError) as info:
            shell.run_line_magic("nbprofile", line)
        one_line(info.value)
        assert str(info.value).startswith("%nbprofile carbon: ") and quoted in str(info.value)
    shell.run_line_magic("nbprofile", "carbon")
    assert capsys.readouterr().out == shown  # still France at PUE 1.2


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


ARGPARSE_ERROR = re.compile(r"^nbprofile( [a-z]+)?: error: \S")


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(["runs", "show", "report", "compare"]), st.lists(WORD, max_size=3))
def test_cli_arguments(capsys, _isolated_store, tmp_path_factory, command: str, words: list[str]) -> None:
    """Whatever is typed after a subcommand: an error is one line on stderr naming the command and
    what is wrong, with nothing on stdout and no traceback; a success prints its answer on stdout only."""
    from nbprofile.cli.main import main

    capsys.readouterr()  # what an earlier example printed
    out_dir = tmp_path_factory.mktemp("out")
    argv = [command, *words] + (["-o", str(out_dir / "r.html")] if command == "report" else [])
    try:
        code = main(argv)
    except SystemExit as exit_:  # argparse's own usage errors (and -h)
        out, err = capsys.readouterr()
        assert "Traceback" not in out + err
        if exit_.code == 0:  # -h / --help: the subcommand's help, on stdout
            assert out.startswith(f"usage: nbprofile {command}") and err == "", (out, err)
            return
        assert exit_.code == 2 and out == "", (exit_.code, out)
        lines = err.rstrip("\n").splitlines()
        assert lines[0].startswith("usage: nbprofile"), err
        assert ARGPARSE_ERROR.match(lines[-1]), err  # usage, then one line saying what is wrong
        return
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if code == 0:
        assert err == "" and out.strip(), (argv, out, err)
        return
    assert code == 2, (argv, code)  # an empty store: nothing can regress, so never 1
    assert out == "", (argv, out)
    lines = err.splitlines()
    prefix = f"nbprofile {command}: "
    assert len(lines) == 1 and lines[0].startswith(prefix) and lines[0][len(prefix):].strip(), err


ADVERSARIAL = [
    "", ".", "..", "../", "../../etc/passwd", "/etc/passwd", "a/../../b", "%2e%2e/%2e%2e", "\x00", "a\x00b",
    "x" * 5000, "nb.ipynb?x=1", "C:\\windows", "~/.ssh/id_rsa", "é∞.ipynb", "a" + "/.." * 50, "//server/share",
    "sub/../nb.ipynb", "./nb.ipynb", " ../x ", "\t/etc", "..\\..\\x", "a/./../../..",
]
#: what Tornado makes of a query parameter before a handler reads it
_CONTROL = re.compile(r"[\x00-\x08\x0e-\x1f]")


def as_served(value: str) -> str:
    """A query parameter as the handler gets it: control characters become spaces, then it is stripped."""
    return _CONTROL.sub(" ", value).strip()


def leaves_root(relative: str) -> bool:
    """Whether ``relative``, joined to the server root, names a path outside it (nothing in the
    test's empty root is a link, so the lexical answer is the answer)."""
    if relative.startswith("/"):
        return True
    normal = posixpath.normpath(relative)
    return normal == ".." or normal.startswith("../")


@pytest.fixture
def jp_server_config(jp_server_config: dict[str, Any]) -> dict[str, Any]:
    return {"ServerApp": {"jpserver_extensions": {"nbprofile": True}}}


async def _get(jp_fetch: Any, *path: str, params: dict[str, str]) -> tuple[int, Any]:
    """The status and the JSON body, the error's message as the client reads it (a ``%`` in it is one
    ``%``: Tornado doubles them in a message raised without format arguments)."""
    try:
        response = await jp_fetch("nbprofile", "api", *path, params=params)
        return response.code, json.loads(response.body)
    except HTTPClientError as exc:
        return exc.code, json.loads(exc.response.body if exc.response else b"{}")


async def test_rest_parameters_never_break_the_server(jp_fetch) -> None:
    """Every parameter gets the answer the API documents: a notebook path is served only inside the
    server root (leaving it is a 400 saying so), a missing one is a 400 naming it, an unknown run a
    404, an unknown format a 400; never a 500, never a 200 for a path outside the root."""
    from nbprofile.report.registry import FORMATS

    rng = random.Random(9)
    alphabet = string.printable + "é∞\u202e"
    noise = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(300)]
    traversal = ["/".join(rng.choice(["..", ".", "a", "b.ipynb", ""]) for _ in range(rng.randint(1, 8)))
                 for _ in range(100)]
    outside = 0
    for value in ADVERSARIAL + noise + traversal:
        served = as_served(value)

        code, body = await _get(jp_fetch, "runs", params={"notebook": value})
        if not served:
            assert (code, body["message"]) == (400, "missing query parameter 'notebook'"), (value, code, body)
        elif leaves_root(served):
            outside += 1
            assert code == 400 and "server root" in body["message"] and repr(served) in body["message"], \
                (value, code, body)
        else:
            assert (code, body) == (200, {"notebook": served, "scope": "team", "runs": []}), (value, code, body)

        code, body = await _get(jp_fetch, "runs", params={"notebook": "a.ipynb", "kernel": value})
        assert (code, body) == (200, {"notebook": "a.ipynb", "scope": "team", "runs": []}), (value, code, body)

        code, body = await _get(jp_fetch, "compare", params={"a": value, "b": value})
        if not served:
            assert (code, body["message"]) == (400, "missing query parameter 'a'"), (value, code, body)
        else:
            assert code == 404 and body["message"].startswith(f"no run {served!r}"), (value, code, body)

        code, body = await _get(jp_fetch, "report", params={"run": value, "format": value[:8]})
        fmt = as_served(value[:8])
        if not served:
            assert (code, body["message"]) == (400, "missing query parameter 'run'"), (value, code, body)
        elif fmt and fmt not in FORMATS:
            assert code == 400 and body["message"].startswith(f"unknown report format {fmt!r}"), (value, code, body)
        else:
            assert code == 404 and body["message"].startswith(f"no run {served!r}"), (value, code, body)
    assert outside >= 50, "the inputs must include paths that leave the root"
    for run_id in ["a" * 65, "../x", "x y", "%00"]:
        with pytest.raises(HTTPClientError) as info:
            await jp_fetch("nbprofile", "api", "runs", run_id)
        assert info.value.code == 404
