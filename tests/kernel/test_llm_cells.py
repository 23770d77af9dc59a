"""A cell (in an in-process IPython shell) and a measure() block that call the SDK get their tokens."""

from __future__ import annotations

from typing import Any

import pytest

pytest.importorskip("openai")
pytest.importorskip("anthropic")

from nbprofile.engine.profiler import Profiler  # noqa: E402
from nbprofile.ipython.hooks import CellHooks  # noqa: E402
from tests.llm.test_llm_server import SECRET_OPENAI, FakeLLMServer, expected_usd, hooked, server  # noqa: E402

from nbprofile.engine import current  # noqa: E402
from nbprofile.llm.meter import LlmMeter  # noqa: E402
from nbprofile.meters.clock import WallClock  # noqa: E402

__all__ = ["hooked", "server"]


def test_measure_blocks_get_their_own_calls(server: FakeLLMServer, hooked: Any) -> None:
    import openai

    import nbprofile

    current.install(Profiler(meters=[LlmMeter(), WallClock()]))
    client = openai.OpenAI(api_key=SECRET_OPENAI, base_url=server.openai_url, max_retries=0, timeout=10)
    with nbprofile.measure("outer", store=False) as outer:
        server.queue(prompt_tokens=100, completion_tokens=10)
        client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "a"}])
        with nbprofile.measure("inner", store=False) as inner:
            server.queue(prompt_tokens=7, completion_tokens=3)
            client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": "b"}])
    assert inner.value("llm_tokens") == 10 and inner.value("llm_calls") == 1
    assert outer.value("llm_tokens") == 120 and outer.value("llm_calls") == 2
    assert outer.value("llm_cost_usd") == expected_usd("gpt-4o", uncached=107, output=13)
    assert outer.value("wall_s") > 0


def test_a_cell_calling_the_sdk_gets_the_tokens_in_its_record(
    shell: Any, server: FakeLLMServer, hooked: Any
) -> None:
    profiler = Profiler(meters=[LlmMeter(), WallClock()])
    current.install(profiler)
    hooks = CellHooks(shell, profiler)
    hooks.footer_mode = "off"
    hooks.register()
    shell.user_ns.update(url=server.url, key=SECRET_OPENAI)
    # the cell builds its own client; the hooks are on the SDK classes, so any client is measured
    shell.run_cell(
        "import anthropic\nclient = anthropic.Anthropic(api_key=key, base_url=url, max_retries=0, timeout=10)"
    )
    server.queue(input_tokens=900, cache_read_input_tokens=100, output_tokens=77)
    result = shell.run_cell(
        "with client.messages.stream(model='claude-haiku-4-5', max_tokens=100,\n"
        "        messages=[{'role': 'user', 'content': 'hi'}]) as s:\n"
        "    text = s.get_final_text()\n"
    )
    assert result.success and shell.user_ns["text"] == "Hello there"
    record = profiler.last_record
    assert record.readings["llm_input_tokens"].value == 1000
    assert record.readings["llm_cached_tokens"].value == 100
    assert record.readings["llm_output_tokens"].value == 77
    assert record.value("llm_cost_usd") == expected_usd(
        "claude-haiku-4-5", uncached=900, cached=100, output=77
    )
    shell.run_cell("x = 1")
    assert profiler.last_record.value("llm_calls") == 0  # the next cell spent nothing
    failing = shell.run_cell(
        "client.messages.create(model='fail-400', max_tokens=5, messages=[{'role': 'user', 'content': 'hi'}])"
    )
    assert type(failing.error_in_exec).__name__ == "BadRequestError"
    assert profiler.last_record.status == "error" and profiler.last_record.value("llm_calls") == 0
    hooks.unregister()
