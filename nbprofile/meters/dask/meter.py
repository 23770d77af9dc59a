"""The Dask cluster meter: the workers of the kernel's ``distributed.Client``, at each cell's edges.

No cost without a client: ``begin`` looks only in ``sys.modules`` for ``distributed.client``
(nbprofile never imports distributed) and, when the user has imported it, asks for the
default client (what ``distributed.default_client`` returns, through the function it calls,
which answers None instead of raising; before that, an empty registry of clients says there
is none in well under a microsecond). A client that is not running (closing,
closed, reconnecting) or is asynchronous (its calls must be awaited) is left alone.

With one: ``client.run(worker_probe, ...)`` on every worker at each edge. The begin's call is
sent on the client's event loop and not waited for: the cell starts at once and the answers
come back while it runs. The end sends its call and then waits for both answers, together
bounded by :attr:`DaskClusterMeter.timeout_s` (well inside the engine's hang guard): one round
trip per cell once the cell outlasts a round trip. The two calls may reach a worker in either
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
from nbprofile.meters.dask.combine import TOTAL_KEYS, Edge, combine, unavailable
from nbprofile.meters.dask.probe import host, worker_probe
from nbprofile.readings import Availability, Readings

if TYPE_CHECKING:
    from concurrent.futures import Future

DEFAULT_TIMEOUT_S = 1.0
GIVE_UP_AFTER = 3


@dataclass
class _Window:
    client: Any
    token: str
    begin: Future[Any] | str  #: the workers' answers to the start, on their way, or why there are none


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

    def __init__(self, timeout_s: float = DEFAULT_TIMEOUT_S) -> None:
        self.timeout_s = timeout_s
        #: the engine's hang guard lets a call of this meter run this long (its own timeout, and some)
        self.guard_timeout_s = timeout_s + 1.0
        self._open: dict[object, _Window] = {}
        self._timeouts: weakref.WeakKeyDictionary[Any, int] = weakref.WeakKeyDictionary()
        self._probe: ByValue | None = None
        self._reference = ByReference(worker_probe)
        self._digest: str | None = None
        #: clients whose workers all have this very probe installed: it goes by reference
        self._by_reference: weakref.WeakKeyDictionary[Any, bool] = weakref.WeakKeyDictionary()
        self._id = os.urandom(6).hex()  # this kernel's windows, apart from other kernels' on one cluster
        self._tokens = itertools.count()
        self._kernel = (host(), os.getpid())
        self._kernel_id = f"{self._kernel[0]}/{self._kernel[1]}"  # to tell workers in this very process apart

    def probe(self) -> Availability:
        state = "imported" if "distributed" in sys.modules else "not imported"
        return Availability(True, "the workers of a distributed.Client, when one exists "
                                  f"(distributed {state}): CPU time, peak RSS, tasks, data sent, GPU energy; "
                                  "one client.run per edge")

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
        self._open[key] = _Window(client, token, self._send(client, token, False))

    def end(self, key: object) -> Readings:
        window = self._open.pop(key, None)
        if window is None:  # no client when the cell began: no cluster readings at all
            return {}
        if isinstance(window.begin, str):
            return unavailable(window.begin)
        if getattr(window.client, "status", None) != "running":
            return unavailable("the Dask client was closed during the cell")
        sent = self._send(window.client, window.token, True)
        deadline = time.monotonic() + self.timeout_s
        begin = self._answers(window.client, window.begin, deadline)
        if isinstance(begin, str):
            if not isinstance(sent, str):
                sent.cancel()
            return unavailable(begin)
        end = sent if isinstance(sent, str) else self._answers(window.client, sent, deadline)
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
        self._by_reference[client] = all(a.get("installed") == self._digest for a in begin.answers.values())

    def _send(self, client: Any, token: str, ending: bool) -> Future[Any] | str:
        """Start ``worker_probe`` on every worker (``client.run`` on the client's own event loop)."""
        import asyncio  # distributed, imported by the user, has imported it

        probe: ByValue | ByReference
        if self._by_reference.get(client):
            probe = self._reference
        else:
            if self._probe is None:
                self._probe = ByValue(worker_probe)  # a remote worker needs no nbprofile to run it
            probe = self._probe
        try:
            call = client.run(probe, token, ending, self._kernel_id, on_error="return", asynchronous=True,
                              callback_timeout=self.timeout_s)
            return asyncio.run_coroutine_threadsafe(call, client.loop.asyncio_loop)
        except Exception as exc:  # the cell must go on: its readings say what happened
            return f"client.run failed: {type(exc).__name__}: {exc}"

    def _answers(self, client: Any, sent: Future[Any], deadline: float) -> Edge | str:
        """Every worker's answer, or why there is none, waiting no later than ``deadline``."""
        try:
            results = sent.result(timeout=max(deadline - time.monotonic(), 0.0))
        except Exception as exc:  # the cell must go on: its readings say what happened
            sent.cancel()
            if isinstance(exc, TimeoutError) or type(exc).__name__ == "TimeoutError":
                self._timeouts[client] = self._timeouts.get(client, 0) + 1
                return f"the Dask workers did not answer within {self.timeout_s:g} s"
            if getattr(client, "status", None) != "running":
                return "the Dask client was closed during the cell"
            return f"client.run failed: {type(exc).__name__}: {exc}"
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
