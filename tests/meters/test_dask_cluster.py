"""The Dask cluster meter against a real LocalCluster: two worker processes, one thread each.

One cluster for the module (starting one takes seconds on CI's two cores); each test gets the
client once both workers are up again (the worker-death test leaves the nanny restarting one).
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from typing import Any, Iterator

import pytest

from nbprofile.meters.dask import DaskClusterMeter
from nbprofile.meters.dask.combine import Edge, combine
from nbprofile.meters.dask.combine import unavailable as unavailable_readings
from nbprofile.readings import Readings

distributed = pytest.importorskip("distributed")

MiB = 1024**2
#: a rise can be a little under what a task allocated: the allocator reuses pages the worker already held
HELD = 0.95 * 300 * MiB


def busy(seconds: float) -> float:
    """Pure-Python work until this task's thread has used ``seconds`` of CPU; what it used."""
    start = time.thread_time()
    n = 0
    while time.thread_time() - start < seconds:
        n += 1
    return time.thread_time() - start


def allocate(nbytes: int) -> int:
    """Hold ``nbytes`` of touched memory for a moment, then free it."""
    block = b"\x01" * nbytes
    time.sleep(0.05)
    size = len(block)
    del block
    return size


@pytest.fixture(scope="module")
def shared_client() -> Iterator[Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own deprecation notices (pynvml shim, ports)
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None)
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture
def client(shared_client: Any) -> Any:
    shared_client.wait_for_workers(2, timeout=60)
    return shared_client


def workers(client: Any) -> list[str]:
    return sorted(client.scheduler_info(n_workers=-1)["workers"])


def run_window(meter: DaskClusterMeter, key: object, work: Any) -> Readings:
    meter.begin(key)
    work()
    return meter.end(key)


def test_two_seconds_of_work_on_each_of_two_workers_is_four_seconds_of_cluster_cpu(client: Any) -> None:
    meter = DaskClusterMeter()
    assert meter.probe().available
    addresses = workers(client)
    used: list[float] = []

    def work() -> None:
        futures = [client.submit(busy, 2.0, workers=[a], pure=False) for a in addresses]
        used.extend(client.gather(futures))

    readings = run_window(meter, "cell", work)
    total = readings["cluster_cpu_s"]
    assert total.method == "measured" and total.value is not None
    assert total.value == pytest.approx(4.0, rel=0.10) and total.value == pytest.approx(sum(used), rel=0.10)
    # the whole processes: the tasks and the workers' event loops, busy or not, as long as the cell ran
    process = readings["cluster_process_cpu_s"]
    assert process.value is not None and process.value >= total.value
    assert readings["cluster_workers"].value == 2
    assert readings["cluster_tasks"].value == 2
    for i, address in enumerate(addresses):
        own = readings[f"worker{i}_cpu_s"]
        assert own.note == f"worker {address}" and own.value == pytest.approx(2.0, rel=0.10)
        assert readings[f"worker{i}_tasks"].value == 1
    sent = readings["cluster_sent_bytes"]
    assert sent.value is not None and sent.value > 0 and sent.method == "estimated"  # the results came back


def test_the_task_count_is_the_number_of_tasks_submitted(client: Any) -> None:
    meter = DaskClusterMeter()
    readings = run_window(meter, "cell", lambda: client.gather(client.map(abs, range(-7, 0), pure=False)))
    assert readings["cluster_tasks"].value == 7
    assert readings["worker0_tasks"].value + readings["worker1_tasks"].value == 7


def test_a_task_that_allocates_300_mib_shows_in_its_workers_peak(client: Any) -> None:
    meter = DaskClusterMeter()
    first, second = workers(client)
    readings = run_window(meter, "cell",
                          lambda: client.submit(allocate, 300 * MiB, workers=[first], pure=False).result())
    rise, other = readings["worker0_rss_rise_bytes"], readings["worker1_rss_rise_bytes"]
    assert readings["worker0_cpu_s"].note == f"worker {first}"
    assert rise.method == "measured" and rise.value is not None and rise.value >= HELD, rise
    assert other.value is not None and other.value < 50 * MiB, other  # the idle worker did not rise
    peak = readings["worker0_rss_peak_bytes"]
    assert peak.value is not None and peak.value >= 300 * MiB and peak.value >= rise.value + 10 * MiB
    assert readings["cluster_rss_rise_bytes"].value >= HELD
    assert readings["cluster_rss_peak_bytes"].value == peak.value + readings["worker1_rss_peak_bytes"].value


