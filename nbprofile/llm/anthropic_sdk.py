"""Hooks for the ``anthropic`` SDK: ``messages.create`` (``stream=True`` too),
``messages.stream(...)``, ``messages.parse``, and the same on ``beta.messages``.

Anthropic reports ``input_tokens`` *without* the cached parts; nbprofile's
input is every prompt token, so it adds ``cache_read_input_tokens`` and
``cache_creation_input_tokens`` (both parts of the recorded input).
``output_tokens`` already includes thinking (``output_tokens_details.thinking_tokens``
is recorded as reasoning when reported). In a stream, ``message_start`` carries
the input side and every ``message_delta`` the *cumulative* usage so far: the
last value of each field wins, never a sum.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from types import ModuleType
from typing import Any

from nbprofile.llm import switches
from nbprofile.llm.calls import add_call, add_unreadable, add_untokenized, as_int, field
from nbprofile.llm.stream import AsyncStreamProxy, ManagerProxy, StreamProxy

PROVIDER = "anthropic"
_USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_read_input_tokens", "cache_creation_input_tokens")


def record_usage(
    usage: Any,
    model: str | None,
    requested: str | None,
    duration: float | None,
    api: str,
    note: str | None = None,
) -> None:
    """Record an Anthropic ``Usage`` (or the dict of its last known fields)."""
    if usage is None:
        add_untokenized(PROVIDER, api, model, note or "the message carried no usage",
                        requested=requested, duration_s=duration)
        return
    uncached = as_int(field(usage, "input_tokens"))
    read = as_int(field(usage, "cache_read_input_tokens")) or 0
    written = as_int(field(usage, "cache_creation_input_tokens")) or 0
    creation = field(usage, "cache_creation")
    long_written = as_int(field(creation, "ephemeral_1h_input_tokens")) or 0
    details = field(usage, "output_tokens_details")
    tier = field(usage, "service_tier")
    add_call(
        PROVIDER,
        api,
        model,
        requested=requested,
        input_tokens=None if uncached is None else uncached + read + written,
        output_tokens=as_int(field(usage, "output_tokens")),
        cached_tokens=read,
        cache_write_tokens=written,
        cache_write_long_tokens=long_written,
        reasoning_tokens=as_int(field(details, "thinking_tokens")),
        service_tier=tier if tier == "priority" else None,
        token_note=note,
        duration_s=duration,
    )


def read_message(obj: Any, requested: str | None, duration: float | None, api: str = "messages") -> None:
    record_usage(field(obj, "usage"), field(obj, "model"), requested, duration, api)


class EventObserver:
    """Raw ``stream=True`` events: keep the last value of each usage field."""

    def __init__(self, api: str, requested: str | None, started: float) -> None:
        self.api, self.requested, self.started = api, requested, started
        self.model: str | None = None
        self.usage: dict[str, Any] | None = None
        self.done = False

    def observe(self, event: Any) -> bool:
        kind = getattr(event, "type", None)
        if kind == "message_start":
            message = getattr(event, "message", None)
            self.model = getattr(message, "model", None)
            usage = getattr(message, "usage", None)
            if usage is not None:
                self.usage = {
                    name: getattr(usage, name, None)
                    for name in (*_USAGE_FIELDS, "cache_creation", "output_tokens_details", "service_tier")
                }
        elif kind == "message_delta":
            usage = getattr(event, "usage", None)
            if usage is not None:
                current = self.usage if self.usage is not None else {}
                for name in (*_USAGE_FIELDS, "output_tokens_details"):
                    value = getattr(usage, name, None)
                    if value is not None:  # cumulative: overwrite, never add
                        current[name] = value
                self.usage = current
        return False

    def finish(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        note = None
        if error is not None:
            note = f"the stream ended early ({type(error).__name__}): tokens up to the last usage event"
        try:
            record_usage(
                self.usage,
                self.model,
                self.requested,
                perf_counter() - self.started,
                self.api,
                note=note
                if self.usage is not None
                else (note or "the stream ended before message_start, which carries the usage"),
            )
        except Exception as exc:
            add_unreadable(PROVIDER, self.api, self.model or self.requested, exc)


class SnapshotObserver:
    """A ``messages.stream()`` MessageStream: the SDK accumulates the message
    (usage included, by the same last-value rule); read it when the stream ends."""

    def __init__(self, stream: Any, api: str, requested: str | None, started: float) -> None:
        self.stream, self.api, self.requested, self.started = stream, api, requested, started
        self.done = False

    def observe(self, event: Any) -> bool:
        return False

    def finish(self, error: BaseException | None) -> None:
        if self.done:
            return
        self.done = True
        stream, self.stream = self.stream, None  # let the stream go once recorded
        try:
            snapshot = _snapshot(stream)
            note = (
                f"the stream ended early ({type(error).__name__}): tokens up to the last usage event"
                if error is not None
                else None
            )
            if snapshot is None:
                record_usage(
                    None,
                    None,
                    self.requested,
                    perf_counter() - self.started,
                    self.api,
                    note="the stream ended before message_start, which carries the usage",
                )
            else:
                record_usage(
                    field(snapshot, "usage"),
                    field(snapshot, "model"),
                    self.requested,
                    perf_counter() - self.started,
                    self.api,
                    note=note,
                )
        except Exception as exc:
            add_unreadable(PROVIDER, self.api, self.requested, exc)


def _snapshot(stream: Any) -> Any:
    getter = getattr(stream, "_current_snapshot_or_none", None)
    if callable(getter):
        return getter()
    try:
        return stream.current_message_snapshot
    except AssertionError:  # the SDK asserts when no message_start has arrived yet
        return None


# -- wrappers ------------------------------------------------------------------------


def _observe(result: Any, api: str, kwargs: dict[str, Any], started: float, is_async: bool) -> Any:
    requested = kwargs.get("model")
    if kwargs.get("stream") is True and hasattr(result, "__anext__" if is_async else "__next__"):
        observer = EventObserver(api, requested, started)
        return AsyncStreamProxy(result, observer) if is_async else StreamProxy(result, observer)
    read_message(result, requested, perf_counter() - started, api)
    return result


def _sync(api: str) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not switches.CONFIG.installed:  # a bound wrapper kept from before uninstall()
            return wrapped(*args, **kwargs)
        switches.check_guard()  # a budget's guard raises here, before the request is sent
        started = perf_counter()
        result = wrapped(*args, **kwargs)  # the user's exceptions pass through untouched
        try:
            return _observe(result, api, kwargs, started, is_async=False)
        except Exception as exc:
            add_unreadable(PROVIDER, api, kwargs.get("model"), exc)
            return result

    return wrapper


def _async(api: str) -> Callable[..., Any]:
    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        async def call() -> Any:
            if not switches.CONFIG.installed:
                return await wrapped(*args, **kwargs)
            switches.check_guard()
            started = perf_counter()
            result = await wrapped(*args, **kwargs)
            try:
                return _observe(result, api, kwargs, started, is_async=True)
            except Exception as exc:
                add_unreadable(PROVIDER, api, kwargs.get("model"), exc)
                return result

        return call()

    return wrapper


def _stream(api: str) -> Callable[..., Any]:
    """``messages.stream(...)`` (sync and async alike return a context manager at once)."""

    def wrapper(
        wrapped: Callable[..., Any], instance: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Any:
        if not switches.CONFIG.installed:
            return wrapped(*args, **kwargs)
        switches.check_guard()
        manager = wrapped(*args, **kwargs)
        requested = kwargs.get("model")
        started = perf_counter()
        return ManagerProxy(manager, lambda stream: SnapshotObserver(stream, api, requested, started))

    return wrapper


def _patch(module: ModuleType, api: str) -> list[switches.Patch]:
    sync_cls, async_cls = module.Messages, module.AsyncMessages
    patches = [
        switches.wrap(sync_cls, "create", _sync(api)),
        switches.wrap(async_cls, "create", _async(api)),
        switches.wrap(sync_cls, "stream", _stream(api)),
        switches.wrap(async_cls, "stream", _stream(api)),
    ]
    for cls, make in ((sync_cls, _sync), (async_cls, _async)):
        if "parse" in cls.__dict__:  # parse() posts on its own, not through create()
            patches.append(switches.wrap(cls, "parse", make(api)))
    return patches


def patch_messages(module: ModuleType) -> list[switches.Patch]:
    return _patch(module, "messages")


def patch_beta_messages(module: ModuleType) -> list[switches.Patch]:
    return _patch(module, "beta.messages")
