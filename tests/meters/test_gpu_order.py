"""CUDA ordinals matched to NVML devices by UUID or PCI bus id, never by assumed order.

CUDA's default order (FASTEST_FIRST) can differ from NVML's PCI order, and an ordinal in
``CUDA_VISIBLE_DEVICES`` is read in CUDA's order: a single visible device, or
``CUDA_DEVICE_ORDER=PCI_BUS_ID``, is still checked against what torch reports once torch
has CUDA up.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from nbprofile.meters.nvml import NvmlMeter
from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml, Handle
from tests.fakes.fake_torch import FakeTorch

UUIDS = ["GPU-aaaa1111-0000-4000-8000-000000000000", "GPU-bbbb2222-0000-4000-8000-000000000001",
         "GPU-cccc3333-0000-4000-8000-000000000002"]
BUSES = [0x1B, 0x3B, 0x5E]


class PciNvml(FakeNvml):
    """The fake NVML with ``nvmlDeviceGetPciInfo`` (domain 0, the GPU's bus, device 0)."""

    def nvmlDeviceGetPciInfo(self, handle: Handle) -> Any:
        bus = BUSES[[g.uuid for g in self.gpus].index(handle.gpu.uuid)]
        return SimpleNamespace(domain=0, bus=bus, device=0, busId=f"00000000:{bus:02X}:00.0")


pytestmark = pytest.mark.usefixtures("no_gpu_environment")


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> FakeNvml:
    gpus = [FakeGpu(UUIDS[0], name="NVIDIA A10"), FakeGpu(UUIDS[1], name="NVIDIA H100 80GB HBM3"),
            FakeGpu(UUIDS[2], name="NVIDIA L4")]
    nvml = PciNvml(gpus, FakeClock())
    monkeypatch.setitem(sys.modules, "pynvml", nvml.module)
    return nvml


def with_torch(monkeypatch: pytest.MonkeyPatch, nvml_indices: list[int], **kwargs: Any) -> FakeTorch:
    """Torch seeing these NVML devices, in this order (its ordinals)."""
    torch = FakeTorch(len(nvml_indices), uuids=[UUIDS[i][4:] for i in nvml_indices],
                      pci=[(0, BUSES[i], 0) for i in nvml_indices], **kwargs)
    torch.init(0)
    monkeypatch.setitem(sys.modules, "torch", torch.module)
    return torch


def one_cell(meter: NvmlMeter, fake: FakeNvml, watts: list[float]) -> dict[str, Any]:
    meter.begin("cell")
    fake.run(1.0, watts)
    return meter.end("cell")


def probe(fake: FakeNvml) -> NvmlMeter:
    meter = NvmlMeter(poll_interval_s=None, clock_ns=fake.clock.now_ns, epoch_us=fake.clock.epoch_us)
    assert meter.probe().available
    return meter


def test_a_single_ordinal_is_checked_and_moved_to_the_gpu_cuda_means(
        fake: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "0")  # CUDA's device 0 is the fastest: the H100, NVML's 1
    meter = probe(fake)
    assert [g.nvml_index for g in meter.gpus] == [0]  # what NVML alone can guess
    assert meter.probe().fix is None  # one device: nothing for the user to set
    with_torch(monkeypatch, [1])
    one_cell(meter, fake, [100, 300, 50])  # the first window with torch up confirms the device
    assert [(g.index, g.nvml_index, g.name) for g in meter.gpus] == [(0, 1, "NVIDIA H100 80GB HBM3")]
    r = one_cell(meter, fake, [100, 300, 50])
    assert r["gpu0_energy_j"].value == pytest.approx(300, abs=1)  # the H100's energy, not the A10's


def test_pci_bus_id_order_is_still_checked(fake: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_DEVICE_ORDER", "PCI_BUS_ID")
    meter = probe(fake)
    assert meter.probe().fix is None  # the user did what they could
    with_torch(monkeypatch, [0, 2, 1])  # a platform whose CUDA order is not NVML's after all
    one_cell(meter, fake, [100, 200, 300])
    assert [(g.index, g.nvml_index) for g in meter.gpus] == [(0, 0), (1, 2), (2, 1)]
    r = one_cell(meter, fake, [100, 200, 300])
    assert r["gpu1_energy_j"].value == pytest.approx(300, abs=1)


def test_matching_by_pci_bus_id_where_torch_gives_no_uuid(fake: FakeNvml,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    meter = probe(fake)
    assert "CUDA_DEVICE_ORDER=PCI_BUS_ID" in (meter.probe().fix or "")  # several GPUs, order unsure
    with_torch(monkeypatch, [1, 0, 2], props_uuid=False)
    one_cell(meter, fake, [100, 200, 300])
    assert [g.nvml_index for g in meter.gpus] == [1, 0, 2]


def test_an_order_torch_agrees_with_is_kept(fake: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    meter = probe(fake)
    before = list(meter.gpus)
    with_torch(monkeypatch, [0, 1, 2])
    one_cell(meter, fake, [100, 200, 300])
    assert meter.gpus == before


def test_a_torch_device_nvml_cannot_find_leaves_the_order_alone(fake: FakeNvml,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    meter = probe(fake)
    torch = FakeTorch(1, uuids=["dddd4444-0000-4000-8000-000000000003"], pci=[(0, 0x99, 0)])
    torch.init(0)
    monkeypatch.setitem(sys.modules, "torch", torch.module)
    one_cell(meter, fake, [100, 200, 300])
    assert [g.nvml_index for g in meter.gpus] == [0, 1, 2]


def test_uuids_in_visible_devices_need_no_check(fake: FakeNvml, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", f"{UUIDS[2][:8]},{UUIDS[0][:8]}")
    meter = probe(fake)
    torch = with_torch(monkeypatch, [2, 0])
    torch.log.clear()
    one_cell(meter, fake, [100, 200, 300])
    assert [g.nvml_index for g in meter.gpus] == [2, 0]
