"""Judging readings against budgets: verdicts, what they say, and session totals."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nbprofile.budgets.evaluate import LimitVerdict, Verdict, evaluate
from nbprofile.budgets.grammar import BudgetSyntaxError, Limit, parse_budget, parse_limit
from nbprofile.budgets.session import SessionBudget
from nbprofile.metrics import CATALOG

METRICS = CATALOG.budget_keys
from nbprofile.readings import Reading

GiB = 1024**3


def wall(seconds: float | None, note: str | None = None) -> dict[str, Reading]:
    if seconds is None:
        return {"wall_s": Reading.unavailable("s", note or "")}
    return {"wall_s": Reading(seconds, "s", "measured", "perf_counter")}


def one(spec: str, readings: dict[str, Reading], **kw: object) -> LimitVerdict:
    verdict = evaluate(parse_budget(spec), readings, **kw)  # type: ignore[arg-type]
    assert len(verdict.items) == 1
    return verdict.items[0]


@pytest.mark.parametrize("spec,seconds,status,line", [
    ("time<=100ms", 0.08, "pass", "time 80.0 ms <= 100 ms"),
    ("time<=100ms", 0.302, "fail", "time 302 ms > 100 ms"),
    ("time<=100ms", 0.1, "pass", "time 100 ms <= 100 ms"),
    ("time<100ms", 0.1, "fail", "time 100 ms >= 100 ms"),
    ("time<100ms", 0.099, "pass", "time 99.0 ms < 100 ms"),
    ("time<=0s", 0.0, "pass", "time 0 s <= 0 s"),
    ("time<=100ms", 0.1002, "fail", "time 0.1002 s > 0.1 s"),  # never "100 ms > 100 ms"
])
def test_absolute_limits(spec: str, seconds: float, status: str, line: str) -> None:
    item = one(spec, wall(seconds))
    assert (item.status, item.value, item.threshold) == (status, seconds, parse_limit(spec).value)
    assert item.describe() == line


def test_other_units_are_described_in_their_units() -> None:
    readings = {"vram_peak_bytes": Reading(9 * GiB, "B", "measured", "nvml"),
                "cost_usd": Reading(0.06, "USD", "estimated", "prices"),
                "energy_j": Reading(5400.0, "J", "measured", "rapl")}
    verdict = evaluate(parse_budget("vram<=8GiB cost<=$0.05 energy<=2Wh"), readings)
    assert [i.describe() for i in verdict.items] == [
        "vram 9.00 GiB > 8.00 GiB", "cost $0.06 > $0.05", "energy 1.50 Wh <= 2.00 Wh"]
    assert verdict.status == "fail"
    assert [i.limit.key for i in verdict.failed] == ["vram", "cost"]


def test_missing_reading_is_unmeasurable_never_pass() -> None:
    item = one("vram<=8GiB", wall(0.1))
    assert (item.status, item.value, item.reason) == ("unmeasurable", None, "not measured here")
    assert item.describe() == "vram not measurable here"


def test_unavailable_reading_shows_its_note() -> None:
    readings = {"vram_peak_bytes": Reading.unavailable("B", "no GPU")}
    item = one("vram<=8GiB", readings)
    assert (item.status, item.reason) == ("unmeasurable", "no GPU")
    assert item.describe() == "vram not measurable here (no GPU)"


@pytest.mark.parametrize("reading,reason", [
    (Reading(float("nan"), "s", "measured"), "the reading is not a finite number"),
    (Reading(3.0, "ms", "measured"), "the reading is in ms, the limit in s"),
])
def test_unusable_reading_is_unmeasurable(reading: Reading, reason: str) -> None:
    item = one("time<=1s", {"wall_s": reading})
    assert (item.status, item.reason) == ("unmeasurable", reason)


def test_verdict_status_precedence() -> None:
    readings = {**wall(2.0), "vram_peak_bytes": Reading.unavailable("B", "no GPU")}
    assert evaluate(parse_budget("time<=3s"), readings).status == "pass"
    assert evaluate(parse_budget("time<=3s vram<=1GiB"), readings).status == "unmeasurable"
    assert evaluate(parse_budget("time<=1s vram<=1GiB"), readings).status == "fail"
    assert evaluate([], readings).status == "pass"


def test_passed_respects_strict() -> None:
    verdict = evaluate(parse_budget("vram<=1GiB"), {})
    assert verdict.passed() and not verdict.passed(strict=True)
    assert not evaluate(parse_budget("time<=1s"), wall(2.0)).passed()


def test_name_comes_from_the_spec() -> None:
    assert evaluate(parse_budget("--name load time<=1s"), wall(0.5)).name == "load"
    assert evaluate([parse_limit("time<=1s")], wall(0.5)).name is None


# --- relative limits ---------------------------------------------------------------


def test_last_plus_percent() -> None:
    item = one("time<=last+10%", wall(1.2), previous=wall(1.0))
    assert item.status == "fail"
    assert item.threshold == pytest.approx(1.1)
    assert item.describe() == "time 1.20 s > 1.10 s (last +10%: 1.00 s)"
    assert one("time<=last+10%", wall(1.05), previous=wall(1.0)).status == "pass"


def test_last_plus_amount_and_compared_with() -> None:
    item = one("time<=last+1s", wall(2.5), previous=wall(1.0), compared_with="run 3f2a1c, 12:03")
    assert (item.status, item.threshold) == ("fail", 2.0)
    assert item.describe() == "time 2.50 s > 2.00 s (last +1.00 s: 1.00 s in run 3f2a1c, 12:03)"


def test_plain_last_is_no_worse_than_previous() -> None:
    ten = {"energy_j": Reading(10.0, "J", "measured", "rapl")}
    assert one("energy<=last", ten, previous=ten).status == "pass"
    item = one("energy<last", ten, previous=ten)
    assert item.status == "fail" and item.describe() == "energy 10.0 J >= 10.0 J (last: 10.0 J)"


def test_percent_uses_baseline_else_previous() -> None:
    assert one("time<=+10%", wall(1.2), previous=wall(1.0)).describe() == (
        "time 1.20 s > 1.10 s (last +10%: 1.00 s)")
    item = one("time<=+10%", wall(1.2), previous=wall(1.0), baseline=wall(2.0))
    assert item.status == "pass"
    assert item.describe() == "time 1.20 s <= 2.20 s (baseline +10%: 2.00 s)"
    assert one("time<=-5%", wall(0.96), previous=wall(1.0)).status == "fail"


def test_last_ignores_a_pinned_baseline() -> None:
    item = one("time<=last", wall(1.5), previous=wall(1.0), baseline=wall(2.0))
    assert (item.status, item.threshold) == ("fail", 1.0)


def vram(n: float) -> dict[str, Reading]:
    return {"vram_peak_bytes": Reading(n, "B", "measured", "nvml")}


def test_baseline_plus_amount() -> None:
    item = one("vram<=baseline+1GiB", vram(3.5 * GiB), baseline=vram(2 * GiB))
    assert (item.status, item.threshold) == ("fail", 3 * GiB)
    assert item.describe() == "vram 3.50 GiB > 3.00 GiB (baseline +1.00 GiB: 2.00 GiB)"
    assert one("vram<=baseline+5%", vram(2 * GiB), previous=vram(2 * GiB)).status == "pass"


def test_relative_without_earlier_run_is_unmeasurable() -> None:
    item = one("time<=last+10%", wall(1.2))
    assert (item.status, item.value, item.threshold) == ("unmeasurable", 1.2, None)
    assert item.reason == "no earlier run of this cell to compare with"
    assert item.describe() == (
        "time 1.20 s not checked against time<=last+10% "
        "(no earlier run of this cell to compare with)")


def test_relative_with_earlier_reading_unavailable() -> None:
    item = one("time<=+10%", wall(1.2), previous=wall(None, "the window was never opened"))
    assert item.status == "unmeasurable"
    assert item.reason == ("no earlier run of this cell with time measured to compare with "
                           "(the window was never opened)")
    pinned = one("time<=baseline", wall(1.2), previous=wall(1.0), baseline={})
    assert pinned.status == "unmeasurable" and "no baseline run" in (pinned.reason or "")


def test_current_reading_missing_wins_over_missing_baseline() -> None:
    item = one("vram<=last", {"vram_peak_bytes": Reading.unavailable("B", "no GPU")})
    assert item.describe() == "vram not measurable here (no GPU)"


def test_verdict_json_round_trip() -> None:
    verdict = evaluate(parse_budget("--name x time<=1s time<=last+10% vram<=8GiB"),
                       wall(1.2), previous=wall(1.0), compared_with="run 1")
    data = json.loads(json.dumps(verdict.to_json()))
    assert data["status"] == "fail"
    assert Verdict.from_json(data) == verdict
    assert [i.describe() for i in Verdict.from_json(data).items] == [
        i.describe() for i in verdict.items]
    with pytest.raises(ValueError):
        LimitVerdict.from_json({**data["items"][0], "status": "ok"})


# --- session budgets ---------------------------------------------------------------

Wh = 3600.0


def energy(wh: float | None) -> dict[str, Reading]:
    if wh is None:
        return {"energy_j": Reading.unavailable("J", "no RAPL")}
    return {"energy_j": Reading(wh * Wh, "J", "measured", "rapl")}


def test_session_warns_once_then_breaches_every_add() -> None:
    budget = SessionBudget([parse_limit("energy<=100Wh")])
    assert budget.add(energy(50)) == []
    events = budget.add(energy(32))
    assert [(e.kind, e.describe()) for e in events] == [
        ("warning", "session energy at 82% of 100 Wh (82.0 Wh)")]
    assert budget.add(energy(1)) == []  # warned once only
    events = budget.add(energy(20))
    assert [(e.kind, e.describe()) for e in events] == [
        ("breach", "session budget exceeded: energy 103 Wh > 100 Wh")]
    assert [e.kind for e in budget.add(energy(None))] == ["breach"]  # still over
    assert [e.kind for e in budget.add(energy(1))] == ["breach"]
    assert budget.totals == {"energy_j": pytest.approx(104 * Wh)}
    assert budget.status_lines() == ["energy 104 Wh of 100 Wh (104%), exceeded; 1 cell not measured"]


def test_session_cost_breach_message_and_no_late_warning() -> None:
    budget = SessionBudget(parse_budget("cost<=$5 tokens<=1M").limits)
    events = budget.add({"cost_usd": Reading(5.12, "USD", "estimated", "prices"),
                         "llm_tokens": Reading(1000, "tokens", "measured", "openai")})
    assert [e.describe() for e in events] == ["session budget exceeded: cost $5.12 > $5.00"]
    assert budget.add({}) == [events[0]]  # a breach, and no warning after it
    assert budget.status_lines() == ["cost $5.12 of $5.00 (102%), exceeded; 1 cell not measured",
                                     "tokens 1.00k of 1.00M (0%); 1 cell not measured"]


def test_session_strict_limit_breaches_at_equality() -> None:
    budget = SessionBudget([parse_limit("cost<$1")])
    events = budget.add({"cost_usd": Reading(1.0, "USD", "estimated", "prices")})
    assert [e.describe() for e in events] == ["session budget exceeded: cost $1.00 >= $1.00"]


def test_session_limits_on_one_key_share_a_total() -> None:
    budget = SessionBudget(parse_budget("energy<=100Wh energy<=10Wh").limits)
    events = budget.add(energy(9))
    assert [(e.kind, e.threshold) for e in events] == [("warning", 10 * Wh)]
    assert budget.totals == {"energy_j": 9 * Wh}


def test_session_rejects_relative_limits() -> None:
    with pytest.raises(BudgetSyntaxError, match=r"^energy<=last: a session budget takes fixed"):
        SessionBudget([parse_limit("energy<=100Wh"), parse_limit("energy<=last")])
    with pytest.raises(ValueError, match="warn_fraction"):
        SessionBudget([parse_limit("energy<=100Wh")], warn_fraction=0)


# --- properties ----------------------------------------------------------------

finite = st.floats(0, 1e12, allow_nan=False)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(sorted(METRICS)), st.sampled_from(["<=", "<"]), finite, finite)
def test_absolute_verdict_is_the_comparison(key: str, op: str, value: float, limit: float) -> None:
    metric = METRICS[key]
    lim = Limit(key, "<=" if op == "<=" else "<", "absolute", limit, None, f"{key}{op}{limit}")
    item = evaluate([lim], {metric.key: Reading(value, metric.unit, "measured")}).items[0]
    expected = value <= limit if op == "<=" else value < limit
    assert item.status == ("pass" if expected else "fail")
    assert item.describe().startswith(metric.budget_label + " ")


@settings(max_examples=200, deadline=None)
@given(st.sampled_from(sorted(METRICS)), st.text(max_size=20) | st.none(), finite)
def test_an_unavailable_reading_never_passes(key: str, note: str | None, previous: float) -> None:
    metric = METRICS[key]
    spec = parse_budget(f"{key}<=last {key}<=+10%")
    readings = {metric.key: Reading(None, metric.unit, "unavailable", "", note)}
    verdict = evaluate(spec, readings,
                       previous={metric.key: Reading(previous, metric.unit, "measured")})
    assert verdict.status == "unmeasurable"
    assert all(i.describe().startswith(f"{metric.budget_label} not measurable here") for i in verdict.items)
