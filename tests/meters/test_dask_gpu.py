"""GPU busy time on Dask workers: NVML's utilisation samples since a window opened, each device
once, with how much of the window they cover. A fake NVML at the library's boundary (its
samples, its errors); no real GPU here."""

from __future__ import annotations

import asyncio
import json
import time
from types import SimpleNamespace
from typing import Any

from nbprofile.meters.dask.combine import Edge, combine
from nbprofile.meters.dask.probe import STATE_ATTR, gpu_busy, worker_probe

UTILISATION = 7  # NVML_GPU_UTILIZATION_SAMPLES


class FakeNvml:
    """Utilisation samples every ``period_us`` at ``percent``, the buffer holding ``kept`` of them."""

    NVML_GPU_UTILIZATION_SAMPLES = UTILISATION

    def __init__(self, percent: float = 40.0, period_us: int = 100_000, kept: int = 10_000,
                 error: str | None = None) -> None:
        self.percent, self.period_us, self.kept, self.error = percent, period_us, kept, error
        self.now_us: int | None = None  # None: the wall clock

    def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
        return 1_000

    def nvmlDeviceGetSamples(self, handle: Any, kind: int, since_us: int) -> tuple[int, list[Any]]:
        assert kind == UTILISATION
        if self.error is not None:
            raise RuntimeError(self.error)
        now = self.now_us if self.now_us is not None else int(time.time() * 1e6)
        top = now - now % self.period_us
        stamps = range(top, max(top - self.kept * self.period_us, 0), -self.period_us)
        samples = [SimpleNamespace(timeStamp=t, sampleValue=SimpleNamespace(uiVal=self.percent))
                   for t in reversed(stamps) if t > since_us]
        if not samples:
            raise RuntimeError("Not Found")  # what NVML says when no sample is newer
        return 1, samples


def busy(nvml: FakeNvml, since_s: float, now_s: float) -> Any:
    nvml.now_us = int(now_s * 1e6)
    return gpu_busy(nvml, [("GPU-0", object())], int(since_s * 1e6), int(now_s * 1e6))["GPU-0"]


def test_busy_time_is_utilisation_times_time_over_the_window() -> None:
    value, covered = busy(FakeNvml(percent=40.0), 1_000.0, 1_002.0)  # 2 s at 40 %
    assert abs(value - 0.8) < 1e-9 and abs(covered - 2.0) < 1e-9


def test_a_window_longer_than_the_drivers_buffer_covers_its_end_and_says_so() -> None:
    # samples every 200 ms, 50 kept (10 s): a 60 s window at 100 % reads 10 s, covering 10 s
    value, covered = busy(FakeNvml(percent=100.0, period_us=200_000, kept=50), 1_000.0, 1_060.0)
    assert abs(value - 10.0) < 1e-9 and abs(covered - 10.0) < 1e-9
    end = {"began": True, "cpu": 0.0, "loop_cpu": 0.0, "tasks": 0, "sent": 0, "rss_start": 1, "rss": 1,
           "peak": 1, "peak_error": None, "gpu": {"GPU-0": 5}, "gpu_busy": {"GPU-0": [value, covered]},
           "window_s": 60.0, "pid": 1, "host": "h"}
    reading = combine(Edge({"a": {"pid": 1, "host": "h", "began": True}}), Edge({"a": end}))["cluster_gpu_busy_s"]
    assert abs(reading.value - 10.0) < 1e-9 and reading.method == "sampled"
    assert "cover only the last 10 s of this 60 s window" in (reading.note or "")


def test_no_sample_in_a_short_window_is_unavailable_not_zero() -> None:
    value, covered = busy(FakeNvml(period_us=1_000_000), 1_000.2, 1_000.5)  # no sample between
    assert (value, covered) == (0.0, 0.0)
    end = {"began": True, "cpu": 0.0, "loop_cpu": 0.0, "tasks": 0, "sent": 0, "rss_start": 1, "rss": 1,
           "peak": 1, "peak_error": None, "gpu": {"GPU-0": 5}, "gpu_busy": {"GPU-0": [0.0, 0.0]},
           "window_s": 0.3, "pid": 1, "host": "h"}
    reading = combine(Edge({"a": {"pid": 1, "host": "h", "began": True}}), Edge({"a": end}))["cluster_gpu_busy_s"]
    assert reading.value is None and "no GPU utilisation sample in this 0.3 s window" in (reading.note or "")
    failing = gpu_busy(FakeNvml(error="Not Supported"), [("GPU-0", object())], 0, 10)
    assert failing == {"GPU-0": "NVML utilisation samples: Not Supported"}


