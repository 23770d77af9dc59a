"""The budget grammar: what parses, to what, and what a user is told when it doesn't."""

from __future__ import annotations

import math
import shlex
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from nbprofile.budgets.grammar import (
    BudgetSpec,
    BudgetSyntaxError,
    Limit,
    parse_budget,
    parse_limit,
    parse_limits,
)
from nbprofile.format import format_value
from nbprofile.metrics import CATALOG

METRICS = CATALOG.budget_keys

GiB = 1024**3

VALID = [
    # text, key, op, kind, value, percent
    ("time<=30s", "time", "<=", "absolute", 30.0, None),
    ("time<=100ms", "time", "<=", "absolute", 0.1, None),
    ("time<=2min", "time", "<=", "absolute", 120.0, None),
    ("time<=1.5h", "time", "<=", "absolute", 5400.0, None),
    ("time<=0s", "time", "<=", "absolute", 0.0, None),
    ("time<=.5s", "time", "<=", "absolute", 0.5, None),
    ("time<=1e3ms", "time", "<=", "absolute", 1.0, None),
    ("time<30s", "time", "<", "absolute", 30.0, None),
    ("time <= 30 s", "time", "<=", "absolute", 30.0, None),
    ("cpu<=500ms", "cpu", "<=", "absolute", 0.5, None),
    ("gpu_time<=2s", "gpu_time", "<=", "absolute", 2.0, None),
    ("ram<=2GiB", "ram", "<=", "absolute", 2 * GiB, None),
    ("ram<=512MB", "ram", "<=", "absolute", 512e6, None),
    ("ram<=1kB", "ram", "<=", "absolute", 1000.0, None),
    ("ram<=1KB", "ram", "<=", "absolute", 1000.0, None),
    ("ram<=100B", "ram", "<=", "absolute", 100.0, None),
    ("ram<=1TiB", "ram", "<=", "absolute", 1024.0**4, None),
    ("ram<=1.5KiB", "ram", "<=", "absolute", 1536.0, None),
    ("vram<=8GiB", "vram", "<=", "absolute", 8 * GiB, None),
    ("vram<=1TB", "vram", "<=", "absolute", 1e12, None),
    ("energy<=5Wh", "energy", "<=", "absolute", 18000.0, None),
    ("energy<=1kWh", "energy", "<=", "absolute", 3.6e6, None),
    ("energy<=500mWh", "energy", "<=", "absolute", 1800.0, None),
    ("energy<=2kJ", "energy", "<=", "absolute", 2000.0, None),
    ("energy<=500mJ", "energy", "<=", "absolute", 0.5, None),
    ("gpu_energy<=10J", "gpu_energy", "<=", "absolute", 10.0, None),
    ("co2<=500mg", "co2", "<=", "absolute", 0.5, None),
    ("co2<=1kg", "co2", "<=", "absolute", 1000.0, None),
    ("co2<=3.20 g CO2e", "co2", "<=", "absolute", 3.2, None),
    ("tokens<=20k", "tokens", "<=", "absolute", 20000.0, None),
    ("tokens<=1.5M", "tokens", "<=", "absolute", 1.5e6, None),
    ("tokens<=500", "tokens", "<=", "absolute", 500.0, None),
    ("input_tokens<=2K", "input_tokens", "<=", "absolute", 2000.0, None),
    ("output_tokens<=1e3", "output_tokens", "<=", "absolute", 1000.0, None),
    ("cost<=$0.05", "cost", "<=", "absolute", 0.05, None),
    ("cost<=0.05", "cost", "<=", "absolute", 0.05, None),
    ("cost<=0.05USD", "cost", "<=", "absolute", 0.05, None),
    ("cost<=0.05 USD", "cost", "<=", "absolute", 0.05, None),
    ("llm_cost<=$5", "llm_cost", "<=", "absolute", 5.0, None),
    ("time<=+10%", "time", "<=", "percent", 10.0, 10.0),
    ("time<=-5%", "time", "<=", "percent", -5.0, -5.0),
    ("time<=10%", "time", "<=", "percent", 10.0, 10.0),
    ("energy<=last", "energy", "<=", "last", 0.0, None),
    ("energy<=last+10%", "energy", "<=", "last", 0.0, 10.0),
    ("time<=last+1s", "time", "<=", "last", 1.0, None),
    ("time<=last + 1s", "time", "<=", "last", 1.0, None),
    ("vram<=baseline", "vram", "<=", "baseline", 0.0, None),
    ("vram<=baseline+1GiB", "vram", "<=", "baseline", float(GiB), None),
    ("vram<=baseline+5%", "vram", "<=", "baseline", 0.0, 5.0),
    ("time<=baseline-500ms", "time", "<=", "baseline", -0.5, None),
]


