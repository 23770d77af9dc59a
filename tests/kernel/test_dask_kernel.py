"""A notebook that sends work to a Dask LocalCluster, through a real kernel: the footer shows the
cluster's CPU beside the kernel's, and the record holds what the workers did."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from nbprofile.store import SQLiteStore

pytest.importorskip("distributed")
pytestmark = pytest.mark.kernel

START = """
import warnings
warnings.simplefilter("ignore")  # distributed's own notices (ports, the pynvml shim)
from distributed import Client, LocalCluster
cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None)
client = Client(cluster)
"""
BUSY = """
import time
def busy(seconds):
    start = time.thread_time()
    while time.thread_time() - start < seconds:
        pass
    return time.thread_time() - start
workers = sorted(client.scheduler_info()["workers"])
used = client.gather([client.submit(busy, 1.0, workers=[w], pure=False) for w in workers])
print(sum(used))
print(" ".join(workers))
"""
#: "kernel 0.04 s CPU · cluster 2.00 s CPU on 2 workers"
SHARES = re.compile(r"kernel (\S+ m?s) CPU · cluster (\d+\.\d+) s CPU on 2 workers")


def test_the_footer_shows_the_clusters_cpu_beside_the_kernels(start_kernel, _isolated_store: Path) -> None:
    k = start_kernel()
    k.run("%load_ext nbprofile")
    before = k.run("import sys; print('distributed' in sys.modules)", cell_id="plain")
    assert before.stdout.strip() == "False"  # nbprofile itself never imports distributed
    assert "cluster" not in before.footers[0] and "kernel" not in before.footers[0]
    started = k.run(START, cell_id="start", timeout=120)
    assert started.status == "ok", started.error
    reply = k.run(BUSY, cell_id="busy", timeout=120)
    assert reply.status == "ok", reply.error
    used_text, workers_text = reply.stdout.split("\n")[:2]
    used, workers = float(used_text), workers_text.split()
    # a cell past two seconds shows live numbers first, which its footer then replaces
    footer = reply.footers[-1] if reply.footers else reply.updates[-1]["data"]["text/plain"]
    found = SHARES.search(footer)
    assert found, footer
    assert float(found.group(2)) == pytest.approx(used, rel=0.10)
    assert "Run out-of-band" not in reply.stderr  # the probes leave the cell's output alone
    k.run("client.close(); cluster.close()")

    store = SQLiteStore(_isolated_store)
    (record,) = [r for r in store.history(None, 50) if r.cell_id == "busy"]
    cpu = record.readings["cluster_cpu_s"]
    assert cpu.method == "measured" and cpu.value == pytest.approx(2.0, rel=0.10)
    assert record.value("cluster_workers") == 2 and record.value("cluster_tasks") == 2
    assert [record.readings[f"worker{i}_cpu_s"].note for i in (0, 1)] == [f"worker {w}" for w in workers]
    (plain,) = [r for r in store.history(None, 50) if r.cell_id == "plain"]
    assert not any(key.startswith(("cluster_", "worker")) for key in plain.readings)
