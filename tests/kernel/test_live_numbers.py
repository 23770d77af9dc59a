"""A long cell's numbers while it runs: once a second after two seconds, then replaced by
its footer; nothing for a short cell."""

from __future__ import annotations

import re

import pytest

from tests.kernel.test_footer_channel import load, with_frontend

pytestmark = pytest.mark.kernel

LONG_CELL = "import time\nheld = b'x' * 50_000_000\nfor _ in range(55):\n    time.sleep(0.1)"
ELAPSED = re.compile(r"^running (\d+(?:\.\d+)?) s · CPU [^·]+ · RAM \d")


def elapsed(text: str) -> float:
    found = ELAPSED.match(text)
    assert found, text
    return float(found.group(1))


def test_over_the_channel_live_numbers_rise_then_the_footer_comes(start_kernel) -> None:
    k = start_kernel()
    with_frontend(k)
    reply = k.run(LONG_CELL, cell_id="long")
    live = [m["live"] for m in reply.comm_msgs if "live" in m]
    assert len(live) >= 3, reply.comm_msgs
    times = [elapsed(m["text"]) for m in live]
    assert times == sorted(times) and times[0] >= 2.0 and times[-1] > times[0] + 1.5, times
    assert all(m["cell_id"] == "long" for m in live)
    assert live[-1]["numbers"]["rss_now_bytes"] > 50_000_000
    assert "footer" in reply.comm_msgs[-1], "the footer comes last"
    assert reply.displays == [] and reply.updates == [], "nothing is an output"


def test_without_the_channel_one_output_is_updated_then_replaced_by_the_footer(start_kernel) -> None:
    k = start_kernel()
    load(k)
    reply = k.run(LONG_CELL, cell_id="long")
    assert len(reply.displays) == 1, "one live output, and no other"
    (display_id,) = reply.display_ids
    assert display_id and elapsed(reply.displays[0]["text/plain"]) >= 2.0
    assert len(reply.updates) >= 3 and {u["display_id"] for u in reply.updates} == {display_id}
    *live, final = reply.updates
    times = [elapsed(u["data"]["text/plain"]) for u in live]
    assert times == sorted(times)
    assert "nbprofile-footer" in final["data"]["text/html"], "the footer takes the live output's place"
    assert final["data"]["text/plain"].startswith("5.")  # "5.5x s wall · …"


def test_a_short_cell_shows_no_live_numbers(start_kernel) -> None:
    k = start_kernel()
    with_frontend(k)
    reply = k.run("import time\ntime.sleep(1.5)", cell_id="short")
    assert [m for m in reply.comm_msgs if "live" in m] == []
    assert len(reply.comm_msgs) == 1 and "footer" in reply.comm_msgs[0]


def test_a_hidden_footer_leaves_no_live_output_behind(start_kernel) -> None:
    k = start_kernel()
    load(k)
    k.run("%nbprofile footer off")
    reply = k.run(LONG_CELL, cell_id="long")
    assert len(reply.displays) == 1 and reply.updates[-1]["data"] == {"text/plain": ""}


TQDM_CELL = ("%%budget time<=4s\nimport time\nfrom tqdm.auto import tqdm\n"
             "for _ in tqdm(range(60)):\n    time.sleep(0.1)")


def test_a_progress_bar_projects_the_end_and_the_limit_it_will_break(start_kernel) -> None:
    pytest.importorskip("tqdm")
    k = start_kernel()
    with_frontend(k)
    reply = k.run(TQDM_CELL, cell_id="bar")
    live = [m["live"] for m in reply.comm_msgs if "live" in m]
    projected = [m for m in live if m["numbers"]["projection"]]
    assert projected, live
    first = projected[0]
    # 60 steps of 0.1 s: about 6 s in all, said before the 4 s limit is reached
    final = re.search(r"≈ (\d+(?:\.\d+)?) s", first["numbers"]["projection"])
    assert final and 5.0 <= float(final.group(1)) <= 7.5, first["numbers"]["projection"]
    # energy and CO2e from the CPU energy meter so far (estimated here), by the record's own formulas
    assert "CO2e" in first["numbers"]["projection"], first["numbers"]["projection"]
    assert elapsed(first["text"]) < 4.0
    assert any(w.startswith("time<=4s will be exceeded at ≈") for w in first["numbers"]["will_break"]), first
    assert "⚠ time<=4s will be exceeded" in first["text"]


def test_without_a_progress_bar_nothing_is_projected(start_kernel) -> None:
    k = start_kernel()
    with_frontend(k)
    reply = k.run(LONG_CELL, cell_id="long")
    live = [m["live"] for m in reply.comm_msgs if "live" in m]
    assert live and all(m["numbers"]["projection"] is None and "≈" not in m["text"] for m in live)


def test_enforce_projected_stops_the_cell_before_the_limit_breaks(start_kernel, _isolated_store) -> None:
    pytest.importorskip("tqdm")
    from tests.support.store import stored

    k = start_kernel()
    k.run("%load_ext nbprofile", cell_id="load")
    reply = k.run(TQDM_CELL.replace("%%budget time<=4s", "%%budget --enforce=projected time<=4s"), cell_id="bar")
    assert reply.error is not None and reply.error["ename"] == "BudgetExceeded"
    assert "stopped by --enforce=projected: time<=4s will be exceeded at ≈" in reply.error["evalue"]
    record = stored(_isolated_store)[-1]
    assert record.status == "interrupted" and record.value("wall_s") < 4.0  # stopped early, not at the limit


LLM_CELL = ("import time\nimport nbprofile.llm as llm\nfor _ in range(30):\n"
            "    llm.record(model='m', input_tokens=900, output_tokens=100, cost_usd=0.001)\n"
            "    time.sleep(0.1)")


def test_the_tokens_and_dollars_so_far_rise_while_the_cell_runs(start_kernel) -> None:
    k = start_kernel()
    with_frontend(k)
    reply = k.run(LLM_CELL, cell_id="llm")
    live = [m["live"]["numbers"] for m in reply.comm_msgs if "live" in m]
    assert len(live) >= 1, reply.comm_msgs
    tokens = [n["llm_tokens"] for n in live]
    # 1,000 tokens a call, about 10 calls a second, from 2 s on
    assert tokens == sorted(tokens) and 1000 * 15 <= tokens[0] <= 1000 * 30, tokens
    assert live[0]["llm_cost_usd"] == pytest.approx(tokens[0] / 1000 * 0.001)
    text = next(m["live"]["text"] for m in reply.comm_msgs if "live" in m)
    assert " tokens · $0.0" in text, text


def test_live_numbers_can_be_switched_off(start_kernel) -> None:
    k = start_kernel()
    with_frontend(k)
    assert "live numbers off" in k.run("%nbprofile live off").stdout
    reply = k.run(LONG_CELL, cell_id="long")
    assert [m for m in reply.comm_msgs if "live" in m] == [] and "footer" in reply.comm_msgs[-1]
    assert "live numbers on" in k.run("%nbprofile live on").stdout
