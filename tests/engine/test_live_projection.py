"""A running cell's projection says where its energy, CO2e and dollars will end, from the same
readings and formulas as its record: the CPU energy meter's reading so far, then the profiler's
derivers. Without a meter that can say, only the time is projected (nothing is made up)."""

from __future__ import annotations

import io
import re
import time
from pathlib import Path

import pytest

from nbprofile.engine.assembly import default_derivers
from nbprofile.engine.profiler import Profiler
from nbprofile.meters.cpu_energy import CpuEnergyMeter
from nbprofile.record import LiveNumbers
from nbprofile.store.sqlite import SQLiteStore

tqdm = pytest.importorskip("tqdm")
W_PER_THREAD = 10.0


def busy(seconds: float) -> None:
    end = time.process_time() + seconds
    while time.process_time() < end:
        pass


def run_with_bar(profiler: Profiler, steps: int = 12, step_s: float = 0.1) -> list[LiveNumbers]:
    """A cell ``3 s`` in (the live view's threshold passed) driving a bar of busy steps; a tick a step."""
    seen: list[LiveNumbers] = []
    profiler.live.listener = seen.append
    window = profiler.open_window("cell")
    window.began_ns -= 3 * 10**9
    profiler.live.begin(window)
    bar = tqdm.tqdm(total=steps * 2, file=io.StringIO(), mininterval=0)
    try:
        for _ in range(steps):
            busy(step_s)
            bar.update(1)
            profiler.live.tick(None, None)
    finally:
        bar.close()
        profiler.live.end()
        profiler.discard_window(window)
    return seen


def estimating(tmp_path: Path) -> CpuEnergyMeter:
    meter = CpuEnergyMeter(root=tmp_path / "no-powercap", tdp_w=W_PER_THREAD * 4, threads=4, watch=False)
    assert meter.probe().available and meter.mode == "estimate"
    return meter


def test_energy_co2e_and_dollars_are_projected_with_the_records_formulas(tmp_path: Path) -> None:
    meter = estimating(tmp_path)
    profiler = Profiler(meters=[meter], store=SQLiteStore(tmp_path / "store.db"))
    profiler.windows.derivers = default_derivers(profiler.carbon, profiler.prices, profiler.windows.meters)
    seen = run_with_bar(profiler)
    projected = [n.projection for n in seen if n.projection]
    assert projected, [n.projection for n in seen]
    text = projected[-1]
    assert re.search(r"≈ [\d.]+ (m?J|k?Wh)", text) and "g CO2e" in text and "≈ $" in text, text
    # the energy so far is the estimate's (busy CPU time x 10 W): about half done, so about twice it
    energy = float(re.search(r"≈ ([\d.]+) J", text).group(1))  # type: ignore[union-attr]
    so_far = 12 * 0.1 * W_PER_THREAD
    assert 1.2 * so_far < energy < 4 * so_far, text


def test_without_a_meter_that_can_say_only_the_time_is_projected(tmp_path: Path) -> None:
    profiler = Profiler(meters=[], store=SQLiteStore(tmp_path / "store.db"))
    seen = run_with_bar(profiler)
    projected = [n.projection for n in seen if n.projection]
    assert projected and all("J" not in t and "CO2e" not in t and "$" not in t for t in projected), projected


def test_a_meter_failing_while_the_cell_runs_leaves_the_time_projected_and_says_why(tmp_path: Path) -> None:
    meter = estimating(tmp_path)

    def broken(key: object) -> dict:  # type: ignore[type-arg]
        raise OSError("read failed")

    meter.so_far = broken  # type: ignore[method-assign]
    profiler = Profiler(meters=[meter], store=SQLiteStore(tmp_path / "store.db"))
    seen = run_with_bar(profiler)
    assert [n.projection for n in seen if n.projection], "the time is still projected"
    assert profiler.live.so_far_failure is not None and "read failed" in profiler.live.so_far_failure
