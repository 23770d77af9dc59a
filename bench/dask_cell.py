"""A cell that uses a Dask cluster: the latency the cluster meter adds, and how right its CPU time is.

A ``LocalCluster`` of 2 worker processes (1 thread each) and its client, in this process.

Latency: a trivial cell (``pass``), and a cell that sleeps 50 ms, in an in-process IPython
shell with nbprofile loaded, the Dask meter on and off in turns (blocks of cells, a new order
each round); *added* is a round's median cell with the meter minus its median without. The
begin's round trip is not waited for, so a cell longer than a round trip pays for one (the
end's); a trivial cell pays for the two at once. Beside them: the meter's own begin + end
in a loop, its end alone 50 ms after its begin (what a longer cell pays), one bare
``client.run`` of a function that does nothing, the floor a round trip through the scheduler
costs here, and the same sent straight to each worker over the client's pooled connections
(the meter's route on a ``LocalCluster``), each back to back and after 50 ms of quiet, as a
cell's end finds the cluster (a round trip to processes that have been idle is slower).
Target: one round trip per cell, ≤ 5 ms added.

Accuracy: windows around 2 s of pure-Python work on each worker (each task spins until its
thread has used the CPU time asked for, and returns what it used); ``cluster_cpu_s`` against
the tasks' own sum, and the workers' whole-process CPU (``cluster_process_cpu_s``, which also
holds their event loops' upkeep) beside it. Target: within 10 %.

    python bench/dask_cell.py [--rounds 20] [--cells 25] [--busy 2.0] [--repeats 3] [--route client.run]
"""

from __future__ import annotations

import argparse
import io
import statistics
import time
import warnings
from contextlib import redirect_stdout
from typing import Any

from _common import make_shell, print_table, rotated, temp_store, write_result

TARGET_ADDED_MS = 5.0
TARGET_CPU_ERROR = 0.10


def busy(seconds: float) -> float:
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return time.thread_time() - start


def noop() -> None:
    return None


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(values: list[float]) -> tuple[str, str]:
    return f"{statistics.median(values) * 1e3:.2f}", f"{percentile(values, 0.9) * 1e3:.2f}"


def direct_noop(client: Any) -> Any:
    """A function that runs ``noop`` on every worker straight over the client's pooled comms (the
    meter's direct route, without the probe), and waits for the answers."""
    import asyncio

    from distributed.protocol.pickle import dumps  # as client.run pickles: this script's noop by value

    workers = sorted(client.scheduler_info(n_workers=-1)["workers"])
    function, args = dumps(noop), dumps(())

    async def each() -> list[Any]:
        return await asyncio.gather(*(client.rpc(w).run(function=function, args=args, wait=True)
                                      for w in workers))

    def call() -> None:
        asyncio.run_coroutine_threadsafe(each(), client.loop.asyncio_loop).result(5)

    return call


def dask_meter_switch(shell: Any, direct: bool) -> tuple[Any, Any]:
    """Functions that switch the loaded profiler's Dask meter on and off (the engine's own switch);
    ``direct`` False sends its edges through the scheduler (``client.run``) even on a LocalCluster."""
    from nbprofile.engine import current
    from nbprofile.meters.dask import DaskClusterMeter

    profiler = current.current()
    assert profiler is not None
    windows = profiler.windows
    meter = windows.find(DaskClusterMeter)
    assert meter is not None
    meter.direct = direct

    def on() -> None:
        windows.disabled.pop(meter.name, None)
        windows.order_meters()

    def off() -> None:
        windows.disabled[meter.name] = "switched off by the benchmark"
        windows.order_meters()

    return on, off


CELLS = {"pass": "trivial cell", "import time; time.sleep(0.05)": "50 ms cell"}


def cell_times(shell: Any, cells: int, code: str = "pass") -> list[float]:
    times = []
    with redirect_stdout(io.StringIO()):
        for _ in range(cells):
            t0 = time.perf_counter()
            shell.run_cell(code, store_history=True)
            times.append(time.perf_counter() - t0)
    return times


