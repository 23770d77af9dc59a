"""The Dask cluster meter: the workers of the kernel's ``distributed.Client``, at each cell's edges.

No cost without a client: ``begin`` looks only in ``sys.modules`` for ``distributed.client``
(nbprofile never imports distributed) and, when the user has imported it, asks for the
default client (what ``distributed.default_client`` returns, through the function it calls,
which answers None instead of raising; before that, an empty registry of clients says there
is none in well under a microsecond). A client that is not running (closing,
closed, reconnecting) or is asynchronous (its calls must be awaited) is left alone.

With one: ``worker_probe`` run on every worker at each edge, by the worker's ``run`` handler
(what ``client.run`` reaches). When the scheduler runs in this process (a ``LocalCluster``
made here) the edge goes to the workers its table lists, directly, over the client's own
pooled connections, once the client has connected to them (a worker's first edge, and every
edge of a worker that cannot be reached directly, go through the scheduler); with a
scheduler elsewhere, every edge is a ``client.run`` (:mod:`.direct`). The begin's call is
sent on the client's event loop and not waited for: the cell starts at once and the answers
come back while it runs (sent directly, the begin asks for no answer: the end's says whether
it arrived). The end sends its call and then waits for both, together bounded by
:attr:`DaskClusterMeter.timeout_s` (well inside the engine's hang guard): one round trip per
cell once the cell outlasts a round trip. The two calls may reach a worker in either
order; the worker's end waits for its begin (:mod:`.probe`). A worker that raised, or an edge
that timed out, gives unavailable readings with the reason, never 0, and the cell goes on.
After :data:`GIVE_UP_AFTER` timeouts in a row with one client the meter stops asking it (each
would cost the cell the timeout) and says so; a new client starts afresh.

The scheduler is not measured: in a ``LocalCluster`` it runs in the kernel's process, where
the kernel's own CPU meter counts it.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import os
import sys
import time
import weakref
from dataclasses import dataclass
from importlib import import_module
from typing import TYPE_CHECKING, Any

from nbprofile.meters.base import Meter
from nbprofile.meters.dask import direct
from nbprofile.meters.dask.combine import TOTAL_KEYS, Edge, combine, unavailable
from nbprofile.meters.dask.probe import host, worker_probe
from nbprofile.readings import Availability, Readings

if TYPE_CHECKING:
    from collections.abc import Coroutine
    from concurrent.futures import Future

DEFAULT_TIMEOUT_S = 1.0
GIVE_UP_AFTER = 3


@dataclass
class _Window:
    client: Any
    token: str
    begin: Future[Any] | str  #: the workers' answers to the start, on their way, or why there are none
    workers: list[str] | None = None  #: the workers the start went to directly; None: through the scheduler


class ByValue:
    """A function pickled by value once, which unpickles as that function.

    ``client.run`` pickles what it is given at every call; pickling the probe's code anew each
    time (cloudpickle, about 0.3 ms) would be paid at every cell edge. This keeps the bytes:
    pickling it is a copy, and on the worker ``cloudpickle.loads`` (distributed depends on
    cloudpickle) rebuilds the function without importing nbprofile.
    """

    def __init__(self, function: Any) -> None:
        import cloudpickle  # type: ignore[import-untyped]  # distributed depends on it and imported it

        module = sys.modules[function.__module__]
        cloudpickle.register_pickle_by_value(module)
        try:
            self.payload: bytes = cloudpickle.dumps(function)
        finally:
            cloudpickle.unregister_pickle_by_value(module)
        self._loads = cloudpickle.loads

    def __reduce__(self) -> tuple[Any, tuple[bytes]]:
        return self._loads, (self.payload,)


class _Module:
    """Pickles as ``import_module(name)``: the module, found on the worker."""

    def __init__(self, name: str) -> None:
        self.name = name

    def __reduce__(self) -> tuple[Any, tuple[str]]:
        return import_module, (self.name,)


class ByReference:
    """A module's function that pickles as ``getattr(import_module(module), name)``: a few bytes,
    for workers that have the same file installed (see :func:`.probe.installed_probe`)."""

    def __init__(self, function: Any) -> None:
        self.module, self.name = function.__module__, function.__name__

    def __reduce__(self) -> tuple[Any, tuple[_Module, str]]:
        return getattr, (_Module(self.module), self.name)


def _digest(function: Any) -> str | None:
    """The digest :func:`.probe.installed_probe` gives this process's own probe file."""
    try:
        with open(sys.modules[function.__module__].__file__ or "", "rb") as f:
            return hashlib.sha256(f.read()).hexdigest()
    except OSError:
        return None


