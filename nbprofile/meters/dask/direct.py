"""The probe's two routes to the workers: straight to each worker, or through the scheduler.

Both end at the same place, the worker's ``run`` handler (what ``client.run`` reaches), with
the same message: the probe pickled, its arguments pickled. They differ in the way there.

- Direct: the client's own connection pool (``client.rpc``, the comms it keeps open for
  reuse) sends ``op="run"`` to every worker at once, as the scheduler's broadcast does; one
  hop each way. It needs the list of workers, and it takes it from the scheduler's own table
  when the scheduler runs in this process (a ``LocalCluster`` made here): read in place,
  exact at the moment the edge is sent, no message. A round trip to two idle workers costs
  about a third less this way on a 2-core machine (2.5 against 3.8 ms, ``bench/dask_cell.py``):
  one hop less each way, and no new connection (the scheduler's broadcast opens one to each
  worker at each call and closes it after). A start sent this way also reaches the worker
  before a task the cell submits right after it, which through the scheduler it need not.
- Through the scheduler: ``client.run``, for a scheduler elsewhere (its list of workers would
  cost a round trip of its own), and for a worker the client has not connected to yet: its
  first edge goes this way while the client opens a connection to it in the background, and
  it is asked directly from the next edge on. A worker the client cannot reach directly (a
  scheduler behind a proxy, workers on a private network) stays on this route. One whose
  direct connection fails after it worked is asked this way within the same edge, later
  than the others: a start read that way says how late, and that worker is left out of the
  cell's totals (what it did meanwhile would be missed); the next edges ask it this way.

Nothing here imports distributed: it is reached through the client the user made.
"""

from __future__ import annotations

import json
import pickle
import sys
import time
from typing import Any

#: a worker's answer: the probe's JSON text, or why there is none
Answer = str | BaseException
#: the answer for a start sent without asking for one: the worker's end says whether it began
SENT = '{"sent": true}'
#: the share of the timeout a direct connection may take before the scheduler is asked instead
CONNECT_SHARE = 0.25


class Unreachable(Exception):
    """The direct message could not be delivered to the worker (a comm error, not the probe's)."""


def in_process_workers(client: Any) -> list[str] | None:
    """The workers the client's scheduler knows, read from its table when it runs in this
    process; None for a scheduler elsewhere (the direct route then has no list to use)."""
    module = sys.modules.get("distributed.scheduler")
    scheduler = getattr(getattr(client, "cluster", None), "scheduler", None)
    if module is None or not isinstance(scheduler, module.Scheduler):  # elsewhere: a process's handle
        return None
    workers = getattr(scheduler, "workers", None)
    if not isinstance(workers, dict):
        return None
    if getattr(scheduler, "address", None) != getattr(getattr(client, "scheduler", None), "address", ""):
        return None  # the cluster object's scheduler is not the one this client talks to
    # ``dict.keys`` of the table (a dict subclass) is copied in C, under the GIL: safe from this
    # thread while the scheduler's event loop changes it
    return sorted(dict.keys(workers))


def _failure(response: Any) -> BaseException:
    """What the worker's ``run`` said when the probe raised."""
    if isinstance(response, dict):
        text = response.get("exception_text") or response.get("text") or response.get("status")
        return RuntimeError(str(text))
    return RuntimeError(f"unexpected answer {type(response).__name__}")


async def _direct(client: Any, address: str, function: bytes, args: bytes, timeout_s: float,
                  reply: bool) -> Answer:
    import asyncio  # distributed, imported by the user, has imported it

    pool = client.rpc  # the client's ConnectionPool: an open comm to the worker is reused
    try:
        comm = await pool.connect(address, timeout=timeout_s * CONNECT_SHARE)
    except Exception as exc:  # refused, unroutable, timed out: the scheduler may still reach it
        return Unreachable(f"{type(exc).__name__}: {exc}")
    try:
        send_recv = sys.modules["distributed.core"].send_recv
        response = await asyncio.wait_for(send_recv(comm, op="run", function=function, args=args, wait=True,
                                                    reply=reply), timeout_s)
    except asyncio.TimeoutError:  # the worker's event loop is busy or stuck: not asked again elsewhere
        return TimeoutError(f"no answer within {timeout_s:g} s")
    except Exception as exc:  # the worker took the message and gave no answer: said per worker
        return exc
    finally:
        pool.reuse(address, comm)  # a comm that failed was closed, and the pool lets it go
    if not reply:
        return SENT
    if isinstance(response, dict) and response.get("status") == "OK":
        return str(response["result"])
    return _failure(response)