@pytest.mark.parametrize("text,key,op,kind,value,percent", VALID)
def test_valid_limit(text: str, key: str, op: str, kind: str, value: float,
                     percent: float | None) -> None:
    limit = parse_limit(text)
    assert (limit.key, limit.op, limit.kind, limit.value, limit.percent) == (
        key, op, kind, value, percent)
    assert limit.text == text
    assert limit.metric is METRICS[key]
    assert limit.relative == (kind != "absolute")


MALFORMED = [
    # text, what the one-line message must say after the text
    ("time<=3 parsecs", "unknown unit 'parsecs' for time (use ms, s, min or h)"),
    ("vram<=", "missing value after '<='"),
    ("vram<", "missing value after '<'"),
    ("foo<=1s", "unknown budget key 'foo' (known: time, cpu,"),
    ("tme<=1s", "did you mean 'time'?"),
    ("time<=-1s", "a limit cannot be negative"),
    ("time<=30", "'30' needs a unit for time (use ms, s, min or h)"),
    ("ram<=2", "'2' needs a unit for ram"),
    ("time<=nan s", "'nan' is not a finite number"),
    ("time<=inf", "'inf' is not a finite number"),
    ("time<=1e999s", "'1e999s' is not a finite number"),
    ("time<=1,000s", "without ',' separators"),
    ("time=1s", "expected KEY<=VALUE or KEY<VALUE, not '='"),
    ("time>=1s", "not '>=' (a budget is an upper limit)"),
    ("time<==1s", "not '<=='"),
    ("time<=1GiB", "unknown unit 'GiB' for time (use ms, s, min or h); 'GiB' is for ram, ram_rise, vram"),
    ("ram<=2gib", "unknown unit 'gib' for ram"),
    ("cost<=5 EUR", "unknown unit 'EUR' for cost"),
    ("tokens<=1.5", "'1.5' is not a whole number of tokens"),
    ("time<=+1s", "a '+' needs an anchor: write last+1s or baseline+1s, or 1s"),
    ("energy<=$5", "'$' is for cost and llm_cost"),
    ("cost<=$limit", "'$limit' is not a number (if it names a Python variable"),
    ("time<=last*2", "unexpected '*2' after 'last'"),
    ("time<=last+", "missing amount after 'last+'"),
    ("time<=last+-1s", "use one sign"),
    ("time<=last+3 parsecs", "unknown unit 'parsecs'"),
    ("time<=-150%", "'-150%': a change below -100% cannot be met"),
    ("time<=10%%", "'10%%' is not a percentage"),
    ("time<=1s foo", "unexpected 'foo' after '1s'"),
    ("time<=soon", "'soon' is not a number"),
    ("time", "missing '<=' and a value after time"),
    ("time30s", "expected KEY<=VALUE"),
    ("<=1s", "missing budget key before '<='"),
]


@pytest.mark.parametrize("text,detail", MALFORMED)
def test_malformed_limit(text: str, detail: str) -> None:
    with pytest.raises(BudgetSyntaxError) as info:
        parse_limit(text)
    message = str(info.value)
    assert message.startswith(f"{text}: ")  # the user finds the bad limit in a long line
    assert detail in message
    assert len(message.splitlines()) == 1


def test_empty_limit_is_an_error() -> None:
    with pytest.raises(BudgetSyntaxError, match="empty limit"):
        parse_limit("   ")


def test_syntax_error_is_a_value_error() -> None:
    assert issubclass(BudgetSyntaxError, ValueError)


def test_control_characters_cannot_split_the_message() -> None:
    with pytest.raises(BudgetSyntaxError) as info:
        parse_limit("fo\no<=1s")
    assert str(info.value).startswith("fo\\no<=1s: unknown budget key 'fo\\no'")
    assert len(str(info.value).splitlines()) == 1


# --- whole lines -------------------------------------------------------------


def test_flags_anywhere() -> None:
    spec = parse_budget("time<=1s --enforce ram<=2GiB --name=train --strict")
    assert spec == BudgetSpec((parse_limit("time<=1s"), parse_limit("ram<=2GiB")),
                              enforce=True, strict=True, name="train")


