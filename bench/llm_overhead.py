"""What the LLM hooks add to each SDK call.

Two measurements:

1. **End to end**: real ``openai`` and ``anthropic`` clients call the loopback
   server of the tests (``tests/test_llm_server.py``, run in a subprocess) in pairs, one call with the
   hooks installed and one without, in alternating order. Added = the median of
   the paired differences; ratio = median hooked / median plain. The loopback round trip (~1 ms of SDK,
   HTTP and JSON work) is the *fastest* an API call can be: a real one takes
   hundreds of milliseconds, so the ratio there is closer still to 1.
2. **The hook alone**: the wrapper around a stand-in ``create`` that returns a
   ready response (no I/O), against calling the stand-in directly; and the
   stream proxy's cost per chunk. These are the numbers the end-to-end
   difference is made of, without the network's noise.

    python bench/llm_overhead.py [--rounds 10] [--calls 100]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path
from time import perf_counter_ns
from typing import Any, Callable

from _common import print_table, summary, write_result

from nbprofile import llm

MESSAGES = [{"role": "user", "content": "hi"}]


class ServerProcess:
    """The loopback server in its own process: in this one, its thread would compete with
    the client for the GIL, and the scheduling noise would swamp the microseconds measured."""

    def __init__(self) -> None:
        tests = Path(__file__).resolve().parent.parent / "tests"
        code = (f"import sys, time; sys.path.insert(0, {str(tests)!r}); "
                "from test_llm_server import FakeLLMServer; s = FakeLLMServer(); "
                "print(s.port, flush=True); time.sleep(3600)")
        self.proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout is not None
        self.port = int(self.proc.stdout.readline())
        self.url = f"http://127.0.0.1:{self.port}"
        self.openai_url = f"{self.url}/v1"

    def close(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=10)


def variants(server: Any) -> dict[str, Callable[[], Any]]:
    import anthropic
    import openai

    oc = openai.OpenAI(api_key="sk-bench", base_url=server.openai_url, max_retries=0, timeout=10)
    ac = anthropic.Anthropic(api_key="sk-bench", base_url=server.url, max_retries=0, timeout=10)

    def chat() -> Any:
        return oc.chat.completions.create(model="gpt-4o", messages=MESSAGES)

    def chat_stream() -> Any:
        for _chunk in oc.chat.completions.create(
            model="gpt-4o", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
        ):
            pass

    def messages() -> Any:
        return ac.messages.create(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES)

    def messages_stream() -> Any:
        with ac.messages.stream(model="claude-haiku-4-5", max_tokens=10, messages=MESSAGES) as stream:
            stream.get_final_message()

    return {
        "openai chat": chat,
        "openai chat stream": chat_stream,
        "anthropic messages": messages,
        "anthropic messages.stream": messages_stream,
    }


def one(call: Callable[[], Any]) -> float:
    t0 = perf_counter_ns()
    call()
    return (perf_counter_ns() - t0) / 1e9


def end_to_end(rounds: int, calls: int) -> dict[str, Any]:
    """Calls in pairs, one hooked and one plain, in alternating order: load on the machine
    drifts over seconds, so the difference within a pair is what it costs."""
    server = ServerProcess()
    try:
        cases = variants(server)
        for call in cases.values():  # warm the connection pools, the SDKs' lazy imports, the price table
            for on in (True, False) * 10:
                (llm.install if on else llm.uninstall)()
                call()
        out: dict[str, Any] = {}
        for name, call in cases.items():
            plain: list[float] = []
            hooked: list[float] = []
            added: list[float] = []
            round_added: list[float] = []
            for r in range(rounds):
                diffs = []
                for i in range(calls):
                    got = {}
                    for on in (True, False) if (i + r) % 2 == 0 else (False, True):
                        (llm.install if on else llm.uninstall)()
                        got[on] = one(call)
                    plain.append(got[False])
                    hooked.append(got[True])
                    diffs.append(got[True] - got[False])
                added.extend(diffs)
                round_added.append(statistics.median(diffs))
                llm.LEDGER.clear()
            llm.uninstall()
            out[name] = {
                "plain_s": summary(plain),
                "hooked_s": summary(hooked),
                "added_s": summary(added),
                "added_per_round_s": summary(round_added),
                "ratio": statistics.median(hooked) / statistics.median(plain),
            }
        return out
    finally:
        server.close()


def hook_alone(n: int = 20000) -> dict[str, float]:
    """Nanoseconds the wrapper adds to one call, and the stream proxy to one chunk (no I/O)."""
    import openai.resources.chat.completions.completions  # noqa: F401  (the hook needs the module loaded)
    from openai.types.chat import ChatCompletion, ChatCompletionChunk

    from nbprofile.llm.openai_sdk import _sync
    from nbprofile.llm.openai_usage import ChatStreamObserver, read_chat
    from nbprofile.llm.stream import StreamProxy

    llm.install()
    completion = ChatCompletion.model_validate(
        {
            "id": "c",
            "object": "chat.completion",
            "created": 0,
            "model": "gpt-4o",
            "choices": [
                {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": "x"}}
            ],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 5,
                "total_tokens": 15,
                "prompt_tokens_details": {"cached_tokens": 0},
                "completion_tokens_details": {"reasoning_tokens": 0},
            },
        }
    )

    def create(**kwargs: Any) -> Any:
        return completion

    wrapper = _sync("chat.completions", read_chat)
    kwargs = {"model": "gpt-4o", "messages": MESSAGES}

    def timed(fn: Callable[[], Any]) -> float:
        best = []
        for _ in range(5):
            t0 = perf_counter_ns()
            for _ in range(n):
                fn()
            best.append((perf_counter_ns() - t0) / n)
        return min(best)

    direct = timed(lambda: create(**kwargs))
    wrapped = timed(lambda: wrapper(create, None, (), kwargs))
    chunk = ChatCompletionChunk.model_validate(
        {
            "id": "c",
            "object": "chat.completion.chunk",
            "created": 0,
            "model": "gpt-4o",
            "choices": [{"index": 0, "delta": {"content": "x"}, "finish_reason": None}],
        }
    )
    chunks = [chunk] * 1000

    def raw_stream() -> None:
        for _c in iter(chunks):
            pass

    def proxied_stream() -> None:
        observer = ChatStreamObserver(
            "chat.completions", "gpt-4o", {"stream_options": {"include_usage": True}}, False, 0.0
        )
        observer.done = True  # count the per-chunk path only, not the one ledger entry at the end
        for _c in StreamProxy(iter(chunks), observer):
            pass

    n_streams = max(n // 1000, 5)
    raw = timed_n(raw_stream, n_streams) / len(chunks)
    proxied = timed_n(proxied_stream, n_streams) / len(chunks)
    llm.uninstall()
    llm.LEDGER.clear()
    return {
        "call_direct_ns": direct,
        "call_wrapped_ns": wrapped,
        "call_added_ns": wrapped - direct,
        "chunk_raw_ns": raw,
        "chunk_proxied_ns": proxied,
        "chunk_added_ns": proxied - raw,
    }


def timed_n(fn: Callable[[], Any], n: int) -> float:
    best = []
    for _ in range(5):
        t0 = perf_counter_ns()
        for _ in range(n):
            fn()
        best.append((perf_counter_ns() - t0) / n)
    return min(best)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--calls", type=int, default=100, help="call pairs per round")
    args = parser.parse_args()
    alone = hook_alone()
    print_table(
        ["", "ns"],
        [
            ["create(): direct", f"{alone['call_direct_ns']:.0f}"],
            ["create(): through the hook", f"{alone['call_wrapped_ns']:.0f}"],
            ["added per call", f"{alone['call_added_ns']:.0f}"],
            ["stream chunk: plain iteration", f"{alone['chunk_raw_ns']:.0f}"],
            ["stream chunk: through the proxy", f"{alone['chunk_proxied_ns']:.0f}"],
            ["added per chunk", f"{alone['chunk_added_ns']:.0f}"],
        ],
        title="The hook alone (no I/O; best of 5)",
    )
    e2e = end_to_end(args.rounds, args.calls)
    rows = []
    for name, r in e2e.items():
        rows.append(
            [
                name,
                f"{r['plain_s']['median'] * 1e6:.0f}",
                f"{r['hooked_s']['median'] * 1e6:.0f}",
                f"{r['added_s']['median'] * 1e6:+.1f}",
                f"{r['added_per_round_s']['iqr'] * 1e6:.1f}",
                f"{r['ratio']:.4f}",
            ]
        )
    print_table(
        ["loopback call", "plain µs", "hooked µs", "added µs", "IQR µs", "hooked/plain"],
        rows,
        title=f"End to end against 127.0.0.1 ({args.rounds} rounds × {args.calls} call pairs; "
        "added = median of paired differences, IQR over the rounds' medians)",
    )
    write_result(
        "llm_overhead", {"rounds": args.rounds, "calls": args.calls, "hook_alone": alone, "end_to_end": e2e}
    )


if __name__ == "__main__":
    main()