async def _relay(client: Any, workers: list[str], probe: Any, args: tuple[Any, ...],
                 timeout_s: float) -> dict[str, Answer]:
    """``client.run`` on ``workers``: through the scheduler."""
    import asyncio

    try:
        through = await asyncio.wait_for(client.run(probe, *args, workers=workers, on_error="return",
                                                    asynchronous=True), max(timeout_s, 0.001))
    except Exception as exc:  # said per worker
        return {a: exc for a in workers}
    return {a: through.get(a, RuntimeError("no answer through the scheduler")) for a in workers}


async def _verify(client: Any, workers: list[str], timeout_s: float, reachable: set[str]) -> None:
    """Add to ``reachable`` the workers the client can open a connection to (kept in its pool)."""
    import asyncio

    async def one(address: str) -> None:
        try:
            comm = await client.rpc.connect(address, timeout=timeout_s)
        except Exception:  # not reachable directly: it stays on the scheduler's route
            return
        client.rpc.reuse(address, comm)
        reachable.add(address)

    await asyncio.gather(*(one(a) for a in workers))


_checks: set[Any] = set()  #: connection checks under way (a task nothing refers to may be collected)


#: every worker's answer; those that answered through the scheduler; of those, the ones refused directly
Sent = tuple[dict[str, Answer], list[str], list[str]]


async def send(client: Any, workers: list[str], others: list[str], probe: Any, args: tuple[Any, ...],
               timeout_s: float, reply: bool, reachable: set[str]) -> Sent:
    """Run ``probe(*args)`` on each of ``workers`` directly and on ``others`` (not yet known to
    be reachable directly) through the scheduler, all at once, and check in the background
    whether the client can connect to ``others`` (those it can join ``reachable``, for the next
    windows). A worker in ``workers`` that cannot be reached directly after all is asked
    through the scheduler, later than the rest: a start read that way says how late it was
    (``late_s``). Returns every worker's answer, the workers that answered through the
    scheduler, and those of them whose direct connection failed. Runs on the client's loop.

    Without ``reply`` the message is only delivered (the answer is :data:`SENT`): a window's
    start, whose answer the end's makes redundant (the end says whether the start arrived, and
    the worker's process id); the worker handles a comm's messages in order, so that start is
    handled before an end sent after it on the same comm."""
    import asyncio

    started = time.monotonic()
    function, payload = pickle.dumps(probe, protocol=5), pickle.dumps(args, protocol=5)

    async def directly() -> list[Answer]:
        each = (_direct(client, a, function, payload, timeout_s, reply) for a in workers)
        return await asyncio.gather(*each)

    async def nothing() -> dict[str, Answer]:
        return {}

    if others:  # alongside, not awaited: the edge waits for the answers only
        check = asyncio.ensure_future(_verify(client, others, timeout_s * CONNECT_SHARE, reachable))
        _checks.add(check)
        check.add_done_callback(_checks.discard)
    answers, through = await asyncio.gather(
        directly(), _relay(client, others, probe, args, timeout_s) if others else nothing())
    results: dict[str, Answer] = {**dict(zip(workers, answers)), **through}
    relayed = [a for a in others if isinstance(through[a], str)]
    missed = [a for a in workers if isinstance(results[a], Unreachable)]
    if not missed:
        return results, relayed, []
    late = time.monotonic() - started
    again = await _relay(client, missed, probe, args, timeout_s - late)  # the edge stays inside the timeout
    refused = []
    for address in missed:
        answer = again[address]
        if isinstance(answer, str):
            refused.append(address)
            results[address] = answer if reply else json.dumps({**json.loads(answer), "late_s": late})
        else:
            results[address] = Unreachable(f"directly: {results[address]}; through the scheduler: "
                                           f"{type(answer).__name__}: {answer}")
    return results, relayed + refused, refused
