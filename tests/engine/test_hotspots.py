"""The hot-spot sampler with real threads and real time: it names the function a cell spends its time
in (and the cell line that called it) by a share close to the truth, sees sleeping code, costs nothing
for cells under the threshold, keeps one thread for life, and does nothing in a forked child.

The "cell" is code compiled under an IPython cell name and run with ``exec``, as IPython runs one.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from nbprofile.engine.hotspots import CELL, HotSpot, HotSpots, HotSpotSampler, describe, is_cell_file

CELL_FILE = "<ipython-input-7-0123abcd>"


def busy(seconds: float) -> int:
    """CPU-bound pure Python for ``seconds`` (the hot function)."""
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def other(seconds: float) -> int:
    end, n = time.perf_counter() + seconds, 0
    while time.perf_counter() < end:
        n += 1
    return n


def nap(seconds: float) -> None:
    time.sleep(seconds)


def run_cell(source: str, **names: Any) -> None:
    """Run ``source`` as IPython runs a cell: compiled under the cell's file name, then exec'd."""
    code = compile(source, CELL_FILE, "exec")
    exec(code, {"busy": busy, "other": other, "nap": nap, **names})  # noqa: S102 - a test's own cell, as IPython


@pytest.fixture
def sampler() -> Iterator[HotSpotSampler]:
    s = HotSpotSampler(threshold_s=0.0)
    yield s
    s.close()


# 10 rounds of 120 ms in busy() and 30 ms in other(): 80 % / 20 % of ~1.5 s, interleaved so that
# neither the threshold nor the sampler's start favours one
EIGHTY_TWENTY = """\
x = 0
for _ in range(10):
    x += busy(0.12)
    x += other(0.03)
"""


def test_the_hot_function_comes_first_with_its_share_and_the_cell_line_that_called_it(
        sampler: HotSpotSampler) -> None:
    sampler.start(CELL_FILE)
    run_cell(EIGHTY_TWENTY)
    spots = sampler.stop()
    assert spots is not None
    first, second = spots.entries[:2]
    assert first.function == "test_hotspots.py:busy" and first.cell_line == 3, spots
    assert 0.70 <= first.self_share <= 0.90, spots
    assert first.total_share == pytest.approx(first.self_share)  # busy calls no Python function
    assert first.where.startswith("test_hotspots.py:")
    assert second.function == "test_hotspots.py:other" and second.cell_line == 4
    assert 0.10 <= second.self_share <= 0.30, spots
    assert 60 <= spots.samples <= 170  # ~100 Hz over ~1.5 s (a loaded machine samples less often)
    assert spots.covered_s == pytest.approx(1.5, abs=0.2)
    assert describe(first) == f"{round(first.self_share * 100)} % test_hotspots.py:busy ← cell line 3"


def test_without_a_hint_the_cell_is_recognised_by_its_ipython_name(sampler: HotSpotSampler) -> None:
    assert is_cell_file(CELL_FILE) and is_cell_file("/tmp/ipykernel_812/2741950.py")
    assert not is_cell_file("/home/me/train.py")
    sampler.start()
    run_cell("def inner():\n    return busy(0.6)\n\ninner()\n")
    spots = sampler.stop()
    assert spots is not None
    top = spots.entries[0]
    # the nearest cell frame: the line in the cell's own function that called busy()
    assert (top.function, top.cell_line) == ("test_hotspots.py:busy", 2)
    assert top.self_share > 0.9


def test_in_ipython_the_top_entry_is_the_users_function_not_the_shells(shell: Any,
                                                                       sampler: HotSpotSampler) -> None:
    shell.user_ns["busy"] = busy
    sampler.start()  # IPython names the cell <ipython-input-N-...>: recognised without a hint
    shell.run_cell("def step():\n    return busy(0.05)\n\nfor _ in range(8):\n    step()\n")
    spots = sampler.stop()
    assert spots is not None
    top = spots.entries[0]
    assert (top.function, top.cell_line, top.self_share > 0.9) == ("test_hotspots.py:busy", 2, True), spots
    assert not any("interactiveshell" in e.function for e in spots.entries)


def test_sleeping_code_is_attributed(sampler: HotSpotSampler) -> None:
    sampler.start(CELL_FILE)
    run_cell("nap(0.6)\n")
    spots = sampler.stop()
    assert spots is not None
    top = spots.entries[0]
    assert top.function == "test_hotspots.py:nap" and top.cell_line == 1
    assert top.self_share > 0.9
    assert spots.samples >= 40  # the sampler does not wait for the GIL: nobody holds it


def test_a_cell_under_the_threshold_is_never_sampled() -> None:
    sampler = HotSpotSampler(threshold_s=1.0)
    try:
        for _ in range(3):
            sampler.start(CELL_FILE)
            run_cell("busy(0.2)\n")
            assert sampler.stop() is None
        assert sampler.samples_taken == 0
    finally:
        sampler.close()


def test_too_few_samples_give_no_answer_rather_than_noisy_shares() -> None:
    sampler = HotSpotSampler(threshold_s=0.0, interval_s=0.05)  # 20 Hz: ~6 samples in 0.3 s
    try:
        sampler.start(CELL_FILE)
        run_cell("busy(0.3)\n")
        assert sampler.stop() is None
        assert 0 < sampler.samples_taken < 20
    finally:
        sampler.close()


def test_one_thread_for_life_parked_between_cells(sampler: HotSpotSampler) -> None:
    for _ in range(50):
        sampler.start(CELL_FILE)
        sampler.stop()
    sampler.start(CELL_FILE)
    busy(0.05)
    sampler.stop()
    assert [t.name for t in threading.enumerate()].count("nbprofile-hotspots") == 1
    taken = sampler.samples_taken
    time.sleep(0.1)
    assert sampler.samples_taken == taken  # disarmed: no sample between cells
    sampler.close()
    assert "nbprofile-hotspots" not in [t.name for t in threading.enumerate()]


def test_json_round_trip_is_compact() -> None:
    spots = HotSpots(150, 0.01, 1.503, (HotSpot("train.py:forward", "train.py:88", 0.62, 0.7, 14),
                                         HotSpot(CELL, CELL + ":3", 0.1, 1.0, None)))
    text = json.dumps(spots.to_json())
    assert HotSpots.from_json(json.loads(text)) == spots
    assert len(text) < 200
    assert describe(spots.entries[0]) == "62 % train.py:forward ← cell line 14"
    assert describe(spots.entries[1]) == "10 % <cell>"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork")
def test_a_forked_child_never_samples(sampler: HotSpotSampler) -> None:
    sampler.start(CELL_FILE)  # the thread exists in the parent before the fork
    sampler.stop()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: answer through the pipe, never return into pytest
        try:
            sampler.start(CELL_FILE)
            run_cell("busy(0.3)\n")
            result = sampler.stop()
            os.write(write, json.dumps([result is None, sampler.samples_taken, sampler.running]).encode())
        finally:
            os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as f:
        none, taken, running = json.loads(f.read())
    assert none and not running
    assert taken == sampler.samples_taken  # the child took no sample of its own
