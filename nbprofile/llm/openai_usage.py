"""Reading OpenAI usage: from responses, and from streams as they go by.

Split from :mod:`nbprofile.llm.openai_sdk` (the wrappers); see there for what
is hooked. Everything here reads what the API reported, with ``getattr`` so
that SDK models and plain dicts (raw JSON) both work.
"""

from __future__ import annotations

from time import perf_counter
from typing import Any

from nbprofile.llm.calls import add_call, add_unreadable, add_untokenized, as_int, field
from nbprofile.llm.stream import estimator_for, messages_text

PROVIDER = "openai"


# -- reading usage -------------------------------------------------------------------


def read_chat(obj: Any, requested: str | None, duration: float | None, api: str = "chat.completions") -> None:
    """A ChatCompletion / Completion (or a stream's final usage chunk)."""
    usage = field(obj, "usage")
    model = field(obj, "model")
    if usage is None:
        add_untokenized(PROVIDER, api, model, f"the {api} response carried no usage",
                        requested=requested, duration_s=duration)
        return
    prompt = field(usage, "prompt_tokens_details")
    completion = field(usage, "completion_tokens_details")
    add_call(
        PROVIDER,
        api,
        model,
        requested=requested,
        input_tokens=as_int(field(usage, "prompt_tokens")),
        output_tokens=as_int(field(usage, "completion_tokens")),
        cached_tokens=as_int(field(prompt, "cached_tokens")),
        cache_write_tokens=as_int(field(prompt, "cache_write_tokens")),
        reasoning_tokens=as_int(field(completion, "reasoning_tokens")),
        service_tier=field(obj, "service_tier"),
        duration_s=duration,
    )


def read_completion(obj: Any, requested: str | None, duration: float | None) -> None:
    read_chat(obj, requested, duration, api="completions")


def read_response(obj: Any, requested: str | None, duration: float | None) -> None:
    """A Responses API ``Response``."""
    usage = field(obj, "usage")
    model = field(obj, "model")
    if usage is None:
        add_untokenized(PROVIDER, "responses", model, "the response carried no usage",
                        requested=requested, duration_s=duration)
        return
    details_in = field(usage, "input_tokens_details")
    details_out = field(usage, "output_tokens_details")
    write_details = field(details_in, "cache_write_tokens_details")
    add_call(
        PROVIDER,
        "responses",
        model,
        requested=requested,
        input_tokens=as_int(field(usage, "input_tokens")),
        output_tokens=as_int(field(usage, "output_tokens")),
        cached_tokens=as_int(field(details_in, "cached_tokens")),
        cache_write_tokens=as_int(field(details_in, "cache_write_tokens")),
        cache_write_long_tokens=as_int(field(write_details, "ttl_12h_tokens")) or 0,
        reasoning_tokens=as_int(field(details_out, "reasoning_tokens")),
        service_tier=field(obj, "service_tier"),
        duration_s=duration,
    )


def read_embedding(obj: Any, requested: str | None, duration: float | None) -> None:
    usage = field(obj, "usage")
    add_call(
        PROVIDER,
        "embeddings",
        field(obj, "model"),
        requested=requested,
        input_tokens=as_int(field(usage, "prompt_tokens")),
        output_tokens=0 if usage is not None else None,
        cached_tokens=0,
        cache_write_tokens=0,
        reasoning_tokens=0,
        token_note=None if usage is not None else "the embeddings response carried no usage",
        duration_s=duration,
    )


# -- stream observers ----------------------------------------------------------------


class ChatStreamObserver:
    """Chat (or legacy completions) chunks: the usage chunk if any, else an estimate or nothing."""

    def __init__(
        self, api: str, requested: str | None, kwargs: dict[str, Any], injected: bool, started: float
    ) -> None:
        self.api, self.requested, self.injected, self.started = api, requested, injected, started
        self.usage_chunk: Any = None
        self.model: str | None = None
        self.done = False
        asked = asked_usage(kwargs.get("stream_options"))
        self.expect_usage = asked or injected
        # Count the text only when no usage chunk will come and a local tokenizer exists.
        self.estimate = None if (asked or injected) else estimator_for(requested)
        self.prompt = kwargs.get("messages") if self.estimate is not None else None
        self.prompt_text = kwargs.get("prompt") if self.estimate is not None else None
        self.text: list[str] = []

    def observe(self, chunk: Any) -> bool:
        if self.model is None:
            self.model = getattr(chunk, "model", None)
        usage = getattr(chunk, "usage", None)
        if usage is not None:
            self.usage_chunk = chunk
            return self.injected and not getattr(chunk, "choices", None)
        if self.estimate is not None:
            for choice in getattr(chunk, "choices", None) or ():
                delta = getattr(choice, "delta", None)
                text = getattr(delta, "content", None) if delta is not None else getattr(choice, "text", None)
                if text:
                    self.text.append(text)
                for call in getattr(delta, "tool_calls", None) or ():
                    arguments = getattr(getattr(call, "function", None), "arguments", None)
                    if arguments:
                        self.text.append(arguments)
        return False

    def finish(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        duration = perf_counter() - self.started
        try:
            if self.usage_chunk is not None:
                read_chat(self.usage_chunk, self.requested, duration, api=self.api)
                return
            if error is not None:
                why = f"the stream ended early ({type(error).__name__}), before its usage chunk"
            elif self.expect_usage:
                why = "the stream was closed before its final usage chunk"
            else:
                why = (
                    "the stream had no usage chunk: pass stream_options={'include_usage': True} "
                    "or turn on %nbprofile llm include_usage on"
                )
            if self.estimate is None:
                add_untokenized(PROVIDER, self.api, self.model, why,
                                requested=self.requested, duration_s=duration)
                return
            text, n_messages = messages_text(self.prompt)
            if isinstance(self.prompt_text, str):
                text = self.prompt_text
            # ~3 tokens of chat framing per message plus 3 to prime the reply (OpenAI's cookbook rule)
            input_tokens = self.estimate(text) + 3 * n_messages + (3 if n_messages else 0)
            add_call(
                PROVIDER,
                self.api,
                self.model,
                requested=self.requested,
                input_tokens=input_tokens,
                output_tokens=self.estimate("".join(self.text)),
                token_method="estimated",
                token_note=f"estimated with tiktoken: {why}",
                duration_s=duration,
            )
        except Exception as exc:
            add_unreadable(PROVIDER, self.api, self.model or self.requested, exc)


class ResponseStreamObserver:
    """Responses API events: usage arrives on the final ``response.*`` event."""

    FINAL = ("response.completed", "response.incomplete", "response.failed")

    def __init__(self, requested: str | None, started: float) -> None:
        self.requested, self.started = requested, started
        self.final: Any = None
        self.model: str | None = None
        self.done = False

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind in self.FINAL:
            self.final = getattr(event, "response", None)
        elif kind == "response.created" and self.model is None:
            self.model = getattr(getattr(event, "response", None), "model", None)
        return False

    def finish(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        duration = perf_counter() - self.started
        try:
            if self.final is not None:
                read_response(self.final, self.requested, duration)
            else:
                add_untokenized(PROVIDER, "responses", self.model,
                                "the stream ended before response.completed, which carries the usage",
                                requested=self.requested, duration_s=duration)
        except Exception as exc:
            add_unreadable(PROVIDER, "responses", self.model or self.requested, exc)


def asked_usage(options: Any) -> bool:
    return isinstance(options, dict) and bool(options.get("include_usage"))