def test_nested_windows_each_get_their_own_peak(client: Any) -> None:
    """An inner window resets the workers' high-water mark; the outer one still sees its earlier peak."""
    meter = DaskClusterMeter()
    first, _ = workers(client)
    meter.begin("outer")
    client.submit(allocate, 300 * MiB, workers=[first], pure=False).result()
    meter.begin("inner")
    client.submit(abs, -1, workers=[first], pure=False).result()
    inner = meter.end("inner")
    outer = meter.end("outer")
    assert inner["worker0_rss_rise_bytes"].value < 50 * MiB, inner["worker0_rss_rise_bytes"]
    assert outer["worker0_rss_rise_bytes"].value >= HELD, outer["worker0_rss_rise_bytes"]
    assert (inner["cluster_tasks"].value, outer["cluster_tasks"].value) == (1, 2)


def test_a_client_closed_during_the_cell_gives_reasons_not_an_exception(client: Any) -> None:
    meter = DaskClusterMeter()
    second = distributed.Client(client.scheduler.address)  # the newest client is the default one
    try:
        meter.begin("cell")
        second.close()
        readings = meter.end("cell")
    finally:
        second.close()
    cpu = readings["cluster_cpu_s"]
    assert cpu.value is None and cpu.method == "unavailable" and "closed" in (cpu.note or "")
    assert all(r.value is None for r in readings.values())


def test_workers_that_do_not_answer_cost_the_cell_only_the_timeout(client: Any) -> None:
    """A worker whose event loop is stuck: each edge waits the timeout and says so; after three
    timeouts in a row the meter stops asking that client."""
    meter = DaskClusterMeter(timeout_s=0.3)
    stuck = threading.Thread(target=client.run, args=(time.sleep, 3.0), daemon=True)
    stuck.start()  # a plain function given to client.run runs on the workers' event loops
    time.sleep(0.2)
    for attempt in range(3):
        t0 = time.perf_counter()
        readings = run_window(meter, attempt, lambda: None)
        assert time.perf_counter() - t0 < 1.5
        cpu = readings["cluster_cpu_s"]
        assert cpu.value is None and "did not answer within 0.3 s" in (cpu.note or ""), cpu
    t0 = time.perf_counter()
    readings = run_window(meter, "fourth", lambda: None)
    assert time.perf_counter() - t0 < 0.05
    assert "not asked again" in (readings["cluster_cpu_s"].note or "")
    stuck.join()


def test_a_worker_that_dies_during_the_cell_makes_the_totals_unavailable(client: Any) -> None:
    meter = DaskClusterMeter()
    pids = client.run(os.getpid)
    victim = sorted(pids)[0]
    meter.begin("cell")
    os.kill(pids[victim], signal.SIGKILL)
    deadline = time.monotonic() + 20
    while victim in client.scheduler_info(n_workers=-1)["workers"] and time.monotonic() < deadline:
        time.sleep(0.05)
    readings = meter.end("cell")
    cpu = readings["cluster_cpu_s"]
    assert cpu.value is None and "1 worker not measured over the whole cell" in (cpu.note or "")
    assert victim in (cpu.note or "")
    assert readings["cluster_tasks"].value is None
    assert readings["cluster_workers"].value == 1  # the survivor is still measured, on its own
    survivor = readings["worker0_cpu_s"]
    assert survivor.value is not None and survivor.note != f"worker {victim}"


def began(pid: int = 1, host: str = "there") -> dict[str, Any]:
    """A worker's answer to a window's start."""
    return {"pid": pid, "host": host, "began": True}


def ended(pid: int = 1, cpu: float = 0.0, tasks: int = 0, gpu: dict[str, Any] | None = None,
          host: str = "there") -> dict[str, Any]:
    """A worker's answer to a window's end: what changed on it since the start."""
    return {"pid": pid, "host": host, "began": True, "cpu": cpu, "loop_cpu": 0.0, "tasks": tasks, "sent": 0,
            "rss_start": 100, "rss": 110, "peak": 120, "peak_error": None, "gpu": gpu}


def test_a_worker_that_joins_during_the_cell_is_not_counted() -> None:
    begin = Edge({"tcp://a:1": began(1)})
    end = Edge({"tcp://a:1": ended(1, 2.5, 3), "tcp://b:2": {**began(2), "began": False}})
    readings = combine(begin, end)
    assert readings["cluster_cpu_s"].value == 2.5 and readings["cluster_tasks"].value == 3
    assert readings["cluster_workers"].value == 1
    assert "1 worker joined during the cell and is not counted: tcp://b:2" == readings["cluster_workers"].note
    assert readings["worker0_rss_rise_bytes"].value == 20 and readings["cluster_rss_peak_bytes"].value == 120
    # the same address in a new process: a restarted worker took the cell's start with it
    restarted = combine(begin, Edge({"tcp://a:1": {**began(7), "began": False}}))
    assert restarted["cluster_cpu_s"].value is None and "restarted" in (restarted["cluster_cpu_s"].note or "")
    # a start that reached the worker only after the cell's end (it gave up waiting for it)
    late = combine(Edge({"tcp://a:1": {**began(1), "late": True}}),
                   Edge({"tcp://a:1": {**began(1), "began": False}}))
    assert "arrived after the cell's end" in (late["cluster_cpu_s"].note or "")