def test_a_device_two_workers_see_is_counted_once() -> None:
    def end(pid: int) -> dict[str, Any]:
        return {"began": True, "cpu": 1.0, "loop_cpu": 0.0, "tasks": 1, "sent": 0, "rss_start": 1, "rss": 1,
                "peak": 1, "peak_error": None, "gpu": {"GPU-0": 5, "GPU-1": 5},
                "gpu_busy": {"GPU-0": [1.5, 2.0], "GPU-1": [0.25, 2.0]}, "window_s": 2.0, "pid": pid,
                "host": "h"}
    begin = Edge({"a": {"pid": 1, "host": "h", "began": True}, "b": {"pid": 2, "host": "h", "began": True}})
    reading = combine(begin, Edge({"a": end(1), "b": end(2)}))["cluster_gpu_busy_s"]
    assert reading.value == 1.75 and reading.note == "2 devices, utilisation x time"
    # the workers on the kernel's own machine (a LocalCluster on a GPU box): the kernel's GPU readings are
    # the whole devices' too, and the cluster's figures say they may be the same ones
    here = combine(begin, Edge({"a": end(1), "b": end(2)}), kernel=("h", 99))
    assert here["cluster_gpu_busy_s"].value == 1.75 and here["cluster_gpu_energy_j"].value == 0.01  # 2 x 5 mJ
    for key in ("cluster_gpu_busy_s", "cluster_gpu_energy_j"):
        assert (here[key].note or "").endswith("on the kernel's machine: the kernel's GPU readings may hold "
                                               "the same devices")


def test_the_probe_on_a_worker_with_a_gpu_answers_its_busy_time() -> None:
    worker = SimpleNamespace(state=SimpleNamespace(executed_count=0), transfer_outgoing_bytes_total=0)
    asyncio.run(worker_probe("w0", False, "", worker))  # the worker's first window: its state made
    getattr(worker, STATE_ATTR)["nvml"] = (FakeNvml(percent=50.0, period_us=50_000), [("GPU-0", object())])
    asyncio.run(worker_probe("w1", False, "", worker))
    time.sleep(0.5)
    answer = json.loads(asyncio.run(worker_probe("w1", True, "", worker)))
    value, covered = answer["gpu_busy"]["GPU-0"]
    assert 0.35 <= covered <= answer["window_s"] + 1e-6 and abs(value - covered * 0.5) < 1e-6
    assert answer["gpu"] == {"GPU-0": 0}


def test_a_short_window_on_a_worker_reads_neither_the_counter_nor_the_samples_at_its_end() -> None:
    """Each costs milliseconds of the worker's CPU a device (3 ms and 2.1 ms on an H200) and says little of
    a window shorter than the counter's ~100 ms update or the samples' ~0.2 s spacing: the cell's cluster
    GPU readings say so rather than show 0."""
    calls: list[str] = []

    class Counting(FakeNvml):
        def nvmlDeviceGetTotalEnergyConsumption(self, handle: Any) -> int:
            calls.append("energy")
            return 1_000

        def nvmlDeviceGetSamples(self, handle: Any, kind: int, since_us: int) -> tuple[int, list[Any]]:
            calls.append("samples")
            return super().nvmlDeviceGetSamples(handle, kind, since_us)

    worker = SimpleNamespace(state=SimpleNamespace(executed_count=0), transfer_outgoing_bytes_total=0)
    asyncio.run(worker_probe("w0", False, "", worker))
    getattr(worker, STATE_ATTR)["nvml"] = (Counting(), [("GPU-0", object())])
    asyncio.run(worker_probe("w1", False, "", worker))
    assert calls == ["energy"]  # the begin's read: the window's length is not known yet
    answer = json.loads(asyncio.run(worker_probe("w1", True, "", worker)))
    assert calls == ["energy"]
    assert answer["gpu"]["GPU-0"].startswith("not read for a ") and "~100 ms" in answer["gpu"]["GPU-0"]
    begin = Edge({"a": {"pid": 1, "host": "h", "began": True}})
    readings = combine(begin, Edge({"a": {**answer, "pid": 1, "host": "h"}}))
    assert readings["cluster_gpu_energy_j"].value is None
    assert "energy counter moves every ~100 ms" in (readings["cluster_gpu_energy_j"].note or "")
    assert readings["cluster_gpu_busy_s"].value is None
    assert "utilisation samples come ~0.2 s apart" in (readings["cluster_gpu_busy_s"].note or "")
