"""Hooks for the ``openai`` SDK: chat completions, completions, responses, embeddings.

Each wrapped method runs the budget guard, calls the SDK unchanged and reads
``usage`` from what it returns: the object itself, or, for ``stream=True``, the
stream's events through a :class:`~nbprofile.llm.stream.StreamProxy`:

* chat/completions streams report usage only in a last chunk with empty
  ``choices``, and only with ``stream_options={"include_usage": True}``. Without
  it the call's tokens are unavailable, or estimated with tiktoken when it and
  its encoding are already on this machine; ``set_include_usage(True)`` asks for
  the chunk and hides it from the user's loop.
* responses streams carry usage on ``response.completed`` (or ``.incomplete``/``.failed``).

``with_raw_response`` / ``with_streaming_response`` calls return an API response
object: its usage is read when the user calls ``.parse()``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from time import perf_counter
from types import ModuleType
from typing import Any

import wrapt

from nbprofile.llm import switches
from nbprofile.llm.calls import add_unreadable
from nbprofile.llm.openai_usage import (
    ChatStreamObserver,
    ResponseStreamObserver,
    read_chat,
    read_completion,
    read_embedding,
    read_response,
)
from nbprofile.llm.stream import AsyncStreamProxy, StreamProxy

PROVIDER = "openai"
#: what with_raw_response / with_streaming_response return (by name: hasattr on a pydantic
#: response costs microseconds, and the classes live in private modules)
_RAW_RESPONSES = frozenset({"LegacyAPIResponse", "APIResponse", "AsyncAPIResponse"})
Reader = Callable[[Any, "str | None", "float | None"], None]


def _inject_usage(kwargs: dict[str, Any]) -> bool:
    """With include_usage on, ask a chat stream for its usage chunk unless the user decided."""
    if not switches.CONFIG.include_usage or kwargs.get("stream") is not True:
        return False
    options = kwargs.get("stream_options")
    if isinstance(options, dict):
        if "include_usage" in options:
            return False  # the user said yes or no
        kwargs["stream_options"] = {**options, "include_usage": True}
        return True
    if options is None or type(options).__name__ in ("Omit", "NotGiven"):
        kwargs["stream_options"] = {"include_usage": True}
        return True
    return False


# -- wrappers ------------------------------------------------------------------------


def _observe(
    result: Any,
    api: str,
    read: Reader,
    kwargs: dict[str, Any],
    injected: bool,
    started: float,
    is_async: bool,
) -> Any:
    requested = kwargs.get("model")
    if kwargs.get("stream") is True and hasattr(result, "__anext__" if is_async else "__next__"):
        observer: Any = (
            ResponseStreamObserver(requested, started)
            if api == "responses"
            else ChatStreamObserver(api, requested, kwargs, injected, started)
        )
        return AsyncStreamProxy(result, observer) if is_async else StreamProxy(result, observer)
    if type(result).__name__ in _RAW_RESPONSES:
        return RawResponseProxy(result, api, read, kwargs, injected, started)
    read(result, requested, perf_counter() - started)
    return result


def _sync(api: str, read: Reader) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not switches.CONFIG.installed:  # a bound wrapper kept from before uninstall()
            return wrapped(*args, **kwargs)
        switches.check_guard()  # a budget's guard raises here, before the request is sent
        injected = _inject_usage(kwargs)
        started = perf_counter()
        result = wrapped(*args, **kwargs)  # the user's exceptions pass through untouched
        try:
            return _observe(result, api, read, kwargs, injected, started, is_async=False)
        except Exception as exc:  # nbprofile's own failure must not cost the user the result
            add_unreadable(PROVIDER, api, kwargs.get("model"), exc)
            return result

    return wrapper


def _async(api: str, read: Reader) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        async def call() -> Any:
            if not switches.CONFIG.installed:
                return await wrapped(*args, **kwargs)
            switches.check_guard()
            injected = _inject_usage(kwargs)
            started = perf_counter()
            result = await wrapped(*args, **kwargs)
            try:
                return _observe(result, api, read, kwargs, injected, started, is_async=True)
            except Exception as exc:
                add_unreadable(PROVIDER, api, kwargs.get("model"), exc)
                return result

        return call()

    return wrapper


class RawResponseProxy(wrapt.ObjectProxy):  # type: ignore[misc, type-arg, unused-ignore]
    """An API response from ``with_raw_response`` / ``with_streaming_response``:
    every attribute is the real one's; ``.parse()`` also records the usage."""

    def __init__(
        self, wrapped: Any, api: str, read: Reader, kwargs: dict[str, Any], injected: bool, started: float
    ) -> None:
        super().__init__(wrapped)
        self._self_call = (api, read, kwargs, injected, started)
        self._self_recorded = False

    def parse(self, *args: Any, **kwargs: Any) -> Any:
        parsed = self.__wrapped__.parse(*args, **kwargs)
        if inspect.isawaitable(parsed):  # AsyncAPIResponse.parse is a coroutine
            return self._parse_async(parsed)
        return self._record(parsed, is_async=False)

    async def _parse_async(self, pending: Any) -> Any:
        return self._record(await pending, is_async=True)

    def _record(self, parsed: Any, is_async: bool) -> Any:
        if self._self_recorded:
            return parsed  # the SDK caches parse(): the call was recorded the first time
        self._self_recorded = True
        api, read, call_kwargs, injected, started = self._self_call
        try:
            return _observe(parsed, api, read, call_kwargs, injected, started, is_async=is_async)
        except Exception as exc:
            add_unreadable(PROVIDER, api, call_kwargs.get("model"), exc)
            return parsed


# -- patching ------------------------------------------------------------------------


def _patch(
    module: ModuleType, sync_cls: str, async_cls: str, methods: dict[str, tuple[str, Reader]]
) -> list[switches.Patch]:
    patches = []
    for method, (api, read) in methods.items():
        patches.append(switches.wrap(getattr(module, sync_cls), method, _sync(api, read)))
        patches.append(switches.wrap(getattr(module, async_cls), method, _async(api, read)))
    return patches


def patch_chat(module: ModuleType) -> list[switches.Patch]:
    # .stream() goes through .create(stream=True); .parse() posts on its own
    return _patch(
        module,
        "Completions",
        "AsyncCompletions",
        {"create": ("chat.completions", read_chat), "parse": ("chat.completions", read_chat)},
    )


def patch_completions(module: ModuleType) -> list[switches.Patch]:
    return _patch(module, "Completions", "AsyncCompletions", {"create": ("completions", read_completion)})


def patch_responses(module: ModuleType) -> list[switches.Patch]:
    return _patch(
        module,
        "Responses",
        "AsyncResponses",
        {"create": ("responses", read_response), "parse": ("responses", read_response)},
    )


def patch_embeddings(module: ModuleType) -> list[switches.Patch]:
    return _patch(module, "Embeddings", "AsyncEmbeddings", {"create": ("embeddings", read_embedding)})