def test_gpu_energy_counts_each_device_once() -> None:
    # two workers on one machine see both of its GPUs: 50 J on one, 20 J on the other, not 140 J
    change = {"GPU-0": 50_000, "GPU-1": 20_000}
    begin = Edge({"a": began(1), "b": began(2)})
    energy = combine(begin, Edge({"a": ended(1, gpu=change), "b": ended(2, gpu=dict(change))}))
    reading = energy["cluster_gpu_energy_j"]
    assert reading.value == 70.0 and reading.method == "measured"
    assert (reading.note or "").startswith("2 devices")
    no_counter = Edge({"a": ended(1, gpu={"GPU-0": "NVML energy counter: Not Supported"})})
    failed = combine(Edge({"a": began(1)}), no_counter)["cluster_gpu_energy_j"]
    assert failed.value is None and "Not Supported" in (failed.note or "")
    assert "cluster_gpu_energy_j" not in combine(Edge({"a": began(1)}), Edge({"a": ended(1, gpu={})}))


NO_CLIENT = """
import sys
from nbprofile.engine.assembly import default_meters
from nbprofile.meters.dask import DaskClusterMeter
meter = next(m for m in default_meters() if isinstance(m, DaskClusterMeter))
meter.probe(); meter.begin("cell"); first = meter.end("cell")
imported = "distributed" in sys.modules
import distributed  # imported by the user, but no client made
meter.begin("cell"); second = meter.end("cell")
print(first, imported, second)
"""


def test_without_a_client_there_are_no_readings_and_distributed_is_not_imported() -> None:
    out = subprocess.run([sys.executable, "-c", NO_CLIENT], capture_output=True, text=True, timeout=120,
                         check=True)
    assert out.stdout.split() == ["{}", "False", "{}"], out


WITHOUT_NBPROFILE = """
import asyncio, json, pickle, sys
sys.modules["nbprofile"] = None  # a remote worker without nbprofile: importing it fails
probe = pickle.loads(sys.stdin.buffer.read())
class Worker:
    address = "tcp://w:1"
worker = Worker()
begin = json.loads(asyncio.run(probe("k:1", False, dask_worker=worker)))
end = json.loads(asyncio.run(probe("k:1", True, dask_worker=worker)))
print(sorted(end), begin["began"] and end["began"] and end["cpu"] >= 0, end.get("peak", 0) >= end["rss"] > 0)
"""


