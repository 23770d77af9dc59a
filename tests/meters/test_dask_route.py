"""The Dask meter's route to the workers: straight to each one when the scheduler is in this
process, through the scheduler (``client.run``) when a worker cannot be reached directly.

A LocalCluster of its own (two worker processes): one test breaks the client's direct
connections for a while, which the other module's tests should not share.
"""

from __future__ import annotations

import time
import warnings
from typing import Any, Iterator

import pytest

from nbprofile.meters.dask import DaskClusterMeter
from nbprofile.meters.dask.combine import Edge, combine
from nbprofile.readings import Readings

distributed = pytest.importorskip("distributed")


def busy(seconds: float) -> float:
    """Pure-Python work until this task's thread has used ``seconds`` of CPU; what it used."""
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return time.thread_time() - start


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own deprecation notices (pynvml shim, ports)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    client.wait_for_workers(2, timeout=60)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def broadcasts(client: Any) -> Iterator[list[str]]:
    """The ops the scheduler broadcast to its workers (what ``client.run`` asks it) while the test ran."""
    scheduler = client.cluster.scheduler
    original = scheduler.handlers["broadcast"]
    seen: list[str] = []

    async def counting(**message: Any) -> Any:
        seen.append(message["msg"]["op"])
        return await original(**message)

    scheduler.handlers["broadcast"] = counting
    yield seen
    scheduler.handlers["broadcast"] = original


def window_with_work(meter: DaskClusterMeter, client: Any, key: object, seconds: float = 0.3) -> Readings:
    """A window in which one task uses ``seconds`` of CPU on the first worker."""
    first = sorted(client.scheduler_info(n_workers=-1)["workers"])[0]
    meter.begin(key)
    # through the scheduler, a start travels on a new connection to each worker, and a task sent
    # at once on the scheduler's open streams can start before it (tens of ms under load)
    time.sleep(0.1 if meter.last_route != "direct" else 0.0)
    client.submit(busy, seconds, workers=[first], pure=False).result()
    return meter.end(key)


def assert_right(readings: Readings, seconds: float = 0.3) -> None:
    assert readings["cluster_workers"].value == 2 and readings["cluster_workers"].note is None
    assert readings["cluster_tasks"].value == 1
    cpu = readings["cluster_cpu_s"]
    assert cpu.method == "measured" and cpu.value == pytest.approx(seconds, rel=0.10), cpu
    assert readings["worker0_cpu_s"].value == pytest.approx(seconds, rel=0.10)
    rise = readings["cluster_rss_rise_bytes"]
    assert rise.method == "measured" and rise.value is not None, rise


def test_a_local_cluster_is_probed_directly_not_through_the_scheduler(client: Any,
                                                                      broadcasts: list[str]) -> None:
    """The first edge goes through the scheduler while the meter checks that it can connect to
    each worker; from then on, straight to the workers."""
    meter = DaskClusterMeter()
    assert_right(window_with_work(meter, client, "first"))
    assert broadcasts[:1] == ["run"]  # the first start, while the connections are checked
    first = list(broadcasts)
    for key in ("second", "third"):  # the third goes by reference: the workers have this probe installed
        readings = window_with_work(meter, client, key)
        assert meter.last_route == "direct"
        assert_right(readings)
    assert broadcasts == first  # the scheduler relayed nothing more
    client.run(abs, -1)
    assert broadcasts == [*first, "run"]  # and would have seen client.run's


def refuse(client: Any, monkeypatch: pytest.MonkeyPatch, workers: set[str]) -> None:
    """As behind a proxy: the client can reach the scheduler but not these workers."""
    connect = client.rpc.connect

    async def refused(address: str, timeout: float | None = None) -> Any:
        if address in workers:
            raise OSError("refused")
        return await connect(address, timeout=timeout)

    monkeypatch.setattr(client.rpc, "connect", refused)


def test_workers_the_client_cannot_reach_directly_are_asked_through_the_scheduler(
        client: Any, broadcasts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    workers = set(client.scheduler_info(n_workers=-1)["workers"])
    refuse(client, monkeypatch, workers)
    meter = DaskClusterMeter()
    for key in ("first", "second"):
        assert_right(window_with_work(meter, client, key))
        assert meter.last_route == "client.run"
    assert broadcasts == ["run"] * 4  # each edge of each window


def test_a_direct_connection_that_fails_later_falls_back_to_the_scheduler(
        client: Any, broadcasts: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    """Workers reached directly until their connections fail: that window's starts are read
    through the scheduler, late, and the totals say so; the next windows ask those workers
    through the scheduler from the start, and their readings are right again."""
    meter = DaskClusterMeter()
    for key in ("first", "second"):
        window_with_work(meter, client, key)
    assert meter.last_route == "direct"
    workers = set(client.scheduler_info(n_workers=-1)["workers"])
    refuse(client, monkeypatch, workers)
    del broadcasts[:]
    readings = window_with_work(meter, client, "refused")
    cpu = readings["cluster_cpu_s"]
    assert cpu.value is None and "2 workers not measured over the whole cell" in (cpu.note or "")
    assert "ms late, through the scheduler after the direct connection failed" in (cpu.note or ""), cpu
    assert meter.last_route == "client.run" and broadcasts == ["run", "run"]
    readings = window_with_work(meter, client, "after")
    assert meter.last_route == "client.run" and broadcasts == ["run"] * 4
    assert_right(readings)


def test_a_worker_that_cannot_be_reached_either_way_is_unavailable_with_both_reasons(
        client: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    first = sorted(client.scheduler_info(n_workers=-1)["workers"])[0]

    async def no_relay(*args: Any, **kwargs: Any) -> Any:
        raise OSError("the scheduler is unreachable")

    meter = DaskClusterMeter()
    window_with_work(meter, client, "reached")
    refuse(client, monkeypatch, {first})
    monkeypatch.setattr(client, "run", no_relay)
    meter.begin("cell")
    readings = meter.end("cell")
    cpu = readings["cluster_cpu_s"]
    assert cpu.value is None and cpu.method == "unavailable"
    assert first in (cpu.note or "") and "directly: OSError: refused" in (cpu.note or "")
    assert "through the scheduler: OSError: the scheduler is unreachable" in (cpu.note or "")
    assert readings["cluster_workers"].value == 1  # the other worker is still measured


def test_workers_the_scheduler_added_or_dropped_during_the_cell_are_said_not_counted() -> None:
    began = {"sent": True}  # a start sent directly: the worker's end says whether it arrived
    ended = {"pid": 1, "host": "h", "began": True, "cpu": 1.5, "loop_cpu": 0.0, "tasks": 2, "sent": 0,
             "rss_start": 100, "rss": 110, "peak": 120, "peak_error": None}
    readings = combine(Edge({"a": began}), Edge({"a": ended}, joined=["b"]))
    assert readings["cluster_cpu_s"].value == 1.5 and readings["cluster_workers"].value == 1
    assert readings["cluster_workers"].note == "1 worker joined during the cell and is not counted: b"
    dropped = {"c": "the scheduler no longer lists it"}
    gone = combine(Edge({"a": began, "c": began}), Edge({"a": ended}, dropped))
    assert gone["cluster_cpu_s"].value is None
    assert "c: the scheduler no longer lists it" in (gone["cluster_cpu_s"].note or "")
    late = combine(Edge({"a": began}), Edge({"a": {"pid": 1, "host": "h", "began": False, "waited": 0.5}}))
    assert "its start did not arrive within 0.5 s of the cell's end" in (late["cluster_cpu_s"].note or "")
