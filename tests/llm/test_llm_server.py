"""A loopback server that speaks the OpenAI and Anthropic wire formats, for the LLM tests.

Real ``openai`` / ``anthropic`` clients point at it with ``base_url``; it answers
chat completions, legacy completions, responses, embeddings and messages, as
JSON or as server-sent events, with the usage a test queues (or a default),
and keeps a log of what it was sent and what usage it sent back. Models named
``fail-400`` / ``fail-500`` get the provider's error body with that status.

Other LLM tests import it (``from tests.llm.test_llm_server import FakeLLMServer``); the
test at the bottom checks what nbprofile reads from every wire format in one window, with the
real SDKs: the readings a cell's record keeps, worked out from the usage the test queued.
"""

from __future__ import annotations

import base64
import json
import struct
import sys
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Iterator

import pytest

ERROR_MESSAGE = "The model `{model}` cannot do that (test error)"


@dataclass
class Exchange:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]
    usage: dict[str, Any] | None = None  # the usage object sent (last one for streams)


@dataclass
class FakeLLMServer:
    host: str = "127.0.0.1"
    log: list[Exchange] = field(default_factory=list)
    plan: deque[dict[str, Any]] = field(default_factory=deque)

    def __post_init__(self) -> None:
        server = self

        class Handler(_Handler):
            owner = server

        self.httpd = _Server((self.host, 0), Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-llm", daemon=True
        )
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def openai_url(self) -> str:
        return f"{self.url}/v1"

    def queue(self, **usage: Any) -> None:
        """The usage fields of the next answer (wire names, e.g. prompt_tokens=...)."""
        self.plan.append(usage)

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client closing its pooled keep-alive connection is normal; anything else is reported.
        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    owner: FakeLLMServer
    protocol_version = "HTTP/1.1"  # keep-alive, as the SDKs' pools expect
    # Headers and body go out in separate writes: without this, Nagle's algorithm and the
    # client's delayed ACK hold the body back ~40 ms on every keep-alive response.
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:  # quiet
        return

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = json.loads(self.rfile.read(length) or b"{}")
        exchange = Exchange(self.path, body, {k.lower(): v for k, v in self.headers.items()})
        self.owner.log.append(exchange)
        model = str(body.get("model", ""))
        if model.startswith("fail-"):
            return self._error(int(model.split("-")[1]), model)
        plan = self.owner.plan.popleft() if self.owner.plan else {}
        route = {
            "/v1/chat/completions": self._chat,
            "/v1/completions": self._completions,
            "/v1/responses": self._responses,
            "/v1/embeddings": self._embeddings,
            "/v1/messages": self._messages,
        }.get(self.path.split("?")[0])
        if route is None:
            return self._json(404, {"error": {"message": f"no route {self.path}", "type": "not_found"}})
        route(body, plan, exchange)

    # -- output helpers -------------------------------------------------------------
    def _json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _sse(self, events: Iterator[tuple[str | None, Any]]) -> None:
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("transfer-encoding", "chunked")
        self.end_headers()
        try:
            for event, data in events:
                text = (
                    f"event: {event}\n" if event else ""
                ) + f"data: {data if isinstance(data, str) else json.dumps(data)}\n\n"
                raw = text.encode()
                self.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
                self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True  # the client closed the stream early, as tests do on purpose

    def _error(self, status: int, model: str) -> None:
        message = ERROR_MESSAGE.format(model=model)
        if self.path.startswith("/v1/messages"):
            return self._json(
                status, {"type": "error", "error": {"type": "invalid_request_error", "message": message}}
            )
        return self._json(
            status,
            {"error": {"message": message, "type": "invalid_request_error", "param": None, "code": None}},
        )

    # -- OpenAI ------------------------------------------------------------------------
    @staticmethod
    def _openai_usage(plan: dict[str, Any], default_in: int = 21, default_out: int = 9) -> dict[str, Any]:
        prompt = plan.get("prompt_tokens", default_in)
        completion = plan.get("completion_tokens", default_out)
        return {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
            "prompt_tokens_details": {
                "cached_tokens": plan.get("cached_tokens", 0),
                "cache_write_tokens": plan.get("cache_write_tokens", 0),
                "audio_tokens": 0,
            },
            "completion_tokens_details": {
                "reasoning_tokens": plan.get("reasoning_tokens", 0),
                "audio_tokens": 0,
                "accepted_prediction_tokens": 0,
                "rejected_prediction_tokens": 0,
            },
        }

    def _chat(self, body: dict[str, Any], plan: dict[str, Any], ex: Exchange) -> None:
        model = plan.get("model", body["model"])
        usage = self._openai_usage(plan)
        base = {
            "id": "chatcmpl-1",
            "created": int(time.time()),
            "model": model,
            "system_fingerprint": "fp_test",
            "service_tier": plan.get("service_tier", "default"),
        }
        if not body.get("stream"):
            ex.usage = usage
            return self._json(
                200,
                {
                    **base,
                    "object": "chat.completion",
                    "usage": usage,
                    "choices": [
                        {
                            "index": 0,
                            "finish_reason": "stop",
                            "logprobs": None,
                            "message": {"role": "assistant", "content": "Hello there", "refusal": None},
                        }
                    ],
                },
            )
        with_usage = bool((body.get("stream_options") or {}).get("include_usage"))
        ex.usage = usage if with_usage else None

        def events() -> Iterator[tuple[str | None, Any]]:
            chunk = {**base, "object": "chat.completion.chunk"}
            extra = {"usage": None} if with_usage else {}
            deltas = [{"role": "assistant", "content": ""}, {"content": "Hello"}, {"content": " there"}]
            for delta in deltas:
                yield (
                    None,
                    {
                        **chunk,
                        **extra,
                        "choices": [{"index": 0, "delta": delta, "finish_reason": None, "logprobs": None}],
                    },
                )
            yield (
                None,
                {
                    **chunk,
                    **extra,
                    "choices": [{"index": 0, "delta": {}, "finish_reason": "stop", "logprobs": None}],
                },
            )
            if with_usage:
                yield None, {**chunk, "choices": [], "usage": usage}
            yield None, "[DONE]"

        self._sse(events())

    def _completions(self, body: dict[str, Any], plan: dict[str, Any], ex: Exchange) -> None:
        usage = self._openai_usage(plan)
        ex.usage = usage
        self._json(
            200,
            {
                "id": "cmpl-1",
                "object": "text_completion",
                "created": int(time.time()),
                "model": plan.get("model", body["model"]),
                "usage": usage,
                "choices": [{"index": 0, "text": "Hello", "finish_reason": "stop", "logprobs": None}],
            },
        )

    def _responses(self, body: dict[str, Any], plan: dict[str, Any], ex: Exchange) -> None:
        model = plan.get("model", body["model"])
        usage = {
            "input_tokens": plan.get("input_tokens", 31),
            "input_tokens_details": {
                "cached_tokens": plan.get("cached_tokens", 0),
                "cache_write_tokens": plan.get("cache_write_tokens", 0),
            },
            "output_tokens": plan.get("output_tokens", 12),
            "output_tokens_details": {"reasoning_tokens": plan.get("reasoning_tokens", 0)},
        }
        usage["total_tokens"] = usage["input_tokens"] + usage["output_tokens"]
        ex.usage = usage
        message = {
            "type": "message",
            "id": "msg_1",
            "status": "completed",
            "role": "assistant",
            "content": [{"type": "output_text", "text": "Hello there", "annotations": [], "logprobs": []}],
        }
        response = {
            "id": "resp_1",
            "object": "response",
            "created_at": int(time.time()),
            "model": model,
            "status": "completed",
            "output": [message],
            "usage": usage,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "text": {"format": {"type": "text"}},
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "temperature": 1.0,
            "top_p": 1.0,
            "service_tier": "default",
        }
        if not body.get("stream"):
            return self._json(200, response)

        def events() -> Iterator[tuple[str | None, Any]]:
            started = {**response, "status": "in_progress", "output": [], "usage": None}
            item = {**message, "status": "in_progress", "content": []}
            part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
            seq = iter(range(100))
            yield (
                "response.created",
                {"type": "response.created", "response": started, "sequence_number": next(seq)},
            )
            yield (
                "response.in_progress",
                {"type": "response.in_progress", "response": started, "sequence_number": next(seq)},
            )
            yield (
                "response.output_item.added",
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": item,
                    "sequence_number": next(seq),
                },
            )
            yield (
                "response.content_part.added",
                {
                    "type": "response.content_part.added",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "part": part,
                    "sequence_number": next(seq),
                },
            )
            for text in ("Hello", " there"):
                yield (
                    "response.output_text.delta",
                    {
                        "type": "response.output_text.delta",
                        "item_id": "msg_1",
                        "output_index": 0,
                        "content_index": 0,
                        "delta": text,
                        "logprobs": [],
                        "sequence_number": next(seq),
                    },
                )
            yield (
                "response.output_text.done",
                {
                    "type": "response.output_text.done",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "text": "Hello there",
                    "logprobs": [],
                    "sequence_number": next(seq),
                },
            )
            yield (
                "response.content_part.done",
                {
                    "type": "response.content_part.done",
                    "item_id": "msg_1",
                    "output_index": 0,
                    "content_index": 0,
                    "part": message["content"][0],
                    "sequence_number": next(seq),
                },
            )
            yield (
                "response.output_item.done",
                {
                    "type": "response.output_item.done",
                    "output_index": 0,
                    "item": message,
                    "sequence_number": next(seq),
                },
            )
            yield (
                "response.completed",
                {"type": "response.completed", "response": response, "sequence_number": next(seq)},
            )

        self._sse(events())

    def _embeddings(self, body: dict[str, Any], plan: dict[str, Any], ex: Exchange) -> None:
        prompt = plan.get("prompt_tokens", 8)
        ex.usage = {"prompt_tokens": prompt, "total_tokens": prompt}
        vector = [0.25, -0.5, 1.0]
        embedding: Any = vector
        if body.get("encoding_format") == "base64":
            embedding = base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
        self._json(
            200,
            {
                "object": "list",
                "model": plan.get("model", body["model"]),
                "usage": ex.usage,
                "data": [{"object": "embedding", "index": 0, "embedding": embedding}],
            },
        )

    # -- Anthropic ---------------------------------------------------------------------
    def _messages(self, body: dict[str, Any], plan: dict[str, Any], ex: Exchange) -> None:
        model = plan.get("model", body["model"])
        usage = {
            "input_tokens": plan.get("input_tokens", 17),
            "output_tokens": plan.get("output_tokens", 11),
            "cache_read_input_tokens": plan.get("cache_read_input_tokens", 0),
            "cache_creation_input_tokens": plan.get("cache_creation_input_tokens", 0),
        }
        if "thinking_tokens" in plan:
            usage["output_tokens_details"] = {"thinking_tokens": plan["thinking_tokens"]}
        ex.usage = usage
        message = {
            "id": "msg_1",
            "type": "message",
            "role": "assistant",
            "model": model,
            "content": [{"type": "text", "text": "Hello there"}],
            "stop_reason": "end_turn",
            "stop_sequence": None,
            "usage": usage,
        }
        if not body.get("stream"):
            return self._json(200, message)
        stop_after_start = bool(plan.get("stop_after_start"))

        def events() -> Iterator[tuple[str | None, Any]]:
            start_usage = {k: v for k, v in usage.items() if k != "output_tokens_details"}
            start_usage["output_tokens"] = 1
            yield (
                "message_start",
                {
                    "type": "message_start",
                    "message": {**message, "content": [], "stop_reason": None, "usage": start_usage},
                },
            )
            if stop_after_start:
                return
            yield (
                "content_block_start",
                {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
            )
            yield "ping", {"type": "ping"}
            for text in ("Hello", " there"):
                yield (
                    "content_block_delta",
                    {
                        "type": "content_block_delta",
                        "index": 0,
                        "delta": {"type": "text_delta", "text": text},
                    },
                )
            yield "content_block_stop", {"type": "content_block_stop", "index": 0}
            # two deltas: usage is cumulative, so the last one is the total (a sum would be wrong)
            half = {"output_tokens": max(usage["output_tokens"] // 2, 1)}
            yield (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": None, "stop_sequence": None},
                    "usage": half,
                },
            )
            final = {"output_tokens": usage["output_tokens"]}
            if "output_tokens_details" in usage:
                final["output_tokens_details"] = usage["output_tokens_details"]
            yield (
                "message_delta",
                {
                    "type": "message_delta",
                    "delta": {"stop_reason": "end_turn", "stop_sequence": None},
                    "usage": final,
                },
            )
            yield "message_stop", {"type": "message_stop"}

        self._sse(events())


# -- fixtures shared by the LLM tests (import them by name) ------------------------------------

SECRET_OPENAI = "sk-test-SECRET-openai-0123456789"
SECRET_ANTHROPIC = "sk-ant-test-SECRET-anthropic-0123456789"


@pytest.fixture
def server() -> Iterator[FakeLLMServer]:
    fake = FakeLLMServer()
    yield fake
    fake.close()


@pytest.fixture
def hooked() -> Iterator[Any]:
    """The SDK hooks installed, an empty ledger, default switches; all undone afterwards."""
    import nbprofile.llm as llm

    llm.install()
    llm.PRICES.lookup("")  # load the table (and any price file of the developer's) now...
    llm.clear_price()  # ...so that only the vendored table's prices apply in tests
    llm.LEDGER.clear()
    yield llm
    llm.uninstall()
    llm.set_include_usage(False)
    llm.set_call_guard(None)
    llm.clear_price()
    llm.LEDGER.clear()


def table_price(model: str) -> dict[str, Decimal]:
    """The vendored table's prices for ``model``, read independently of nbprofile's code."""
    path = Path(__file__).resolve().parents[2] / "nbprofile" / "data" / "llm_prices.json"
    row = json.loads(path.read_text(), parse_float=Decimal)["models"][model]
    return {
        k: Decimal(v) for k, v in row.items() if isinstance(v, (Decimal, int)) and not isinstance(v, bool)
    }


def exact_usd(model: str, *, uncached: int = 0, cached: int = 0, write: int = 0, output: int = 0) -> Decimal:
    """tokens × the table's price, summed exactly."""
    p = table_price(model)
    return (
        uncached * p["input"]
        + cached * p.get("cache_read", p["input"])
        + write * p.get("cache_write", p["input"])
        + output * p["output"]
    )


def expected_usd(model: str, *, uncached: int = 0, cached: int = 0, write: int = 0, output: int = 0) -> float:
    """tokens × the table's price, summed exactly, rounded once to a float (the rule nbprofile states)."""
    return float(exact_usd(model, uncached=uncached, cached=cached, write=write, output=output))


# -- what nbprofile reads from it --------------------------------------------------------------

CLAUDE = "claude-opus-4-7"


def test_one_window_reads_every_wire_format_of_both_providers(server: FakeLLMServer, hooked: Any) -> None:
    """A cell that calls both SDKs, as JSON and as server-sent events, and makes one call the API
    refuses: its ``llm_*`` readings are the usage the test queued, summed over the calls, priced
    exactly from the table; the refused call adds nothing, and the note breaks the total down per model."""
    openai = pytest.importorskip("openai")
    anthropic = pytest.importorskip("anthropic")
    from nbprofile.llm.meter import LlmMeter

    messages = [{"role": "user", "content": "Say hello"}]
    oa = openai.OpenAI(api_key=SECRET_OPENAI, base_url=server.openai_url, max_retries=0, timeout=10)
    an = anthropic.Anthropic(api_key=SECRET_ANTHROPIC, base_url=server.url, max_retries=0, timeout=10)
    meter = LlmMeter()
    meter.begin("cell")
    server.queue(prompt_tokens=1200, completion_tokens=300, cached_tokens=1000)  # JSON
    oa.chat.completions.create(model="gpt-4o-mini", messages=messages)
    server.queue(prompt_tokens=5, completion_tokens=2)  # SSE, usage in the last chunk
    for _chunk in oa.chat.completions.create(model="gpt-4o-mini", messages=messages, stream=True,
                                             stream_options={"include_usage": True}):
        pass
    server.queue(input_tokens=40, cache_read_input_tokens=100, cache_creation_input_tokens=20, output_tokens=8)
    an.messages.create(model=CLAUDE, max_tokens=50, messages=messages)  # JSON
    server.queue(input_tokens=3, output_tokens=31)  # SSE, cumulative usage in message_delta
    with an.messages.stream(model=CLAUDE, max_tokens=50, messages=messages) as stream:
        stream.until_done()
    with pytest.raises(anthropic.BadRequestError):
        an.messages.create(model="fail-400", max_tokens=5, messages=messages)
    readings = meter.end("cell")

    # OpenAI's prompt_tokens include the cached ones; Anthropic's input is input + cache read + cache write
    gpt = {"input": 1200 + 5, "cached": 1000, "write": 0, "output": 300 + 2}
    claude = {"input": (40 + 100 + 20) + 3, "cached": 100, "write": 20, "output": 8 + 31}
    values = {key: r.value for key, r in readings.items()}
    assert {k: values[k] for k in ("llm_input_tokens", "llm_output_tokens", "llm_cached_tokens",
                                   "llm_cache_write_tokens", "llm_tokens", "llm_calls")} == {
        "llm_input_tokens": gpt["input"] + claude["input"],
        "llm_output_tokens": gpt["output"] + claude["output"],
        "llm_cached_tokens": gpt["cached"] + claude["cached"],
        "llm_cache_write_tokens": gpt["write"] + claude["write"],
        "llm_tokens": gpt["input"] + claude["input"] + gpt["output"] + claude["output"],
        "llm_calls": 4,
    }
    gpt_usd = exact_usd("gpt-4o-mini", uncached=gpt["input"] - gpt["cached"], cached=gpt["cached"],
                        output=gpt["output"])
    claude_usd = exact_usd(CLAUDE, uncached=claude["input"] - claude["cached"] - claude["write"],
                           cached=claude["cached"], write=claude["write"], output=claude["output"])
    cost = readings["llm_cost_usd"]
    assert cost.value == float(gpt_usd + claude_usd) and cost.method == "measured"
    meta = json.loads((Path(__file__).resolve().parents[2] / "nbprofile" / "data" / "llm_prices.json").read_text())
    assert meta["_meta"]["retrieved"] in cost.source and cost.source.startswith("usage × litellm ")
    assert all(readings[k].method == "measured" for k in values if k != "llm_reasoning_tokens")
    # OpenAI said 0 reasoning tokens; Anthropic said nothing: the total is unknown, and says why
    reasoning = readings["llm_reasoning_tokens"]
    assert reasoning.value is None and reasoning.note and reasoning.note.startswith("2 of 4 calls did not report it")
    assert readings["llm_calls"].note == (
        f"gpt-4o-mini: 2 calls, in {gpt['input']:,} (cached {gpt['cached']:,}), out {gpt['output']:,}, "
        f"${gpt_usd:.6f}; "
        f"{CLAUDE}: 2 calls, in {claude['input']:,} (cached {claude['cached']:,}), out {claude['output']:,}, "
        f"${claude_usd:.6f}"
    )
    detail = meter.detail("cell")
    assert detail is not None
    assert {model: (m["provider"], m["calls"], m["input_tokens"], m["output_tokens"], m["cost_usd"])
            for model, m in detail["models"].items()} == {
        "gpt-4o-mini": ("openai", 2, gpt["input"], gpt["output"], float(gpt_usd)),
        CLAUDE: ("anthropic", 2, claude["input"], claude["output"], float(claude_usd)),
    }
