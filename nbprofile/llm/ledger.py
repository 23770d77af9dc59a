"""The usage ledger: one append-only list of LLM calls per process.

The SDK hooks, the manual :func:`nbprofile.llm.record` and the ``generate()``
hook append one :class:`Usage` per call; meters take a mark when a window opens
and read the entries after it when the window closes, so nested windows (a
``measure()`` block inside a cell) each get exactly their own calls. A call made
by another thread or asyncio task while a window is open counts for that
window: the ledger is process-wide, like the other meters' counters.

Appending is a lock, a tuple and two additions (~1 µs). Running totals are kept
as the entries arrive, so a budget guard reads them in O(1) (:meth:`Ledger.totals`).
Entries older than every open mark are dropped, so a long session does not grow
the list without bound.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from typing import Literal, NamedTuple

Kind = Literal["api", "local"]
TokenMethod = Literal["measured", "estimated", "unavailable"]
ZERO = Decimal(0)
#: entries kept while no window is open (for a late reader such as a test); older ones are dropped
_KEEP_WHEN_IDLE = 256


class Usage(NamedTuple):
    """One call: what the API (or the local model) reported, and what it cost.

    Token fields are ``None`` when the call did not report them. ``input_tokens``
    counts every prompt token, cached reads and cache writes included (OpenAI's
    ``prompt_tokens``; Anthropic's ``input_tokens + cache_read + cache_creation``),
    so ``input + output`` compares across providers; ``cached_tokens`` and
    ``cache_write_tokens`` are parts of it. ``reasoning_tokens`` are part of
    ``output_tokens`` (both providers bill them as output). ``cost`` is exact
    (``Decimal`` USD) or ``None`` with the reason in ``cost_note``.
    """

    kind: Kind
    provider: str  # "openai", "anthropic", "manual", "transformers"
    api: str  # "chat.completions", "responses", "embeddings", "messages", "record", "generate"
    model: str
    input_tokens: int | None
    output_tokens: int | None
    cached_tokens: int | None
    cache_write_tokens: int | None
    reasoning_tokens: int | None
    token_method: TokenMethod
    token_note: str | None
    cost: Decimal | None
    cost_note: str | None
    duration_s: float | None = None
    at: float = 0.0  # time.time() when recorded
    price_source: str = ""  # "litellm 1.109.1 prices of 2026-11-22", "user price"; "" if unpriced


class Totals(NamedTuple):
    """Running sums over every call since the process started (or since a snapshot: ``a - b``).

    ``*_unknown`` count the calls whose tokens or cost are not known: a budget
    on a total with unknown parts can only be judged on the known part.
    """

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    tokens_unknown: int = 0
    cost: Decimal = ZERO
    cost_unknown: int = 0
    local_calls: int = 0
    local_output_tokens: int = 0

    @property
    def tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def __sub__(self, other: Totals) -> Totals:
        return Totals(*(a - b for a, b in zip(self, other)))  # type: ignore[operator]


class Ledger:
    """Append-only usage entries with marks for windows and running totals."""

    def __init__(self) -> None:
        # One lock for the list, the totals and the marks: appends come from any
        # thread (SDK calls in a thread pool), reads from the profiler's thread.
        self._lock = threading.Lock()
        self._entries: list[Usage] = []
        self._offset = 0  # absolute index of self._entries[0]
        self._marks: dict[int, int] = {}  # absolute index -> open marks there
        self._totals = Totals()

    def append(self, usage: Usage) -> None:
        if not usage.at:
            usage = usage._replace(at=time.time())
        with self._lock:
            self._entries.append(usage)
            t = self._totals
            if usage.kind == "local":
                self._totals = t._replace(
                    local_calls=t.local_calls + 1,
                    local_output_tokens=t.local_output_tokens + (usage.output_tokens or 0),
                )
                return
            known = usage.input_tokens is not None and usage.output_tokens is not None
            self._totals = Totals(
                t.calls + 1,
                t.input_tokens + (usage.input_tokens or 0),
                t.output_tokens + (usage.output_tokens or 0),
                t.tokens_unknown + (not known),
                t.cost + (usage.cost if usage.cost is not None else ZERO),
                t.cost_unknown + (usage.cost is None),
                t.local_calls,
                t.local_output_tokens,
            )
            if not self._marks and len(self._entries) > 2 * _KEEP_WHEN_IDLE:
                self._trim_locked()

    def totals(self) -> Totals:
        """The running totals (a consistent snapshot; O(1))."""
        return self._totals  # a tuple replaced whole under the lock: reading it needs none

    def mark(self) -> int:
        """Open a mark at the current end; :meth:`release` it to read the calls since."""
        with self._lock:
            pos = self._offset + len(self._entries)
            self._marks[pos] = self._marks.get(pos, 0) + 1
            return pos

    def since(self, mark: int) -> list[Usage]:
        """The calls after ``mark`` (the mark stays open)."""
        with self._lock:
            return self._entries[max(mark - self._offset, 0) :]

    def release(self, mark: int) -> list[Usage]:
        """The calls after ``mark``, closing it."""
        with self._lock:
            entries = self._entries[max(mark - self._offset, 0) :]
            count = self._marks.get(mark, 0)
            if count <= 1:
                self._marks.pop(mark, None)
            else:
                self._marks[mark] = count - 1
            self._trim_locked()
            return entries

    def discard(self, mark: int) -> None:
        self.release(mark)

    def entries(self) -> list[Usage]:
        """The entries still held (tests and ``%nbprofile llm`` listings)."""
        with self._lock:
            return list(self._entries)

    def clear(self) -> None:
        """Forget every entry and total (tests); open marks stay valid."""
        with self._lock:
            self._offset += len(self._entries)
            self._entries = []
            self._totals = Totals()

    def __len__(self) -> int:
        return self._offset + len(self._entries)

    def _trim_locked(self) -> None:
        """Drop entries no open mark can reach (keeping a few when idle)."""
        if self._marks:
            cut = min(self._marks) - self._offset
        else:
            cut = len(self._entries) - _KEEP_WHEN_IDLE
        if cut > 0:
            del self._entries[:cut]
            self._offset += cut


#: the process's ledger: SDK hooks, record() and generate() all append here
LEDGER = Ledger()