async def _through_scheduler(call: Any) -> tuple[dict[str, Any], None, list[str]]:
    """``client.run``'s answers, in the shape :func:`.direct.send` gives them."""
    return await call, None, []


def _current_client() -> Any:
    """The user's default ``distributed.Client`` if they made one, without importing anything."""
    module = sys.modules.get("distributed.client")
    if module is None:
        return None
    # distributed's own registry of clients: empty, and no client made current in this context,
    # means none exists (a few hundred ns; the lookup below lists the registry, about 4 µs)
    registry, current = getattr(module, "_global_clients", None), getattr(module, "_current_client", None)
    if registry is not None and not registry and current is not None and current.get() is None:
        return None
    find = getattr(module, "_get_global_client", None)  # what default_client() asks, without raising
    if find is not None:
        client = find()
    else:
        try:
            client = module.default_client()
        except ValueError:  # distributed is imported but no client exists: nothing to measure
            return None
    if client is None:
        return None
    if getattr(client, "status", None) != "running" or getattr(client, "asynchronous", False):
        return None
    return client


class DaskClusterMeter(Meter):
    """``cluster_*`` and ``worker{i}_*`` readings of a Dask cluster's workers (see the module docstring)."""

    name = "dask"
    keys = TOTAL_KEYS

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S, direct: bool = True) -> None:
        self.timeout_s = timeout_s
        #: straight to the workers where the scheduler runs here; False: always ``client.run``
        self.direct = direct
        #: the engine's hang guard lets a call of this meter run this long (its own timeout, and some)
        self.guard_timeout_s = timeout_s + 1.0
        self._open: dict[object, _Window] = {}
        self._timeouts: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._probe: ByValue | None = None
        self._reference = ByReference(worker_probe)
        self._digest: str | None = None
        #: clients whose workers all have this very probe installed: it goes by reference
        self._by_reference: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
        #: per client, the workers it has connected to directly: they are asked directly
        self._reachable: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        #: per client, workers whose direct message failed where the scheduler's reached them
        self._refused: weakref.WeakKeyDictionary[Any, set[str]] = weakref.WeakKeyDictionary()
        #: how the last edge the meter waited for reached the workers: "direct", "client.run", or both
        self.last_route: str | None = None
        self._id = os.urandom(6).hex()  # this kernel's windows, apart from other kernels' on one cluster
        self._tokens = itertools.count()
        self._kernel = (host(), os.getpid())
        self._kernel_id = f"{self._kernel[0]}/{self._kernel[1]}"  # to tell workers in this very process apart

    def probe(self) -> Availability:
        state = "imported" if "distributed" in sys.modules else "not imported"
        return Availability(True, "the workers of a distributed.Client, when one exists "
                                  f"(distributed {state}): CPU time, peak RSS, tasks, data sent, GPU energy; "
                                  "one round trip per cell, straight to the workers when the "
                                  "scheduler runs in this process, else with client.run")

    def begin(self, key: object) -> None:
        client = _current_client()
        if client is None:
            return
        token = f"{self._id}:{next(self._tokens)}"
        if self._timeouts.get(client, 0) >= GIVE_UP_AFTER:
            reason = (f"the workers did not answer {GIVE_UP_AFTER} times in a row within "
                      f"{self.timeout_s:g} s; not asked again for this client")
            self._open[key] = _Window(client, token, reason)
            return
        # sent, not waited for: the answers come back while the cell runs
        workers = direct.in_process_workers(client) if self.direct else None
        self._open[key] = _Window(client, token, self._send(client, token, False, workers), workers)

    def end(self, key: object) -> Readings:
        window = self._open.pop(key, None)
        if window is None:  # no client when the cell began: no cluster readings at all
            return {}
        if isinstance(window.begin, str):
            return unavailable(window.begin)
        if getattr(window.client, "status", None) != "running":
            return unavailable("the Dask client was closed during the cell")
        ending, gone, joined = self._end_workers(window)
        sent = self._send(window.client, window.token, True, ending)
        deadline = time.monotonic() + self.timeout_s
        begin = self._answers(window.client, window.begin, deadline)
        if isinstance(begin, str):
            if not isinstance(sent, str):
                sent.cancel()
            return unavailable(begin)
        end = sent if isinstance(sent, str) else self._answers(window.client, sent, deadline)
        if isinstance(end, Edge):
            end.failed.update(gone)
            end.joined.extend(joined)
        self._choose_pickling(window.client, begin, end)
        if isinstance(end, str):
            return unavailable(end)
        self._timeouts.pop(window.client, None)
        return combine(begin, end, self._kernel)

    def discard(self, key: object) -> None:
        self._open.pop(key, None)

    # -- the round trips -----------------------------------------------------
    def _choose_pickling(self, client: Any, begin: Edge, end: Edge | str) -> None:
        """By reference from the next window on when every worker has this probe installed; back
        to by value as soon as a worker fails (one that joined without it)."""
        if isinstance(end, str) or begin.failed or end.failed:
            self._by_reference.pop(client, None)
            return
        if self._digest is None:
            self._digest = _digest(worker_probe) or "unknown"
        installed = [end.answers.get(a, answer).get("installed") for a, answer in begin.answers.items()]
        self._by_reference[client] = all(digest == self._digest for digest in installed)

    def _end_workers(self, window: _Window) -> tuple[list[str] | None, dict[str, str], list[str]]:
        """Where the end goes directly (None: through the scheduler), and the workers the scheduler
        dropped or added since the start: not asked (one that joined would wait for a start that
        never comes), said in the readings."""
        if window.workers is None:
            return None, {}, []
        now = direct.in_process_workers(window.client)
        if now is None:  # the cluster object lost its scheduler: ask the workers the start went to
            return window.workers, {}, []
        listed = set(now)
        gone = {a: "the scheduler no longer lists it" for a in window.workers if a not in listed}
        started = set(window.workers)
        return [a for a in window.workers if a in listed], gone, [a for a in now if a not in started]

    def _send(self, client: Any, token: str, ending: bool, workers: list[str] | None) -> Future[Any] | str:
        """Start ``worker_probe`` on the workers, from the client's own event loop: directly on
        ``workers`` (:mod:`.direct`), or on all of them with ``client.run`` when that is None."""
        import asyncio  # distributed, imported by the user, has imported it

        probe: ByValue | ByReference
        if self._by_reference.get(client):
            probe = self._reference
        else:
            if self._probe is None:
                self._probe = ByValue(worker_probe)  # a remote worker needs no nbprofile to run it
            probe = self._probe
        args = (token, ending, self._kernel_id)
        call: Coroutine[Any, Any, tuple[dict[str, Any], list[str] | None, list[str]]]
        try:
            if workers is not None:
                reachable = self._reachable.setdefault(client, set())
                refused = self._refused.get(client, set())
                straight = [a for a in workers if a in reachable and a not in refused]
                others = [a for a in workers if a not in reachable or a in refused]
                call = direct.send(client, straight, others, probe, args, self.timeout_s, ending, reachable)
            else:
                call = _through_scheduler(client.run(probe, *args, on_error="return", asynchronous=True,
                                                     callback_timeout=self.timeout_s))
            return asyncio.run_coroutine_threadsafe(call, client.loop.asyncio_loop)
        except Exception as exc:  # the cell must go on: its readings say what happened
            return f"client.run failed: {type(exc).__name__}: {exc}"

    def _answers(self, client: Any, sent: Future[Any], deadline: float) -> Edge | str:
        """Every worker's answer, or why there is none, waiting no later than ``deadline``."""
        try:
            results, relayed, refused = sent.result(timeout=max(deadline - time.monotonic(), 0.0))
        except Exception as exc:  # the cell must go on: its readings say what happened
            sent.cancel()
            if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
                self._timeouts[client] = self._timeouts.get(client, 0) + 1
                return f"the Dask workers did not answer within {self.timeout_s:g} s"
            if getattr(client, "status", None) != "running":
                return "the Dask client was closed during the cell"
            return f"client.run failed: {type(exc).__name__}: {exc}"
        if refused:  # reachable through the scheduler only: the next windows ask them that way at once
            self._refused.setdefault(client, set()).update(refused)
            self._reachable.get(client, set()).difference_update(refused)
        self.last_route = ("direct" if relayed == [] else
                           "client.run" if relayed is None or len(relayed) == len(results) else
                           f"direct, client.run for {len(relayed)}")
        if results and all(type(r).__name__ == "TimeoutError" for r in results.values()):
            self._timeouts[client] = self._timeouts.get(client, 0) + 1  # each direct message timed out
            return f"the Dask workers did not answer within {self.timeout_s:g} s"
        answers: dict[str, dict[str, Any]] = {}
        failed: dict[str, str] = {}
        for address, result in results.items():
            if isinstance(result, str):
                answers[str(address)] = json.loads(result)
            else:
                failed[str(address)] = f"{type(result).__name__}: {result}"
        if not answers and failed:
            return "no worker answered: " + "; ".join(f"{a}: {w}" for a, w in sorted(failed.items()))
        return Edge(answers, failed)

    def close(self) -> None:
        self._open.clear()
