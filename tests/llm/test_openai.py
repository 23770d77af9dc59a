"""The real ``openai`` SDK against a loopback server: every API, sync and async, streamed and not."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

openai = pytest.importorskip("openai")

from tests.llm.test_llm_server import (  # noqa: E402  (after the importorskip)
    SECRET_OPENAI,
    FakeLLMServer,
    expected_usd,
    hooked,
    server,
)

from nbprofile.llm.ledger import Usage  # noqa: E402
from nbprofile.llm.meter import summarize  # noqa: E402

__all__ = ["hooked", "server"]  # fixtures
MESSAGES = [{"role": "user", "content": "Say hello"}]


def client(server: FakeLLMServer) -> Any:
    return openai.OpenAI(api_key=SECRET_OPENAI, base_url=server.openai_url, max_retries=0, timeout=10)


def aclient(server: FakeLLMServer) -> Any:
    return openai.AsyncOpenAI(api_key=SECRET_OPENAI, base_url=server.openai_url, max_retries=0, timeout=10)


def calls(llm: Any) -> list[Usage]:
    return llm.LEDGER.entries()


def test_chat_completion_tokens_and_exact_dollars(server: FakeLLMServer, hooked: Any) -> None:
    server.queue(
        prompt_tokens=1200,
        completion_tokens=345,
        cached_tokens=1000,
        reasoning_tokens=40,
        model="gpt-4o-2024-08-06",
    )
    reply = client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert reply.choices[0].message.content == "Hello there"
    [call] = calls(hooked)
    sent = server.log[-1].usage
    assert (call.input_tokens, call.output_tokens) == (sent["prompt_tokens"], sent["completion_tokens"])
    assert call.cached_tokens == 1000 and call.reasoning_tokens == 40 and call.model == "gpt-4o-2024-08-06"
    readings, detail = summarize([call])
    assert readings["llm_tokens"].value == 1545 and readings["llm_cached_tokens"].value == 1000
    # the dated model is priced by its own row; cached tokens at the cache-read rate
    usd = expected_usd("gpt-4o-2024-08-06", uncached=200, cached=1000, output=345)
    assert readings["llm_cost_usd"].value == usd and readings["llm_cost_usd"].method == "measured"
    assert "litellm" in readings["llm_cost_usd"].source and "2026-" in readings["llm_cost_usd"].source
    assert detail["models"]["gpt-4o-2024-08-06"]["calls"] == 1


def test_async_chat_and_async_stream_with_usage(server: FakeLLMServer, hooked: Any) -> None:
    async def run() -> list[Any]:
        c = aclient(server)
        await c.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES)
        server.queue(prompt_tokens=50, completion_tokens=7)
        stream = await c.chat.completions.create(
            model="gpt-4o-mini", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        )
        async with stream:
            return [chunk async for chunk in stream]

    chunks = asyncio.run(run())
    assert chunks[-1].choices == [] and chunks[-1].usage.prompt_tokens == 50  # the user's chunk is untouched
    first, second = calls(hooked)
    assert (first.input_tokens, first.output_tokens) == (21, 9)
    assert (second.input_tokens, second.output_tokens, second.token_method) == (50, 7, "measured")
    readings, _ = summarize([first, second])
    assert readings["llm_cost_usd"].value == expected_usd("gpt-4o-mini", uncached=71, output=16)
    assert readings["llm_calls"].value == 2


def test_stream_without_usage_is_unavailable_and_request_unchanged(
    server: FakeLLMServer, hooked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbprofile.llm.openai_usage as adapter

    monkeypatch.setattr(adapter, "estimator_for", lambda model: None)  # as on a machine without tiktoken
    text = "".join(
        c.choices[0].delta.content or ""
        for c in client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True)
    )
    assert text == "Hello there"
    assert "stream_options" not in server.log[-1].body  # not injected
    [call] = calls(hooked)
    assert call.input_tokens is None and call.token_method == "unavailable"
    readings, _ = summarize([call])
    assert readings["llm_tokens"].value is None and "include_usage" in readings["llm_tokens"].note
    assert readings["llm_cost_usd"].value is None
    assert readings["llm_calls"].value == 1


def test_include_usage_option_asks_and_hides_the_usage_chunk(server: FakeLLMServer, hooked: Any) -> None:
    hooked.set_include_usage(True)
    server.queue(prompt_tokens=64, completion_tokens=3)
    chunks = list(client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert server.log[-1].body["stream_options"] == {"include_usage": True}
    assert all(chunk.choices for chunk in chunks)  # `chunk.choices[0]` code keeps working
    [call] = calls(hooked)
    assert (call.input_tokens, call.output_tokens) == (64, 3)
    # the user's explicit "no" wins
    client(server).chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": False}
    ).close()
    assert server.log[-1].body["stream_options"] == {"include_usage": False}


def test_estimate_with_a_local_tokenizer_is_labelled(
    server: FakeLLMServer, hooked: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    import nbprofile.llm.openai_usage as adapter

    monkeypatch.setattr(adapter, "estimator_for", lambda model: lambda text: len(text.split()))
    for _ in client(server).chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True):
        pass
    [call] = calls(hooked)
    assert call.token_method == "estimated" and call.output_tokens == 2  # "Hello there"
    assert call.input_tokens == 2 + 3 + 3  # "Say hello" + framing
    readings, _ = summarize([call])
    assert readings["llm_tokens"].method == "estimated" and readings["llm_cost_usd"].method == "estimated"


def test_chat_stream_helper_and_context_manager(server: FakeLLMServer, hooked: Any) -> None:
    server.queue(prompt_tokens=30, completion_tokens=4)
    with client(server).chat.completions.stream(
        model="gpt-4o", messages=MESSAGES, stream_options={"include_usage": True}
    ) as stream:
        for _event in stream:
            pass
        final = stream.get_final_completion()
    assert final.choices[0].message.content == "Hello there" and final.usage.prompt_tokens == 30
    [call] = calls(hooked)
    assert (call.input_tokens, call.output_tokens) == (30, 4)


def test_responses_create_stream_and_helper(server: FakeLLMServer, hooked: Any) -> None:
    c = client(server)
    server.queue(input_tokens=400, cached_tokens=128, output_tokens=90, reasoning_tokens=64)
    assert c.responses.create(model="o4-mini", input="hi").output_text == "Hello there"
    server.queue(input_tokens=40, output_tokens=9)
    events = [e.type for e in c.responses.create(model="o4-mini", input="hi", stream=True)]
    assert events[-1] == "response.completed"
    server.queue(input_tokens=41, output_tokens=10)
    with c.responses.stream(model="o4-mini", input="hi") as stream:
        assert stream.get_final_response().output_text == "Hello there"
    first, second, third = calls(hooked)
    assert (first.input_tokens, first.cached_tokens, first.output_tokens, first.reasoning_tokens) == (
        400,
        128,
        90,
        64,
    )
    assert (second.input_tokens, second.output_tokens) == (40, 9)
    assert (third.input_tokens, third.output_tokens) == (41, 10)
    readings, _ = summarize([first, second, third])
    assert readings["llm_reasoning_tokens"].value == 64
    assert readings["llm_cost_usd"].value == expected_usd(
        "o4-mini", uncached=272 + 40 + 41, cached=128, output=109
    )


def test_async_responses_stream(server: FakeLLMServer, hooked: Any) -> None:
    async def run() -> None:
        stream = await aclient(server).responses.create(model="gpt-4.1", input="hi", stream=True)
        async for _event in stream:
            pass

    server.queue(input_tokens=12, output_tokens=5)
    asyncio.run(run())
    [call] = calls(hooked)
    assert (call.api, call.input_tokens, call.output_tokens) == ("responses", 12, 5)


def test_embeddings_and_legacy_completions(server: FakeLLMServer, hooked: Any) -> None:
    server.queue(prompt_tokens=8192)
    vector = client(server).embeddings.create(model="text-embedding-3-small", input="hi").data[0].embedding
    assert list(vector) == [0.25, -0.5, 1.0]
    server.queue(prompt_tokens=5, completion_tokens=6)
    client(server).completions.create(model="gpt-3.5-turbo", prompt="hi")
    emb, legacy = calls(hooked)
    assert (emb.api, emb.input_tokens, emb.output_tokens) == ("embeddings", 8192, 0)
    assert (legacy.api, legacy.input_tokens, legacy.output_tokens) == ("completions", 5, 6)
    readings, _ = summarize([emb])
    assert readings["llm_cost_usd"].value == expected_usd("text-embedding-3-small", uncached=8192)


def test_raw_response_is_recorded_when_parsed(server: FakeLLMServer, hooked: Any) -> None:
    raw = client(server).chat.completions.with_raw_response.create(model="gpt-4o", messages=MESSAGES)
    assert isinstance(raw, openai._legacy_response.LegacyAPIResponse)
    assert calls(hooked) == []
    assert raw.parse().usage.prompt_tokens == 21
    raw.parse()  # cached by the SDK: still one call
    [call] = calls(hooked)
    assert call.input_tokens == 21


def test_unknown_model_has_tokens_and_no_dollars(server: FakeLLMServer, hooked: Any) -> None:
    client(server).chat.completions.create(model="my-local-llama", messages=MESSAGES)
    [call] = calls(hooked)
    assert call.input_tokens == 21 and call.cost is None
    readings, _ = summarize([call])
    cost = readings["llm_cost_usd"]
    assert cost.value is None and cost.method == "unavailable"
    assert (
        "unknown model my-local-llama: set a price with %nbprofile price my-local-llama input=... output=..."
        in cost.note
    )
    assert readings["llm_tokens"].value == 30
    hooked.set_price("my-local-llama", input=1, output=2)  # $ per 1M tokens
    client(server).chat.completions.create(model="my-local-llama", messages=MESSAGES)
    assert calls(hooked)[-1].cost * 10**6 == 21 * 1 + 9 * 2


@pytest.mark.parametrize("status", [400, 500])
def test_sdk_error_passes_through_unchanged_and_earlier_calls_stay(
    server: FakeLLMServer, hooked: Any, status: int
) -> None:
    hooked.uninstall()
    with pytest.raises(openai.APIStatusError) as plain:
        client(server).chat.completions.create(model=f"fail-{status}", messages=MESSAGES)
    hooked.install()
    c = client(server)
    c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    with pytest.raises(openai.APIStatusError) as hooked_error:
        c.chat.completions.create(model=f"fail-{status}", messages=MESSAGES)
    assert type(hooked_error.value) is type(plain.value)
    assert str(hooked_error.value) == str(plain.value) and hooked_error.value.status_code == status

    async def run() -> None:
        await aclient(server).chat.completions.create(model=f"fail-{status}", messages=MESSAGES)

    with pytest.raises(type(plain.value)):
        asyncio.run(run())
    [call] = calls(hooked)  # the call before the error is there; failed calls are not billed
    assert call.input_tokens == 21


def test_guard_stops_the_next_call_after_the_limit(server: FakeLLMServer, hooked: Any) -> None:
    from nbprofile.errors import BudgetExceeded

    guard = hooked.price_guard({"llm_tokens": 50})
    hooked.set_call_guard(guard)
    c = client(server)
    c.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # 30 tokens
    c.chat.completions.create(model="gpt-4o", messages=MESSAGES)  # 60: crosses, but was already sent
    sent = len(server.log)
    with pytest.raises(BudgetExceeded, match="llm_tokens 60 over the limit 50"):
        c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    assert len(server.log) == sent  # the third call never went out
    assert guard.spent().tokens == 60


def test_no_secret_in_ledger_or_readings(server: FakeLLMServer, hooked: Any) -> None:
    c = client(server)
    c.chat.completions.create(model="gpt-4o", messages=MESSAGES)
    list(c.chat.completions.create(model="gpt-4o", messages=MESSAGES, stream=True))
    assert server.log[-1].headers["authorization"] == f"Bearer {SECRET_OPENAI}"  # it was sent...
    readings, detail = summarize(calls(hooked))
    text = repr(calls(hooked)) + repr(readings) + repr(detail)
    assert SECRET_OPENAI not in text and "SECRET" not in text  # ...and never recorded


def test_uninstall_restores_the_sdk(hooked: Any) -> None:
    from openai.resources.chat.completions.completions import Completions

    assert type(Completions.__dict__["create"]).__name__ == "FunctionWrapper"
    hooked.uninstall()
    assert type(Completions.__dict__["create"]).__name__ == "function"
    hooked.install()
    assert type(Completions.__dict__["create"]).__name__ == "FunctionWrapper"


def test_abandoned_and_interrupted_streams_still_count(server: FakeLLMServer, hooked: Any) -> None:
    import gc

    c = client(server)
    stream = c.chat.completions.create(
        model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
    next(stream)  # read one chunk, then drop the stream without closing it
    del stream
    gc.collect()
    [abandoned] = calls(hooked)
    assert abandoned.input_tokens is None
    assert abandoned.token_note == "the stream was closed before its final usage chunk"

    class Stop(Exception):
        pass

    with pytest.raises(Stop):  # the user's own exception leaves the `with` untouched
        with c.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ) as stream:
            for _chunk in stream:
                raise Stop
    assert "ended early (Stop)" in calls(hooked)[-1].token_note
    assert len(calls(hooked)) == 2
