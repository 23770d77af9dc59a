"""Issue 5 through a real kernel with the extension as a user loads it: tokens, dollars,
budgets and --enforce on LLM calls, and no secret in the store."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.llm.test_llm_server import SECRET_OPENAI, FakeLLMServer, expected_usd

from nbprofile.store import SQLiteStore

pytestmark = pytest.mark.kernel
pytest.importorskip("openai")

CLIENT = ("import openai\nclient = openai.OpenAI(base_url={url!r}, max_retries=0, timeout=10)  # key from env\n"
          "def ask(text):\n"
          "    return client.chat.completions.create(model='gpt-4o-mini',"
          " messages=[{{'role': 'user', 'content': text}}])")


@pytest.fixture
def server():
    s = FakeLLMServer()
    yield s
    s.close()


def test_llm_cells_in_a_kernel(start_kernel, server: FakeLLMServer, _isolated_store: Path, monkeypatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", SECRET_OPENAI)
    k = start_kernel()
    k.run("%load_ext nbprofile")
    k.run(CLIENT.format(url=server.openai_url), cell_id="client")
    server.queue(prompt_tokens=1200, completion_tokens=300)
    reply = k.run("answer = ask('hi')\nanswer.usage.total_tokens", cell_id="ask")
    assert reply.result["text/plain"] == "1500"
    (footer,) = reply.footers
    assert "1.50k tokens" in footer and "$0." in footer, footer
    records = {r.cell_id: r for r in SQLiteStore(_isolated_store).history(None, 50)}
    rec = records["ask"]
    assert rec.value("llm_input_tokens") == 1200 and rec.value("llm_output_tokens") == 300
    assert rec.value("llm_cost_usd") == expected_usd("gpt-4o-mini", uncached=1200, output=300)
    assert rec.value("cost_usd") is not None  # LLM dollars join the total

    server.queue(prompt_tokens=10, completion_tokens=10)
    budget = k.run("%%budget tokens<=100 cost<=$0.01\nask('again')", cell_id="cheap")
    assert "✓ budget" in budget.footers[0]

    for _ in range(5):
        server.queue(prompt_tokens=400, completion_tokens=100)
    enforced = k.run("%%budget --enforce tokens<=1000\nfor i in range(5):\n    ask(str(i))", cell_id="loop")
    assert enforced.error["ename"] == "BudgetExceeded"
    calls = SQLiteStore(_isolated_store).history(None, 50)[-1]
    # 500 tokens a call: after the third the total (1,500) is over, so the fourth never goes out
    assert calls.cell_id == "loop" and calls.value("llm_calls") == 3
    assert calls.status == "interrupted" and calls.error_type == "BudgetExceeded"

    db_bytes = b"".join(p.read_bytes() for p in _isolated_store.parent.rglob("records.db*") if p.is_file())
    assert server.log[0].headers.get("Authorization", server.log[0].headers.get("authorization")) \
        == f"Bearer {SECRET_OPENAI}"  # the key was in use
    assert SECRET_OPENAI.encode() not in db_bytes, "an API key reached the record store"
    assert b"client = openai.OpenAI" in db_bytes  # the cell's source is stored, so the check is real
