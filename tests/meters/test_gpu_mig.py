"""MIG as CUDA sees it, and GPU names against the peak-FLOPs and price tables.

The fake NVML is made to name devices the way a real MIG system does: the whole
GPU "NVIDIA H100 80GB HBM3", a MIG handle "NVIDIA H100 80GB HBM3 MIG 1g.10gb",
and ``nvmlDeviceGetAttributes`` with the instance's slice counts. CUDA's rules
(NVIDIA's MIG user guide, "CUDA Device Enumeration"): one MIG device per process,
the first one, and no whole GPU beside it.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace
from typing import Any

import pytest

from nbprofile.derive.cost import ComputePrices
from nbprofile.derive.mfu import MIG_UNKNOWN, PEAK_FLOPS, Peak, derive_mfu, device_peak, peak_for
from nbprofile.derive.mig import mig_slice
from nbprofile.meters.nvml import NvmlMeter
from nbprofile.readings import Reading
from tests.fakes.fake_nvml import (
    NVML_ERROR_NOT_SUPPORTED,
    FakeClock,
    FakeGpu,
    FakeMig,
    FakeNvml,
    GiB,
    Handle,
    NVMLError,
)
from tests.fakes.fake_torch import FakeTorch

H100 = "NVIDIA H100 80GB HBM3"
UUIDS = ["GPU-aaaa1111-0000-4000-8000-000000000000", "GPU-bbbb2222-0000-4000-8000-000000000001"]
MIG_A = "MIG-1111aaaa-0000-4000-8000-000000000000"
MIG_B = "MIG-2222bbbb-0000-4000-8000-000000000000"
MIG_C = "MIG-3333cccc-0000-4000-8000-000000000000"


class MigNamingNvml(FakeNvml):
    """A fake NVML that names MIG handles with their profile, as the driver does.

    ``profiles`` maps a MIG UUID to (GPU-instance slices, compute-instance slices, MiB);
    ``named=False`` gives a MIG handle the whole GPU's name, so only the attributes tell.
    """

    def __init__(self, gpus: list[FakeGpu], clock: FakeClock, profiles: dict[str, tuple[int, int, int]],
                 named: bool = True) -> None:
        self.profiles = profiles
        self.named = named
        super().__init__(gpus, clock)

    def nvmlDeviceGetName(self, handle: Handle) -> str:
        if handle.mig is None or not self.named:
            return handle.gpu.name
        gi, ci, mib = self.profiles[handle.mig.uuid]
        gb = -(-mib // 1024)
        profile = f"{gi}g.{gb}gb" if gi == ci else f"{ci}c.{gi}g.{gb}gb"
        return f"{handle.gpu.name} MIG {profile}"

    def nvmlDeviceGetAttributes(self, handle: Handle) -> Any:
        if handle.mig is None:
            raise NVMLError(NVML_ERROR_NOT_SUPPORTED)
        gi, ci, mib = self.profiles[handle.mig.uuid]
        return SimpleNamespace(gpuInstanceSliceCount=gi, computeInstanceSliceCount=ci, memorySizeMB=mib,
                               multiprocessorCount=16 * ci)


pytestmark = pytest.mark.usefixtures("no_gpu_environment")


def mig_machine(monkeypatch: pytest.MonkeyPatch, named: bool = True, whole_first: bool = False) -> FakeNvml:
    """One whole H100 and one H100 in MIG mode with a 1g.10gb, a 3g.40gb and a 1c.3g.40gb."""
    migs = [FakeMig(MIG_A, mem_total=10 * GiB, mem_used=2 * GiB), FakeMig(MIG_B, mem_total=40 * GiB),
            FakeMig(MIG_C, mem_total=40 * GiB)]
    whole, sliced = FakeGpu(UUIDS[0], name=H100), FakeGpu(UUIDS[1], name=H100, migs=migs)
    profiles = {MIG_A: (1, 1, 9856), MIG_B: (3, 3, 40192), MIG_C: (3, 1, 40192)}
    fake = MigNamingNvml([whole, sliced] if whole_first else [sliced, whole], FakeClock(), profiles, named)
    monkeypatch.setitem(sys.modules, "pynvml", fake.module)
    return fake


def probe(fake: FakeNvml) -> NvmlMeter:
    meter = NvmlMeter(poll_interval_s=None, clock_ns=fake.clock.now_ns, epoch_us=fake.clock.epoch_us)
    assert meter.probe().available
    return meter


# -- which devices CUDA sees ----------------------------------------------------------

@pytest.mark.parametrize("whole_first", [False, True])
def test_unset_visible_devices_on_a_mig_machine_is_the_first_instance_alone(
        monkeypatch: pytest.MonkeyPatch, whole_first: bool) -> None:
    meter = probe(mig_machine(monkeypatch, whole_first=whole_first))
    assert [(g.index, g.uuid, g.mig, g.name) for g in meter.gpus] == [(0, MIG_A, True, f"{H100} MIG 1g.10gb")]
    r = meter.end("never")  # the keys are gpu0's only: no gpu1 for a device CUDA cannot see
    assert not any(k.startswith("gpu1_") for k in meter.keys) and "gpu0_mem_used_bytes" in r


@pytest.mark.parametrize("visible, uuids", [
    (MIG_B, [MIG_B]),
    (f"{MIG_C[:8]},{MIG_A[:8]}", [MIG_C]),  # several MIG devices: CUDA takes the first
    (UUIDS[1][:8], [MIG_A]),  # a MIG-enabled GPU by its GPU- UUID: its first instance
    ("1", [UUIDS[0]]),  # an ordinal names a physical GPU: the whole one
    ("0,1", [MIG_A]),  # with a MIG device chosen, no whole GPU beside it
])
def test_visible_devices_follow_cudas_mig_rules(monkeypatch: pytest.MonkeyPatch, visible: str,
                                                uuids: list[str]) -> None:
    fake = mig_machine(monkeypatch)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
    assert [g.uuid for g in probe(fake).gpus] == uuids


def test_the_profile_is_rebuilt_from_the_attributes_when_nvml_names_the_whole_gpu(
        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = mig_machine(monkeypatch, named=False)
    for visible, name in [(MIG_A, f"{H100} MIG 1g.10gb"), (MIG_C, f"{H100} MIG 1c.3g.40gb")]:
        monkeypatch.setenv("CUDA_VISIBLE_DEVICES", visible)
        assert [g.name for g in probe(fake).gpus] == [name]


def test_torch_confirms_the_mig_device_by_its_uuid(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = mig_machine(monkeypatch)
    meter = probe(fake)
    torch = FakeTorch(1, uuids=[MIG_A[4:]], names=[f"{H100} MIG 1g.10gb"])
    torch.init(0)
    monkeypatch.setitem(sys.modules, "torch", torch.module)
    meter.begin("c")
    r = meter.end("c")
    assert [g.uuid for g in meter.gpus] == [MIG_A]  # confirmed, not given up
    assert r["gpu0_mem_used_bytes"].value is not None


# -- names against the tables -----------------------------------------------------------

@pytest.mark.parametrize("name, what, flops", [
    ("NVIDIA H100 80GB HBM3", "H100 SXM, bf16 dense", 989.4e12),
    ("NVIDIA H100 PCIe", "H100/H800 PCIe, bf16 dense", 756e12),
    ("NVIDIA H800 PCIe", "H100/H800 PCIe, bf16 dense", 756e12),
    ("NVIDIA H800", "H100 SXM, bf16 dense", 989.4e12),
    ("NVIDIA H100 NVL", "H100 NVL, bf16 dense", 835e12),
    ("NVIDIA H200", "H200, bf16 dense", 989e12),
    ("NVIDIA H200 NVL", "H200 NVL, bf16 dense", 835e12),
    ("NVIDIA GH200 480GB", "GH200, bf16 dense", 989.4e12),
    ("NVIDIA B200", "B200, bf16 dense", 2250e12),
    ("NVIDIA GB200", "GB200 (per GPU), bf16 dense", 2500e12),
    ("NVIDIA A100-SXM4-80GB", "A100, bf16 dense", 312e12),
    ("NVIDIA A30", "A30, bf16 dense", 165e12),
])
def test_peak_flops_table(name: str, what: str, flops: float) -> None:
    assert peak_for(name) == Peak(flops, what)


@pytest.mark.parametrize("name, share, label", [
    (f"{H100} MIG 1g.10gb", 1 / 7, "MIG 1g.10gb, 1/7 of the GPU"),
    (f"{H100} MIG 3g.40gb", 3 / 7, "MIG 3g.40gb, 3/7 of the GPU"),
    (f"{H100} MIG 1c.3g.40gb", 1 / 7, "MIG 1c.3g.40gb, 1/7 of the GPU"),
    ("NVIDIA H200 MIG 7g.141gb", 1.0, "MIG 7g.141gb, 7/7 of the GPU"),
    ("NVIDIA A30 MIG 1g.6gb", 1 / 4, "MIG 1g.6gb, 1/4 of the GPU"),
])
def test_a_mig_slice_gets_its_share_of_the_peak_and_the_price(name: str, share: float, label: str) -> None:
    whole = mig_slice(name)
    assert whole is not None and whole.fraction == pytest.approx(share)
    full_peak, slice_peak = peak_for(whole.gpu), peak_for(name)
    assert full_peak is not None and slice_peak is not None
    assert slice_peak.flops_per_s == pytest.approx(full_peak.flops_per_s * share)
    assert slice_peak.what == f"{full_peak.what}, {label}"
    prices = ComputePrices()
    price = prices.gpu_price(name)
    assert price.usd == pytest.approx(prices.gpu_price(whole.gpu).usd * share)
    assert price.origin == "default" and label in price.what


@pytest.mark.parametrize("name", ["NVIDIA H100 80GB HBM3 MIG", "NVIDIA H100 80GB HBM3 MIG 9g.10gb"])
def test_a_mig_slice_of_unknown_size_gets_no_whole_gpu_figure(name: str,
                                                               monkeypatch: pytest.MonkeyPatch) -> None:
    assert peak_for(name) is None
    torch = FakeTorch(1, names=[name])
    torch.init(0)
    monkeypatch.setitem(sys.modules, "torch", torch.module)
    assert device_peak() is None
    r = derive_mfu(device_peak)({"flops": Reading(1e15, "FLOP", "measured"),
                                 "wall_s": Reading(1.0, "s", "measured")})
    assert r["mfu_fraction"].value is None and r["mfu_fraction"].note == MIG_UNKNOWN
    price = ComputePrices().gpu_price(name)
    assert "MIG slice of unknown size" in price.what and price.usd != ComputePrices().gpu_price(H100).usd


def test_mfu_of_a_mig_slice_is_against_the_slice(monkeypatch: pytest.MonkeyPatch) -> None:
    torch = FakeTorch(1, names=[f"{H100} MIG 1g.10gb"])
    torch.init(0)
    monkeypatch.setitem(sys.modules, "torch", torch.module)
    flops = 989.4e12 / 7  # one second of a 1/7 slice's full peak
    r = derive_mfu(device_peak)({"flops": Reading(flops, "FLOP", "measured"),
                                 "wall_s": Reading(1.0, "s", "measured")})
    assert r["mfu_fraction"].value == pytest.approx(1.0)
    assert "MIG 1g.10gb, 1/7 of the GPU" in (r["mfu_fraction"].note or "")


def test_every_table_entry_is_reachable_by_a_name_of_its_own() -> None:
    """An entry shadowed by an earlier pattern could never be used: each `what` is the peak of some name."""
    names = {"H100/H800 PCIe": "NVIDIA H800 PCIe", "H100 NVL": "NVIDIA H100 NVL",
             "GH200": "NVIDIA GH200 480GB", "H200 NVL": "NVIDIA H200 NVL", "H200,": "NVIDIA H200",
             "H100 SXM": H100, "GB200": "NVIDIA GB200",
             "B200,": "NVIDIA B200", "A100": "NVIDIA A100-SXM4-40GB", "A30": "NVIDIA A30",
             "MI300X": "AMD Instinct MI300X", "L40S": "NVIDIA L40S", "L4,": "NVIDIA L4", "A10,": "NVIDIA A10",
             "V100": "Tesla V100-SXM2-16GB", "T4": "Tesla T4"}
    for _, what, _ in PEAK_FLOPS:
        name = next(n for prefix, n in names.items() if what.startswith(prefix))
        found = peak_for(name)
        assert found is not None and found.what == what, (what, name)