def test_the_probe_runs_on_a_worker_without_nbprofile(client: Any) -> None:
    """What client.run sends is the probe by value: the worker needs only the standard library."""
    from distributed.protocol.pickle import dumps

    from nbprofile.meters.dask.meter import ByValue
    from nbprofile.meters.dask.probe import worker_probe

    sent = dumps(ByValue(worker_probe))  # as client.run pickles what the meter gives it
    assert len(sent) > 1000  # the code itself, not a reference to nbprofile's module
    assert dumps(worker_probe) != sent and len(dumps(worker_probe)) < 200  # nothing registered for good
    out = subprocess.run([sys.executable, "-c", WITHOUT_NBPROFILE], input=sent, capture_output=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    words = out.stdout.decode().split("] ")
    assert "'cpu'" in words[0] and "'peak'" in words[0] and words[1].split() == ["True", "True"], out.stdout


def test_workers_in_the_kernels_process_leave_their_cpu_and_memory_to_the_kernels_readings() -> None:
    """``LocalCluster(processes=False)``: the workers are threads of the kernel's own process."""
    begin = Edge({"a": began(42, "here")})
    readings = combine(begin, Edge({"a": ended(42, 3.0, 3, host="here")}), kernel=("here", 42))
    assert readings["cluster_tasks"].value == 3
    cpu = readings["cluster_cpu_s"]
    assert cpu.value is None and "in the kernel's own readings" in (cpu.note or "")
    assert readings["cluster_rss_peak_bytes"].value is None
    both = Edge({"a": began(42, "here"), "b": began(42, "here")})
    two = combine(both, Edge({"a": ended(42, 3.0, 3, host="here"), "b": ended(42, 1.0, 1, host="here")}))
    assert "several workers share" in (two["cluster_cpu_s"].note or "") and two["cluster_tasks"].value == 4


def test_workers_with_the_same_probe_installed_get_it_by_reference(client: Any) -> None:
    """After one window the probe travels as a reference to the workers' own copy (a few bytes
    instead of its code), and the readings are the same; a worker with another copy, or none,
    gets it by value again."""
    meter = DaskClusterMeter()
    run_window(meter, "first", lambda: None)
    assert meter._by_reference.get(client) is True  # the LocalCluster's workers import this very file
    readings = run_window(meter, "second", lambda: client.submit(busy, 0.3, pure=False).result())
    assert readings["cluster_tasks"].value == 1
    assert readings["cluster_cpu_s"].value == pytest.approx(0.3, rel=0.10)
    meter._choose_pickling(client, Edge({"tcp://a:1": {**began(1), "installed": "another"}}), Edge({}))
    assert not meter._by_reference.get(client)


def test_the_footer_puts_the_clusters_cpu_beside_the_kernels() -> None:
    from nbprofile.readings import Reading
    from nbprofile.record import CellRecord
    from nbprofile.report.footer import footer_text

    def record(readings: Readings) -> CellRecord:
        readings = {"wall_s": Reading(1.2, "s", "measured", "perf_counter_ns"),
                    "cpu_s": Reading(0.4, "s", "measured", "getrusage"), **readings}
        return CellRecord(run_id="r", seq=1, notebook="/nb.ipynb", cell_id="c", execution_count=1,
                          code_hash="h", source="x", started_at=time.time(), status="ok", error_type=None,
                          readings=readings, overhead_s=1e-4)

    measured = combine(Edge({"a": began(1), "b": began(2)}),
                       Edge({"a": ended(1, 20.0, 40), "b": ended(2, 11.2, 19)}))
    shares = "1.20 s wall · kernel 400 ms CPU · cluster 31.2 s CPU on 2 workers"
    assert footer_text(record(measured)) == shares
    assert "59 tasks" in footer_text(record(measured), "full")
    closed = footer_text(record(unavailable_readings("the Dask client was closed during the cell")))
    assert closed == "1.20 s wall · kernel 400 ms CPU · cluster CPU n/a"
    assert footer_text(record({})) == "1.20 s wall · 400 ms CPU"  # no client: the footer of old


def test_an_end_that_reaches_a_worker_before_its_begin_waits_for_it() -> None:
    """The two edges travel separately and can cross; the worker's end waits for its begin."""
    import asyncio
    import json

    from nbprofile.meters.dask.probe import worker_probe

    class Worker:
        address = "tcp://w:1"

    worker = Worker()

    async def crossed() -> tuple[dict[str, Any], dict[str, Any]]:
        end = asyncio.create_task(worker_probe("k:1", True, dask_worker=worker))
        await asyncio.sleep(0.05)
        begin = await worker_probe("k:1", False, dask_worker=worker)
        return json.loads(begin), json.loads(await end)

    begin, end = asyncio.run(crossed())
    assert begin["began"] and end["began"] and end["cpu"] >= 0 and end["rss"] > 0
    # an end whose begin never comes gives up, and a begin arriving after that does nothing
    t0 = time.perf_counter()
    gave_up = json.loads(asyncio.run(worker_probe("k:2", True, dask_worker=worker)))
    assert gave_up["began"] is False and 0.4 < time.perf_counter() - t0 < 2
    assert json.loads(asyncio.run(worker_probe("k:2", False, dask_worker=worker))).get("late") is True


def test_workers_inside_the_kernel_leave_its_peak_memory_alone(client: Any) -> None:
    """``processes=False``: the workers' probes run in the kernel's process and must not reset
    the high-water mark the kernel's own memory meter reads."""
    from nbprofile.meters.memory import PeakRss

    kernel_memory = PeakRss()
    assert kernel_memory.probe().available
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=1, processes=False, dashboard_address=None)
        inside = distributed.Client(cluster)  # the newest client: the default one
    try:
        meter = DaskClusterMeter()
        kernel_memory.begin("cell")
        block = b"\x01" * (200 * MiB)
        del block
        readings = run_window(meter, "cell", lambda: inside.submit(abs, -1, pure=False).result())
        peak = kernel_memory.end("cell")["rss_rise_bytes"]
    finally:
        inside.close()
        cluster.close()
    assert peak.value is not None and peak.value >= 0.95 * 200 * MiB, peak
    assert readings["cluster_tasks"].value == 1
    assert "kernel's process" in (readings["cluster_cpu_s"].note or "")
