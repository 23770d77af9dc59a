"""The real ``anthropic`` SDK against a loopback server: create, stream=True, messages.stream(), async."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

anthropic = pytest.importorskip("anthropic")

from tests.llm.test_llm_server import (  # noqa: E402
    SECRET_ANTHROPIC,
    FakeLLMServer,
    expected_usd,
    hooked,
    server,
)

from nbprofile.llm.meter import summarize  # noqa: E402

__all__ = ["hooked", "server"]
MODEL = "claude-opus-4-7"
MESSAGES = [{"role": "user", "content": "Say hello"}]


def client(server: FakeLLMServer) -> Any:
    return anthropic.Anthropic(api_key=SECRET_ANTHROPIC, base_url=server.url, max_retries=0, timeout=10)


def aclient(server: FakeLLMServer) -> Any:
    return anthropic.AsyncAnthropic(api_key=SECRET_ANTHROPIC, base_url=server.url, max_retries=0, timeout=10)


def test_create_counts_cache_reads_and_writes_as_input(server: FakeLLMServer, hooked: Any) -> None:
    server.queue(
        input_tokens=100,
        cache_read_input_tokens=2000,
        cache_creation_input_tokens=300,
        output_tokens=250,
        thinking_tokens=120,
    )
    message = client(server).messages.create(model=MODEL, max_tokens=300, messages=MESSAGES)
    assert message.content[0].text == "Hello there"
    [call] = hooked.LEDGER.entries()
    assert call.input_tokens == 100 + 2000 + 300  # every prompt token, as OpenAI counts them
    assert (call.cached_tokens, call.cache_write_tokens) == (2000, 300)
    assert (call.output_tokens, call.reasoning_tokens) == (250, 120)
    readings, _ = summarize([call])
    assert readings["llm_input_tokens"].value == 2400 and readings["llm_cache_write_tokens"].value == 300
    assert readings["llm_cost_usd"].value == expected_usd(
        MODEL, uncached=100, cached=2000, write=300, output=250
    )


def test_raw_stream_takes_the_last_cumulative_usage(server: FakeLLMServer, hooked: Any) -> None:
    server.queue(input_tokens=40, cache_read_input_tokens=8, output_tokens=31)
    events = [
        e.type
        for e in client(server).messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True)
    ]
    assert events.count("message_delta") == 2  # 15, then 31: the total is 31, not 46
    [call] = hooked.LEDGER.entries()
    assert (call.input_tokens, call.output_tokens, call.cached_tokens) == (48, 31, 8)
    readings, _ = summarize([call])
    assert readings["llm_cost_usd"].value == expected_usd(MODEL, uncached=40, cached=8, output=31)


def test_messages_stream_helper_text_stream_and_final_message(server: FakeLLMServer, hooked: Any) -> None:
    server.queue(input_tokens=70, output_tokens=19)
    with client(server).messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        assert "".join(stream.text_stream) == "Hello there"
        final = stream.get_final_message()
    assert final.usage.output_tokens == 19
    server.queue(input_tokens=71, output_tokens=20)
    with client(server).messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as stream:
        for _event in stream:
            pass
    first, second = hooked.LEDGER.entries()
    assert (first.input_tokens, first.output_tokens) == (70, 19)
    assert (second.input_tokens, second.output_tokens) == (71, 20)


def test_async_create_stream_and_helper(server: FakeLLMServer, hooked: Any) -> None:
    async def run() -> str:
        c = aclient(server)
        server.queue(input_tokens=10, output_tokens=5)
        await c.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES)
        server.queue(input_tokens=11, output_tokens=6)
        stream = await c.messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True)
        async with stream:
            async for _event in stream:
                pass
        server.queue(input_tokens=12, output_tokens=7)
        async with c.messages.stream(model=MODEL, max_tokens=50, messages=MESSAGES) as helper:
            text = "".join([t async for t in helper.text_stream])
        return text

    assert asyncio.run(run()) == "Hello there"
    got = [(c.input_tokens, c.output_tokens) for c in hooked.LEDGER.entries()]
    assert got == [(10, 5), (11, 6), (12, 7)]


def test_stream_ended_early_records_what_was_reported(server: FakeLLMServer, hooked: Any) -> None:
    server.queue(input_tokens=500, output_tokens=80, stop_after_start=True)
    for _event in client(server).messages.create(model=MODEL, max_tokens=50, messages=MESSAGES, stream=True):
        pass
    [call] = hooked.LEDGER.entries()
    assert (call.input_tokens, call.output_tokens) == (
        500,
        1,
    )  # message_start's counts: all that was reported


def test_error_passes_through_unchanged(server: FakeLLMServer, hooked: Any) -> None:
    hooked.uninstall()
    with pytest.raises(anthropic.APIStatusError) as plain:
        client(server).messages.create(model="fail-400", max_tokens=5, messages=MESSAGES)
    hooked.install()
    c = client(server)
    c.messages.create(model=MODEL, max_tokens=5, messages=MESSAGES)
    with pytest.raises(anthropic.APIStatusError) as seen:
        c.messages.create(model="fail-400", max_tokens=5, messages=MESSAGES)
    assert type(seen.value) is type(plain.value) and str(seen.value) == str(plain.value)
    with pytest.raises(type(plain.value)):
        with c.messages.stream(model="fail-400", max_tokens=5, messages=MESSAGES) as stream:
            stream.until_done()
    with pytest.raises(anthropic.InternalServerError):
        c.messages.create(model="fail-500", max_tokens=5, messages=MESSAGES, stream=True)
    calls = hooked.LEDGER.entries()
    assert [c.input_tokens for c in calls if c.input_tokens is not None] == [17]
    readings, _ = summarize([c for c in calls if c.input_tokens is not None])
    assert readings["llm_tokens"].value == 28


def test_unknown_model_and_no_secret(server: FakeLLMServer, hooked: Any) -> None:
    client(server).messages.create(model="claude-from-the-future-9", max_tokens=5, messages=MESSAGES)
    [call] = hooked.LEDGER.entries()
    readings, detail = summarize([call])
    assert readings["llm_tokens"].value == 28
    assert readings["llm_cost_usd"].value is None
    assert "unknown model claude-from-the-future-9" in readings["llm_cost_usd"].note
    assert any(SECRET_ANTHROPIC in v for v in server.log[-1].headers.values())  # sent, not recorded:
    assert "SECRET" not in repr(call) + repr(readings) + repr(detail)