def latency(client: Any, rounds: int, cells: int, direct: bool) -> dict[str, Any]:
    from nbprofile.meters.dask import DaskClusterMeter

    temp_store()
    shell = make_shell()
    with redirect_stdout(io.StringIO()):
        shell.run_line_magic("load_ext", "nbprofile")
        shell.run_line_magic("nbprofile", "footer compact")
    on, off = dask_meter_switch(shell, direct)
    meter = DaskClusterMeter(direct=direct)
    modes = {"meter on": on, "meter off": off}
    cell: dict[tuple[str, str], list[float]] = {(code, m): [] for code in CELLS for m in modes}
    added: dict[str, list[float]] = {code: [] for code in CELLS}
    edges: list[float] = []
    bare: list[float] = []
    bare_idle: list[float] = []
    straight: list[float] = []
    ends: list[float] = []
    straight_idle: list[float] = []
    bare_direct = direct_noop(client)
    for r in range(rounds):
        for code in CELLS:
            n = cells if code == "pass" else max(cells // 3, 3)
            medians = {}
            for name in rotated(list(modes), r):
                modes[name]()
                cell_times(shell, 3, code)  # untimed: the switch settles
                times = cell_times(shell, n, code)
                cell[code, name] += times
                medians[name] = statistics.median(times)
            added[code].append(medians["meter on"] - medians["meter off"])
        for i in range(cells):
            t0 = time.perf_counter()
            meter.begin(i)
            meter.end(i)
            edges.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            client.run(noop)
            bare.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            bare_direct()
            straight.append(time.perf_counter() - t0)
        for _ in range(max(cells // 3, 3)):  # as a cell's end finds the cluster: idle for 50 ms
            time.sleep(0.05)
            t0 = time.perf_counter()
            client.run(noop)
            bare_idle.append(time.perf_counter() - t0)
            time.sleep(0.05)
            t0 = time.perf_counter()
            bare_direct()
            straight_idle.append(time.perf_counter() - t0)
            meter.begin("idle")
            time.sleep(0.05)
            t0 = time.perf_counter()
            meter.end("idle")
            ends.append(time.perf_counter() - t0)
    on()
    with redirect_stdout(io.StringIO()):
        shell.run_line_magic("unload_ext", "nbprofile")
    rows = []
    for code, label in CELLS.items():
        rows += [(f"{label}, Dask meter off", *ms(cell[code, "meter off"])),
                 (f"{label}, Dask meter on", *ms(cell[code, "meter on"])),
                 (f"{label}: added (per round, on - off)", *ms(added[code]))]
    rows += [("the meter's begin + end, back to back", *ms(edges)),
             ("the meter's end, 50 ms after its begin", *ms(ends)),
             ("one bare client.run(noop), back to back", *ms(bare)),
             ("one bare client.run(noop) after 50 ms idle", *ms(bare_idle)),
             ("one bare direct run(noop), back to back", *ms(straight)),
             ("one bare direct run(noop) after 50 ms idle", *ms(straight_idle))]
    print_table(["2 workers, LocalCluster", "median ms", "p90 ms"], rows,
                f"latency, {'direct' if direct else 'through the scheduler'}: {rounds} rounds x {cells} "
                f"cells per mode; target <= {TARGET_ADDED_MS:g} ms added")
    return {"added_ms": {CELLS[c]: [a * 1e3 for a in v] for c, v in added.items()}, "rows": rows,
            "target_added_ms": TARGET_ADDED_MS}


def no_client_cost(stage: str, windows: int = 200_000) -> float:
    """ns per begin + end of the Dask meter when there is no client."""
    from nbprofile.meters.dask import DaskClusterMeter

    meter = DaskClusterMeter()
    t0 = time.perf_counter()
    for i in range(windows):
        meter.begin(i)
        meter.end(i)
    cost = (time.perf_counter() - t0) / windows * 1e9
    print(f"no client, {stage}: {cost:.0f} ns per cell (begin + end)")
    return cost


def accuracy(client: Any, seconds: float, repeats: int) -> dict[str, Any]:
    from nbprofile.meters.dask import DaskClusterMeter

    meter = DaskClusterMeter()
    workers = sorted(client.scheduler_info()["workers"])
    rows, runs = [], []
    for i in range(repeats):
        meter.begin(i)
        t0 = time.perf_counter()
        used = sum(client.gather([client.submit(busy, seconds, workers=[w], pure=False) for w in workers]))
        wall = time.perf_counter() - t0
        readings = meter.end(i)
        cpu, process = readings["cluster_cpu_s"].value, readings["cluster_process_cpu_s"].value
        assert cpu is not None and process is not None, readings
        runs.append({"tasks_s": used, "cluster_cpu_s": cpu, "cluster_process_cpu_s": process, "wall_s": wall})
        rows.append((f"run {i + 1}", f"{used:.3f}", f"{cpu:.3f}", f"{(cpu / used - 1) * 100:+.2f}%",
                     f"{process:.3f}", f"{(process / used - 1) * 100:+.2f}%", f"{wall:.2f}"))
    print_table(["", "tasks' CPU s", "cluster_cpu_s", "error", "process CPU s", "error", "wall s"], rows,
                f"accuracy: {seconds:g} s of work on each of {len(workers)} workers; target within "
                f"{TARGET_CPU_ERROR:.0%}")
    return {"runs": runs, "target_error": TARGET_CPU_ERROR}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--cells", type=int, default=25, help="timed cells per mode per round")
    parser.add_argument("--busy", type=float, default=2.0, help="seconds of CPU per worker per accuracy run")
    parser.add_argument("--repeats", type=int, default=3, help="accuracy runs")
    parser.add_argument("--route", choices=["direct", "client.run"], default="direct",
                        help="the meter's route to the workers (client.run: through the scheduler, as "
                             "with a remote one)")
    args = parser.parse_args()

    costs = {"distributed not imported": no_client_cost("distributed not imported")}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # distributed's own notices (the pynvml shim, ports)
        from distributed import Client, LocalCluster

        costs["distributed imported"] = no_client_cost("distributed imported")

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
        client = Client(cluster)
    try:
        client.run(noop)
        result = {"no_client_ns": costs, "route": args.route,
                  "latency": latency(client, args.rounds, args.cells, args.route == "direct"),
                  "accuracy": accuracy(client, args.busy, args.repeats)}
    finally:
        client.close()
        cluster.close()
    write_result("dask_cell" if args.route == "direct" else "dask_cell_client_run", result)


if __name__ == "__main__":
    main()
