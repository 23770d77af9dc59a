"""Moving journal lines into a store, and recovering the journals of kernels that are gone.

One batch is one transaction: the runs and records of the journal's next
complete lines, and the journal's new offset, so a line is written once,
whichever process writes it and however often it is interrupted. What the
lines leave open (a cell that started and has no record yet, its last
heartbeat) is kept with the offset; when the journal's kernel is gone and its
last cell never ended, the batch adds a record of status ``died`` for it, with
the likely cause where the system says it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol

from nbprofile.format import format_bytes, format_duration
from nbprofile.readings import Reading
from nbprofile.record import DIED, CellRecord, RunInfo, code_hash
from nbprofile.redact import mask
from nbprofile.store.journal import (
    Claim,
    claim_if_orphaned,
    complete_lines,
    journals,
    run_from_entry,
)

#: bytes of journal read per transaction (a few thousand records)
BATCH_BYTES = 4 * 2**20


class JournalTransaction(Protocol):
    offset: int  # how far the journal has been written into the store
    state: dict[str, Any]  # what its lines left open

    def write(self, runs: Sequence[RunInfo], records: Sequence[CellRecord | list[Any]], offset: int,
              state: dict[str, Any]) -> None:
        """Runs, and records (a record, or a journal's ``rec`` fields), and the journal's new offset."""


class JournalTarget(Protocol):
    """What ingestion needs from a store."""

    def journal_transaction(self, name: str) -> AbstractContextManager[JournalTransaction]: ...
    def forget_journal(self, name: str) -> None: ...


Read = Callable[[int, int], bytes]
#: lines already in memory, from an offset on, and where they end (None: not all of them)
Memory = Callable[[int], "tuple[list[dict[str, Any]], int] | None"]


def ingest(store: JournalTarget, name: str, read: Read, *, gone: Claim | None = None,
           cause: str | None = None, memory: Memory | None = None) -> tuple[int, int]:
    """Write a journal's complete lines past the store's offset into the store; return how
    many records, and how far into the journal the store now holds. With ``gone`` (the
    journal of a kernel that no longer runs), a cell left open gets a ``died`` record and
    the journal is marked done. ``memory``: the writer's own lines as it wrote them, used
    instead of the file when they reach back to the store's offset (no parsing)."""
    written = 0
    size = BATCH_BYTES
    while True:
        with store.journal_transaction(name) as tx:
            kept = memory(tx.offset) if memory is not None else None
            if kept is not None:
                entries, end = kept
                used, at_end = end - tx.offset, True
            else:
                data = read(tx.offset, size)
                entries, used = complete_lines(data)
                at_end = len(data) < size
            if not used and not at_end:  # one line longer than a batch (a huge cell): read more
                size *= 2
                continue
            size = BATCH_BYTES
            state = dict(tx.state)
            runs, records = _apply(entries, state)
            if gone is not None and at_end:
                opened = state.pop("open", None)
                if opened is not None:
                    records.append(died_record(opened, state, cause, gone.last_modified))
                state["done"] = True
            if used or runs or records or state != tx.state:
                tx.write(runs, records, tx.offset + used, state)
            position = tx.offset
        written += len(records)
        if at_end:
            return written, position


def _apply(entries: list[dict[str, Any]], state: dict[str, Any]) -> tuple[list[RunInfo], list[CellRecord | list[Any]]]:
    """Runs and records from journal lines; ``state`` follows the cell left open."""
    runs: list[RunInfo] = []
    records: list[CellRecord | list[Any]] = []
    for entry in entries:
        kind = entry.get("k")
        if kind == "rec":
            # the writer's own records come as objects; a file's lines stay lists (no parsing
            # into records: the store makes rows of them directly)
            record = entry.get("_record") or entry["r"]
            records.append(record)
            state["seq"] = max(state.get("seq", 0), record.seq if isinstance(record, CellRecord) else record[1])
            if entry.get("cell"):
                state.pop("open", None)
        elif kind == "start":
            state["open"] = entry
            state["seen"] = entry["at"]
            state.pop("rss", None)
        elif kind == "beat":
            state["seen"] = entry["at"]
            state["rss"] = max(state.get("rss") or 0, entry.get("rss") or 0) or None
            if entry.get("oom") is not None:
                state["oom"] = entry["oom"]
                state["cgroup"] = entry.get("cg")
        elif kind == "meta":
            state.setdefault("metas", {})[str(entry["id"])] = entry["m"]
        elif kind == "drop":
            state.pop("open", None)
        elif kind == "run":
            run = run_from_entry(entry["run"])
            runs.append(run)
            state["run"] = [run.run_id, run.notebook]
            if run.extra.get("oom_kills") is not None and "oom" not in state:
                state["oom"] = run.extra["oom_kills"]
            if run.extra.get("cgroup") is not None:
                state["cgroup"] = run.extra["cgroup"]
    return runs, records


def died_record(opened: dict[str, Any], state: dict[str, Any], cause: str | None,
                last_modified: float) -> CellRecord:
    """The record of a cell whose kernel died while it ran."""
    run_id, notebook = state.get("run") or [opened.get("run"), None]
    started = float(opened["at"])
    # seen: the start or its last heartbeat (one a second); the journal's last write (a measure()
    # block inside the cell, say) is a sign of life too
    seen = max(float(state.get("seen") or started), last_modified)
    cause = oom_cause(state) or cause  # the OOM killer's SIGKILL is a SIGKILL too: say why
    # a start line has the source masked and the hash of it as typed; an older version's, the
    # source as typed (masked here) and no hash
    typed = opened.get("src") or ""
    source, cell_hash = mask(typed), opened.get("hash") or code_hash(typed)
    readings = {"wall_s": Reading(max(seen - started, 0.0), "s", "estimated", "journal",
                                  "until the kernel was last seen")}
    rss = state.get("rss")
    if rss:
        readings["rss_peak_bytes"] = Reading(float(rss), "B", "sampled", "journal heartbeat",
                                             "the last RSS high-water mark the kernel wrote")
    at = f", at {format_bytes(rss)}" if rss else ""
    note = (f"the kernel died while this cell ran: {cause or 'cause unknown'}; last seen "
            f"{format_duration(max(seen - started, 0.0))} after the cell started{at}")
    return CellRecord(
        run_id=run_id, seq=max(int(opened.get("seq") or 0), int(state.get("seq", 0)) + 1),
        notebook=notebook, cell_id=opened.get("cell_id"), execution_count=opened.get("count"),
        code_hash=cell_hash, source=source, started_at=started, status=DIED,
        error_type=cause, readings=readings, overhead_s=0.0, notes=[note],
    )


def oom_cause(state: dict[str, Any]) -> str | None:
    """"out of memory" when the kernel's cgroup counted an OOM kill after its last heartbeat."""
    before = state.get("oom")
    if before is None:
        return None
    from nbprofile.meters.memory_limit import cgroup_path, oom_kill_count

    if state.get("cgroup") is not None and cgroup_path() != state["cgroup"]:
        return None  # another cgroup's counter says nothing about that kernel
    now = oom_kill_count()
    return "out of memory" if now is not None and now > before else None


def recover_orphans(store: JournalTarget, folder: Path, *,
                    causes: Callable[[str], str | None] | None = None) -> int:
    """Recover every journal in ``folder`` whose kernel is gone; return how many records.

    ``causes`` maps a journal's name to how its kernel ended, when the caller saw it
    (``nbprofile run`` knows the kernel's exit signal).
    """
    written = 0
    for path in journals(folder):
        claim = claim_if_orphaned(path)
        if claim is None:
            continue
        done = False
        try:  # a StoreError goes up: the journal stays, for the next reader to recover
            written += ingest(store, path.name, claim.read, gone=claim,
                              cause=causes(path.name) if causes is not None else None)[0]
            done = True
        finally:
            claim.release(remove=done)
        if done:
            store.forget_journal(path.name)
    return written