def test_enforce_projected_enforces_and_projects() -> None:
    spec = parse_budget("--enforce=projected time<=3min")
    assert spec.enforce and spec.projected and not parse_budget("--enforce time<=3min").projected
    assert BudgetSpec.from_json(spec.to_json()) == spec


def test_quoted_name() -> None:
    spec = parse_budget("--name 'load data' time<=30s")
    assert spec.name == "load data"
    assert not spec.enforce and not spec.strict


def test_spaced_operator_and_unit_words() -> None:
    spec = parse_budget("time <= 1s ram <=2GiB vram<= 8 GiB cost<=0.05 USD")
    assert [(lim.key, lim.value) for lim in spec.limits] == [
        ("time", 1.0), ("ram", 2 * GiB), ("vram", 8 * GiB), ("cost", 0.05)]
    assert [lim.text for lim in spec.limits] == [
        "time <= 1s", "ram <=2GiB", "vram<= 8 GiB", "cost<=0.05 USD"]


def test_absolute_and_relative_on_one_key() -> None:
    spec = parse_budget("time<=2s time<=+10%")
    assert [lim.kind for lim in spec.limits] == ["absolute", "percent"]


@pytest.mark.parametrize("line,message", [
    ("--bogus time<=1s", "--bogus: unknown option (use --enforce, --enforce=projected, --strict, --name NAME)"),
    ("--enforce=later time<=1s", "--enforce=later: unknown option (use --enforce, --enforce=projected, --strict, --name NAME)"),
    ("", "no limits given: write at least one, e.g. time<=30s ram<=2GiB"),
    ("--enforce --strict", "no limits given: write at least one, e.g. time<=30s ram<=2GiB"),
    ("time<=1s --name", "--name: missing NAME after --name"),
    ("time<=1s --name=", "--name=: missing NAME after --name="),
    ("--name a --name b time<=1s", "--name b: --name given twice"),
    ("time<=1s ram<=3 parsecs", "ram<=3 parsecs: unknown unit 'parsecs' for ram"),
    ("time<=1s time<= --strict 1s", "time<=: missing value after '<='"),
    ("time <= ram<=1GiB", "time <=: missing value after '<='"),
    ("time ram<=1GiB", "time: missing '<=' and a value after time"),
    ("time<=1s 'unclosed", "No closing quotation (check the quotes)"),
])
def test_malformed_line(line: str, message: str) -> None:
    with pytest.raises(BudgetSyntaxError) as info:
        parse_budget(line)
    assert message in str(info.value)
    assert len(str(info.value).splitlines()) == 1


def test_parse_limits_rejects_relative_for_totals() -> None:
    assert parse_limits(["energy<=100Wh", "cost<=$5"], allow_relative=False)[1].value == 5.0
    with pytest.raises(BudgetSyntaxError, match=r"^time<=\+10%: only fixed limits apply"):
        parse_limits(["energy<=100Wh", "time<=+10%"], allow_relative=False)
    assert parse_limits(["time<=+10%"])[0].kind == "percent"


def test_spec_json_round_trip() -> None:
    spec = parse_budget("--enforce --name x time<=1s vram<=baseline+1GiB energy<=last+5%")
    assert BudgetSpec.from_json(spec.to_json()) == spec
    with pytest.raises(ValueError):
        Limit.from_json({"key": "nope", "op": "<=", "kind": "absolute", "value": 1})


# --- properties ----------------------------------------------------------------

UNITS = {  # the accepted units, written out independently of the implementation
    "s": {"ms": 1e-3, "s": 1.0, "min": 60.0, "h": 3600.0},
    "B": {"B": 1.0, "KB": 1e3, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
          "KiB": 2.0**10, "MiB": 2.0**20, "GiB": 2.0**30, "TiB": 2.0**40},
    "J": {"mJ": 1e-3, "J": 1.0, "kJ": 1e3, "mWh": 3.6, "Wh": 3600.0, "kWh": 3.6e6},
    "g": {"mg": 1e-3, "g": 1.0, "kg": 1e3},
    "tokens": {"": 1.0, "k": 1e3, "K": 1e3, "M": 1e6},
    "USD": {"": 1.0, "USD": 1.0},
}
ALL_UNITS = {u for table in UNITS.values() for u in table} - {""}
KEYS = sorted(METRICS)
keys = st.sampled_from(KEYS)
ops = st.sampled_from(["<=", "<"])
spaces = st.sampled_from(["", " "])
words = st.from_regex(r"[A-Za-z]{2,8}", fullmatch=True).filter(
    lambda w: w not in ALL_UNITS and w.lower() not in ("last", "baseline", "nan", "inf", "co2e"))


