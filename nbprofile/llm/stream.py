"""Stream proxies: the user's stream object, unchanged, with an observer watching it go by.

A :class:`wrapt.ObjectProxy` forwards every attribute (``.response``,
``.text_stream``, ``.get_final_message()``...) and passes ``isinstance``
checks, so code written for the SDK's stream keeps working: ``with``,
iteration, async iteration and ``.close()`` are redefined here only to see the
items and to learn when the stream ends.

The observer records the call once, when the stream ends: exhausted, closed,
left by ``with``, broken by an exception (what was seen so far is recorded,
the exception passes through untouched), or, failing all of those, when the
stream is garbage-collected.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from types import TracebackType
from typing import Any, Protocol

import wrapt


class Observer(Protocol):
    def observe(self, item: Any) -> bool:
        """See one item; True hides it from the user (a usage chunk nbprofile asked for)."""

    def finish(self, error: BaseException | None) -> None:
        """Record the call (idempotent: called again on close, exit or collection)."""


def _attach(proxy: Any, observer: Observer) -> None:
    proxy._self_observer = observer
    # Records a stream the user neither finished nor closed, when it is collected.
    finalizer = weakref.finalize(proxy, observer.finish, None)
    finalizer.atexit = False  # at interpreter exit there is no window left to count it in
    proxy._self_finalizer = finalizer


class StreamProxy(wrapt.ObjectProxy):  # type: ignore[misc, type-arg, unused-ignore]
    """A sync stream (``openai.Stream``, ``anthropic.Stream``, ``MessageStream``)."""

    def __init__(self, wrapped: Any, observer: Observer) -> None:
        super().__init__(wrapped)
        _attach(self, observer)

    def __iter__(self) -> StreamProxy:
        return self

    def __next__(self) -> Any:
        observer = self._self_observer
        while True:
            try:
                item = self.__wrapped__.__next__()
            except StopIteration:
                observer.finish(None)
                raise
            except BaseException as exc:  # recorded, then re-raised unchanged
                observer.finish(exc)
                raise
            if not observer.observe(item):
                return item

    def __enter__(self) -> StreamProxy:
        self.__wrapped__.__enter__()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            self._self_observer.finish(exc)

    def close(self) -> None:
        try:
            self.__wrapped__.close()
        finally:
            self._self_observer.finish(None)


class AsyncStreamProxy(wrapt.ObjectProxy):  # type: ignore[misc, type-arg, unused-ignore]
    """An async stream (``openai.AsyncStream``, ``anthropic.AsyncStream``, ``AsyncMessageStream``)."""

    def __init__(self, wrapped: Any, observer: Observer) -> None:
        super().__init__(wrapped)
        _attach(self, observer)

    def __aiter__(self) -> AsyncStreamProxy:
        return self

    async def __anext__(self) -> Any:
        observer = self._self_observer
        while True:
            try:
                item = await self.__wrapped__.__anext__()
            except StopAsyncIteration:
                observer.finish(None)
                raise
            except BaseException as exc:
                observer.finish(exc)
                raise
            if not observer.observe(item):
                return item

    async def __aenter__(self) -> AsyncStreamProxy:
        await self.__wrapped__.__aenter__()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            self._self_observer.finish(exc)

    async def close(self) -> None:
        try:
            await self.__wrapped__.close()
        finally:
            self._self_observer.finish(None)

    async def aclose(self) -> None:
        await self.close()


class HelperStreamProxy(StreamProxy):
    """Anthropic's ``MessageStream``: its ``text_stream``, ``until_done()`` and
    ``get_final_message()`` iterate the real object, not this proxy, so the
    observer reads the accumulated message when the stream is done instead."""

    def until_done(self) -> None:
        try:
            self.__wrapped__.until_done()
        finally:
            self._self_observer.finish(None)

    def get_final_message(self) -> Any:
        try:
            return self.__wrapped__.get_final_message()
        finally:
            self._self_observer.finish(None)

    def get_final_text(self) -> str:
        try:
            return self.__wrapped__.get_final_text()  # type: ignore[no-any-return]
        finally:
            self._self_observer.finish(None)


class AsyncHelperStreamProxy(AsyncStreamProxy):
    async def until_done(self) -> None:
        try:
            await self.__wrapped__.until_done()
        finally:
            self._self_observer.finish(None)

    async def get_final_message(self) -> Any:
        try:
            return await self.__wrapped__.get_final_message()
        finally:
            self._self_observer.finish(None)

    async def get_final_text(self) -> str:
        try:
            return await self.__wrapped__.get_final_text()  # type: ignore[no-any-return]
        finally:
            self._self_observer.finish(None)


class ManagerProxy(wrapt.ObjectProxy):  # type: ignore[misc, type-arg, unused-ignore]
    """``client.messages.stream(...)``: a context manager whose ``__enter__`` gives the stream."""

    def __init__(self, wrapped: Any, make_observer: Callable[[Any], Observer]) -> None:
        super().__init__(wrapped)
        self._self_make_observer = make_observer
        self._self_observer: Observer | None = None

    def __enter__(self) -> Any:
        stream = self.__wrapped__.__enter__()
        self._self_observer = self._self_make_observer(stream)
        return HelperStreamProxy(stream, self._self_observer)

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return self.__wrapped__.__exit__(exc_type, exc, tb)
        finally:
            if self._self_observer is not None:
                self._self_observer.finish(exc)

    async def __aenter__(self) -> Any:
        stream = await self.__wrapped__.__aenter__()
        self._self_observer = self._self_make_observer(stream)
        return AsyncHelperStreamProxy(stream, self._self_observer)

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> Any:
        try:
            return await self.__wrapped__.__aexit__(exc_type, exc, tb)
        finally:
            if self._self_observer is not None:
                self._self_observer.finish(exc)


# -- estimating a stream's tokens without usage ---------------------------------------

_TIKTOKEN_URLS = {
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
}
_encoders: dict[str, Callable[[str], int] | None] = {}
_has_tiktoken: bool | None = None  # looked up once: find_spec walks sys.path


def estimator_for(model: str | None) -> Callable[[str], int] | None:
    """A local token counter for ``model``, or ``None``.

    Only tiktoken, only if it is installed and its encoding file is already in
    its cache: tiktoken downloads missing files on first use, and a notebook
    cell must not reach the network behind the user's back.
    """
    global _has_tiktoken
    if _has_tiktoken is None:
        import importlib.util

        _has_tiktoken = importlib.util.find_spec("tiktoken") is not None
    if not _has_tiktoken:
        return None
    import tiktoken  # type: ignore[import-not-found, unused-ignore]

    try:
        name = tiktoken.encoding_name_for_model(model or "")
    except KeyError:  # a model tiktoken does not know: the current OpenAI encoding
        name = "o200k_base"
    if name in _encoders:
        return _encoders[name]
    url = _TIKTOKEN_URLS.get(name)
    encoder: Callable[[str], int] | None = None
    if url is not None and _cached(url):
        encoding = tiktoken.get_encoding(name)
        encoder = lambda text: len(encoding.encode(text, disallowed_special=()))
    _encoders[name] = encoder
    return encoder


def _cached(url: str) -> bool:
    """Whether tiktoken's file cache (its own rule: sha1 of the URL) holds ``url``."""
    import hashlib
    import tempfile

    if "TIKTOKEN_CACHE_DIR" in os.environ:
        base = os.environ["TIKTOKEN_CACHE_DIR"]
    elif "DATA_GYM_CACHE_DIR" in os.environ:
        base = os.environ["DATA_GYM_CACHE_DIR"]
    else:
        base = os.path.join(tempfile.gettempdir(), "data-gym-cache")
    if not base:
        return False
    return os.path.isfile(os.path.join(base, hashlib.sha1(url.encode()).hexdigest()))


def messages_text(messages: Any) -> tuple[str, int]:
    """The text of chat messages and their count (for an input estimate)."""
    parts: list[str] = []
    count = 0
    if isinstance(messages, (list, tuple)):
        for message in messages:
            count += 1
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(p.get("text", "") for p in content if isinstance(p, dict))
    return "\n".join(parts), count


__all__ = ["AsyncStreamProxy", "ManagerProxy", "Observer", "StreamProxy", "estimator_for", "messages_text"]