@st.composite
def numbers(draw: st.DrawFn, places: int = 3) -> str:
    n = draw(st.integers(0, 10**7))
    return str(Decimal(n).scaleb(-draw(st.integers(0, places))))


@st.composite
def valid_values(draw: st.DrawFn, key: str) -> tuple[str, float]:
    """A value text with an explicit unit for ``key`` and its base-unit value."""
    base = METRICS[key].unit
    if base == "tokens":
        unit = draw(st.sampled_from(["k", "K", "M"]))
        number = draw(numbers(places=3))
    elif base == "USD":
        unit = draw(st.sampled_from(["USD", "$"]))
        number = draw(numbers())
        if unit == "$":
            return f"${number}", float(number)
    else:
        unit = draw(st.sampled_from(sorted(UNITS[base])))
        number = draw(numbers())
    return f"{number}{draw(spaces)}{unit}", float(number) * UNITS[base][unit]


def _limit(key: str, op: str, value: str) -> str:
    return f"{key}{op}{value}"


@st.composite
def malformed(draw: st.DrawFn) -> tuple[str, str]:
    """(text, fragment): a limit that is wrong by construction, and what the message
    must quote to point at the wrong part."""
    kind = draw(st.sampled_from([
        "bad_key", "bad_unit", "wrong_key_unit", "missing", "negative", "garbage",
        "bad_op", "not_finite", "thousands", "no_unit", "no_op", "percent", "anchor",
        "plus", "dollar", "fraction_tokens"]))
    event(kind)
    key, op = draw(keys), draw(ops)
    base = METRICS[key].unit
    good, _ = draw(valid_values(key))
    if kind == "bad_key":
        bad = draw(st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,12}", fullmatch=True)
                   .filter(lambda k: k not in METRICS))
        return _limit(bad, op, good), f"unknown budget key '{bad}'"
    if kind in ("bad_unit", "wrong_key_unit"):
        pool = words if kind == "bad_unit" else st.sampled_from(sorted(ALL_UNITS - set(UNITS[base])))
        unit = draw(pool)
        return _limit(key, op, f"{draw(numbers())}{draw(spaces)}{unit}"), f"unknown unit '{unit}'"
    if kind == "missing":
        return _limit(key, op, draw(st.sampled_from(["", " ", "  "]))), f"missing value after '{op}'"
    if kind == "negative":
        return _limit(key, op, f"-{good}"), "cannot be negative"
    if kind == "garbage":
        junk = draw(words)
        return _limit(key, op, f"{good} {junk}"), f"'{junk}'"
    if kind == "bad_op":
        bad_op = draw(st.sampled_from([">=", ">", "=", "==", "=<", "<<", "=>", "!=", "<>",
                                       "<==", ">>", "≥"]))
        return _limit(key, bad_op, good), f"not '{bad_op}'"
    if kind == "not_finite":
        word = draw(st.sampled_from(["nan", "NaN", "inf", "Infinity", "1e999", "9e99999"]))
        unit = draw(st.sampled_from(sorted(UNITS[base])))
        gap = draw(spaces) if word[0].isdigit() else " "  # "nans" is just not a number
        return _limit(key, op, f"{word}{gap}{unit}".strip()), "is not a finite number"
    if kind == "thousands":
        number = f"{draw(st.integers(1, 999))},{draw(st.integers(0, 999)):03d}"
        return _limit(key, op, f"{number}{draw(st.sampled_from(sorted(UNITS[base])))}"), "','"
    if kind == "no_unit":
        key = draw(st.sampled_from([k for k in KEYS if METRICS[k].unit in ("s", "B", "J", "g")]))
        number = draw(numbers())
        return _limit(key, op, number), f"'{number}' needs a unit for {key}"
    if kind == "no_op":
        return f"{key}{draw(st.sampled_from(['', ':']))}{good.replace(' ', '')}", "KEY<=VALUE"
    if kind == "percent":
        pct = draw(st.sampled_from(["-150%", "-100.5%", "%", "10%%", "+%", "1,0%"]))
        return _limit(key, op, pct), f"'{pct}'"
    if kind == "anchor":
        anchor = draw(st.sampled_from(["last", "baseline"]))
        tail = draw(st.sampled_from(["*2", "/2", " x", "+", "-", "+-1%"]))
        fragment = {"+": f"'{anchor}+'", "-": f"'{anchor}-'"}.get(tail, f"'{tail.strip()}'")
        return _limit(key, op, f"{anchor}{tail}"), fragment
    if kind == "plus":
        return _limit(key, op, f"+{good}"), f"'+{good}'"
    if kind == "dollar":
        key = draw(st.sampled_from([k for k in KEYS if METRICS[k].unit != "USD"]))
        return _limit(key, op, f"${draw(numbers())}"), "'$' is for cost"
    number = f"{draw(st.integers(0, 10**6))}.{draw(st.integers(1, 9))}"  # fraction_tokens
    key = draw(st.sampled_from([k for k in KEYS if METRICS[k].unit == "tokens"]))
    return _limit(key, op, number), f"'{number}' is not a whole number of tokens"


valid_prefix = st.lists(st.sampled_from(["time<=1s", "ram <= 2GiB", "--enforce",
                                         "--name=x", "cost<=0.05 USD", "energy<=last"]),
                        max_size=3).map(lambda xs: " ".join([*xs, "--strict"]))
valid_suffix = st.lists(st.sampled_from(["vram<=8GiB", "tokens<=20k", "time<=+10%"]),
                        max_size=2).map(" ".join)


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(malformed(), valid_prefix, valid_suffix)
def test_malformed_specs_are_rejected_with_one_line_naming_the_problem(
        case: tuple[str, str], prefix: str, suffix: str) -> None:
    text, fragment = case
    with pytest.raises(BudgetSyntaxError) as info:
        parse_limit(text)
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{text.strip()}: "), message
    assert fragment in message.split(": ", 1)[1], message
    # the same limit inside a line of valid flags and limits is reported the same way
    with pytest.raises(BudgetSyntaxError) as info:
        parse_budget(f"{prefix} {text} {suffix}")
    message = str(info.value)
    assert len(message.splitlines()) == 1
    assert message.startswith(f"{' '.join(shlex.split(text))}: "), message
    assert fragment in message, message


@st.composite
def valid_limits(draw: st.DrawFn) -> tuple[str, str, str, float]:
    key, op = draw(keys), draw(ops)
    value, expected = draw(valid_values(key))
    return f"{key}{draw(spaces)}{op}{draw(spaces)}{value}", key, op, expected


@settings(max_examples=500, deadline=None)
@given(st.lists(valid_limits(), min_size=1, max_size=4), st.booleans(), st.booleans())
def test_valid_specs_round_trip(cases: list[tuple[str, str, str, float]], enforce: bool,
                                strict: bool) -> None:
    line = " ".join(text for text, *_ in cases)
    line = f"{'--enforce ' if enforce else ''}{line}{' --strict' if strict else ''}"
    spec = parse_budget(line)
    assert (spec.enforce, spec.strict) == (enforce, strict)
    assert len(spec.limits) == len(cases)
    for limit, (text, key, op, expected) in zip(spec.limits, cases, strict=True):
        assert (limit.key, limit.op, limit.kind, limit.text) == (key, op, "absolute", text)
        assert math.isclose(limit.value, expected, rel_tol=1e-12, abs_tol=1e-15)
        assert parse_limit(text) == limit
    assert BudgetSpec.from_json(spec.to_json()) == spec


@settings(max_examples=300, deadline=None)
@given(st.sampled_from([("ram", 1024.0, 2.0**45), ("energy", 1e-3, 1e9), ("co2", 1e-3, 1e6),
                        ("cost", 1e-4, 999.0), ("tokens", 0.0, 9e8), ("time", 1e-3, 59.0)]),
       st.floats(0, 1))
def test_what_the_footer_shows_can_be_pasted_as_a_limit(case: tuple[str, float, float],
                                                        t: float) -> None:
    key, low, high = case
    value = low + (high - low) * t
    limit = parse_limit(f"{key}<={format_value(value, METRICS[key].unit)}")
    assert math.isclose(limit.value, value, rel_tol=0.006, abs_tol=0.5 if key == "tokens" else 0)
