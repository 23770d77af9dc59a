"""Finding the GPUs: importing pynvml, the CUDA devices NVML can see, and what each supports.

Devices are numbered as CUDA (and torch) number them: ``CUDA_VISIBLE_DEVICES``
is resolved with torch's rules (:func:`_resolve_visible`) and CUDA's MIG rules
(:func:`_cuda_rules`), MIG instances are matched to the whole GPU that measures
them, and :func:`_torch_order` matches the devices to torch's by UUID (else PCI
bus id) once torch has initialised CUDA: the order is never taken on trust.
"""

from __future__ import annotations

import dataclasses
import importlib
import logging
import os
import sys
import warnings
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any

from nbprofile.readings import Availability

NOT_INSTALLED = "nvidia-ml-py is not installed"  # the fix (pip install) is the Availability's, said once
MIG_ENERGY = "MIG: the GPU's energy counter and power sensor cover every MIG instance, not this cell's"
NO_COUNTER = "this GPU has no energy counter (it needs Volta or newer)"
_DEPRECATED_SHIM = "The pynvml package is deprecated"  # PyPI pynvml 13's redirector warns on import
_POWER, _UTIL = 0, 1  # NVML_TOTAL_POWER_SAMPLES, NVML_GPU_UTILIZATION_SAMPLES
_FI_POWER_INSTANT = 186  # NVML_FI_DEV_POWER_INSTANT


@dataclass(slots=True)
class Gpu:
    """One CUDA device, the NVML handles that measure it, and what they support."""

    index: int  #: CUDA ordinal (torch's numbering, CUDA_VISIBLE_DEVICES applied)
    uuid: str  #: the CUDA device's UUID (``MIG-...`` for a MIG instance)
    name: str
    nvml_index: int  #: the whole GPU's NVML (PCI-order) index
    board: Any  #: whole-GPU handle: energy, power, utilisation, processes
    memory: Any  #: memory handle: the MIG instance's under MIG
    mig: bool
    energy_reason: str | None = None  #: why the energy counter cannot be used; None when it can
    power_samples: bool = False
    util_samples: bool = False
    instant_power: bool = False  #: the POWER_INSTANT field (else GetPowerUsage, a 1 s average on Ampere+)
    memory_v2: bool = True
    pci: tuple[int, int, int] | None = None  #: (domain, bus, device), the whole GPU's
    others: int | None = None  #: other processes with a context on the GPU, when last checked
    others_by_count: bool = False  #: PIDs could not be matched to ours (container PID namespace)
    others_checked_ns: int | None = None
    keys: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        p = f"gpu{self.index}_"
        self.keys = (f"{p}energy_j", f"{p}power_mean_w", f"{p}power_peak_w", f"{p}util_pct",
                     f"{p}mem_used_bytes", f"{p}mem_used_peak_bytes")


@dataclass(slots=True)
class _Physical:
    nvml_index: int
    handle: Any
    uuid: str
    name: str
    mig: bool
    instances: list[tuple[Any, str]] = field(default_factory=list)  # MIG (handle, uuid)
    pci: tuple[int, int, int] | None = None


# A CUDA device before probing: (physical GPU, memory handle, uuid, is MIG)
_Target = tuple[_Physical, Any, str, bool]


def _import_pynvml() -> ModuleType:
    """``import pynvml`` (nvidia-ml-py), silencing the deprecated PyPI ``pynvml`` shim's FutureWarning."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_DEPRECATED_SHIM, category=FutureWarning)
        return importlib.import_module("pynvml")


def _physical_gpus(nvml: Any) -> list[_Physical]:
    gpus = []
    for i in range(nvml.nvmlDeviceGetCount()):
        handle = nvml.nvmlDeviceGetHandleByIndex(i)
        mig = _mig_enabled(nvml, handle)
        gpus.append(_Physical(i, handle, _text(nvml.nvmlDeviceGetUUID(handle)),
                              _text(nvml.nvmlDeviceGetName(handle)), mig,
                              _mig_instances(nvml, handle) if mig else [], _pci(nvml, handle)))
    return gpus


def _pci(nvml: Any, handle: Any) -> tuple[int, int, int] | None:
    """(domain, bus, device) of a GPU, to match torch's ``pci_*_id`` where a UUID cannot be had."""
    get = getattr(nvml, "nvmlDeviceGetPciInfo", None)
    if get is None:
        return None
    try:
        info = get(handle)
        return int(info.domain), int(info.bus), int(info.device)
    except (nvml.NVMLError, AttributeError, TypeError, ValueError):  # matching falls back to UUIDs only
        return None


def _mig_enabled(nvml: Any, handle: Any) -> bool:
    try:
        return bool(nvml.nvmlDeviceGetMigMode(handle)[0] == nvml.NVML_DEVICE_MIG_ENABLE)
    except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound):  # not a MIG-capable GPU
        return False


def _mig_instances(nvml: Any, handle: Any) -> list[tuple[Any, str]]:
    instances = []
    for j in range(nvml.nvmlDeviceGetMaxMigDeviceCount(handle)):
        try:
            mig = nvml.nvmlDeviceGetMigDeviceHandleByIndex(handle, j)
        except (nvml.NVMLError_NotFound, nvml.NVMLError_InvalidArgument):  # an empty slot
            continue
        instances.append((mig, _text(nvml.nvmlDeviceGetUUID(mig))))
    return instances


# CUDA's MIG rules, from NVIDIA's Multi-Instance GPU user guide ("MIG Device Names", "CUDA Device
# Enumeration", R450-R580 drivers with CUDA 11/12): "a single CUDA process can only enumerate a single
# MIG device"; "CUDA is limited to use a single CI and will pick the first one available if several of
# them are visible"; and "CUDA will not enumerate non-MIG GPU if any compute instance is enumerated on
# any other GPU". So with CUDA_VISIBLE_DEVICES unset on a machine with MIG instances, CUDA (and torch)
# sees exactly one device, the first instance, and no whole GPU at all.

def _enumerable(g: _Physical) -> _Target | None:
    """What CUDA makes of one physical GPU: itself, its first MIG instance, or nothing (MIG, no instance)."""
    if not g.mig:
        return g, g.handle, g.uuid, False
    if g.instances:
        handle, uuid = g.instances[0]
        return g, handle, uuid, True
    return None


def _cuda_rules(chosen: list[_Target]) -> list[_Target]:
    """At most one MIG device, and no whole GPU beside it (CUDA's rules above)."""
    migs = [t for t in chosen if t[3]]
    return migs[:1] if migs else chosen


def _cuda_order(gpus: list[_Physical]) -> list[_Target]:
    """CUDA devices with CUDA_VISIBLE_DEVICES unset: the whole GPUs, or the first MIG instance alone."""
    return _cuda_rules([t for g in gpus if (t := _enumerable(g)) is not None])


def _resolve_visible(gpus: list[_Physical], visible: str | None) -> list[_Target]:
    """The CUDA devices ``CUDA_VISIBLE_DEVICES`` selects, in CUDA order.

    Torch's emulation of CUDA's rules (``torch.cuda._parse_visible_devices``):
    a list of ordinals read like ``strtoul`` (``"1gpu"`` is 1; an ordinal names a
    physical GPU, a MIG-enabled one meaning its first instance), or of ``GPU-``
    or ``MIG-`` UUID prefixes; the first invalid entry ends the list; a repeated
    entry makes it empty. CUDA's MIG rules then apply to what was chosen.
    """
    if visible is None:
        return _cuda_order(gpus)
    base = [_enumerable(g) for g in gpus]
    chosen: list[_Target] = []
    by_uuid = visible.startswith(("GPU-", "MIG-"))
    for elem in visible.split(","):
        elem = elem.strip()
        if by_uuid:
            target = _by_uuid_prefix(gpus, elem) if elem.startswith(visible[:4]) else None
        else:
            ordinal = _strtoul(elem)
            target = base[ordinal] if 0 <= ordinal < len(base) else None
        if target is None:
            break
        if any(target[2] == c[2] for c in chosen):
            return []
        chosen.append(target)
    return _cuda_rules(chosen)


def _by_uuid_prefix(gpus: list[_Physical], prefix: str) -> _Target | None:
    if prefix.startswith("MIG-GPU-"):  # the pre-R470 form MIG-GPU-<uuid>/<gi>/<ci>: the whole GPU's handle
        parent = prefix[4:].split("/")[0]
        found = [g for g in gpus if g.uuid == parent]
        return (found[0], found[0].handle, prefix, True) if found else None
    # a MIG-enabled GPU named by its GPU- UUID is its first instance to CUDA
    candidates = [(g.uuid, t) for g in gpus if (t := _enumerable(g)) is not None]
    candidates += [(uuid, (g, handle, uuid, True)) for g in gpus for handle, uuid in g.instances]
    matches = [t for uuid, t in candidates if uuid.startswith(prefix)]
    return matches[0] if len(matches) == 1 else None  # an ambiguous prefix is invalid


def _strtoul(text: str) -> int:
    digits = len(text) - len(text.lstrip("0123456789"))
    return int(text[:digits]) if digits else -1


# -- what each device supports ----------------------------------------------------

def _describe(nvml: Any, index: int, target: _Target) -> Gpu:
    """CUDA device ``index`` and the readings its handles support (processes are checked by the caller)."""
    physical, memory, uuid, mig = target
    name = _mig_name(nvml, memory, physical.name) if mig else physical.name
    gpu = Gpu(index, uuid, name, physical.nvml_index, physical.handle, memory, mig, pci=physical.pci)
    gpu.energy_reason = MIG_ENERGY if mig else _energy_support(nvml, physical.handle)
    gpu.power_samples = not mig and _samples_supported(nvml, physical.handle, _POWER)
    gpu.util_samples = not mig and _samples_supported(nvml, physical.handle, _UTIL)
    gpu.instant_power = not mig and _instant_power_supported(nvml, physical.handle)
    gpu.memory_v2 = _memory_v2_supported(nvml, memory)
    return gpu


def _mig_name(nvml: Any, handle: Any, gpu_name: str) -> str:
    """A MIG device's name with its profile ("NVIDIA H100 80GB HBM3 MIG 1g.10gb"), as CUDA names it.

    NVML names a MIG handle so; where it gives the whole GPU's name instead, the profile is
    rebuilt from the instance's slice counts (``nvmlDeviceGetAttributes``); failing both, the
    name says "MIG" alone, so that no whole-GPU peak or price is ever matched to a slice.
    """
    try:
        name = _text(nvml.nvmlDeviceGetName(handle))
    except nvml.NVMLError:  # the parent's name and the attributes below still tell
        name = gpu_name
    if " MIG " in f" {name} ":
        return name
    get: Any = getattr(nvml, "nvmlDeviceGetAttributes", None)
    try:
        a = get(handle)  # None (an old binding) raises TypeError: the fallback below
        gi, ci, mb = int(a.gpuInstanceSliceCount), int(a.computeInstanceSliceCount), int(a.memorySizeMB)
    except (nvml.NVMLError, AttributeError, TypeError, ValueError):
        return f"{gpu_name} MIG"
    gb = -(-mb // 1024)  # the profile's figure is the memory rounded up: 9856 MiB is "10gb"
    return f"{gpu_name} MIG {ci}c.{gi}g.{gb}gb" if ci != gi else f"{gpu_name} MIG {gi}g.{gb}gb"


def _energy_support(nvml: Any, handle: Any) -> str | None:
    try:
        nvml.nvmlDeviceGetTotalEnergyConsumption(handle)
    except (nvml.NVMLError_NotSupported, nvml.NVMLError_FunctionNotFound):
        return NO_COUNTER
    except nvml.NVMLError as exc:
        return f"the energy counter cannot be read: {exc}"
    return None


def _samples_supported(nvml: Any, handle: Any, kind: int) -> bool:
    try:
        nvml.nvmlDeviceGetSamples(handle, kind, 0)
    except nvml.NVMLError_NotFound:  # supported, the buffer is just empty
        return True
    except nvml.NVMLError:
        return False
    return True


def _instant_power_supported(nvml: Any, handle: Any) -> bool:
    if not hasattr(nvml, "nvmlDeviceGetFieldValues"):
        return False
    try:
        return bool(nvml.nvmlDeviceGetFieldValues(handle, [_FI_POWER_INSTANT])[0].nvmlReturn == 0)
    except nvml.NVMLError:
        return False


def _memory_v2_supported(nvml: Any, handle: Any) -> bool:
    """v1's ``used`` counts reserved memory (and changed meaning across drivers); prefer v2."""
    if not hasattr(nvml, "nvmlMemory_v2"):
        return False
    try:
        nvml.nvmlDeviceGetMemoryInfo(handle, version=nvml.nvmlMemory_v2)
    except (nvml.NVMLError, TypeError):  # an old driver's ArgumentVersionMismatch, NoPermission: v1 then
        return False
    return True


def _availability(gpus: list[Gpu], driver_version: str | None, order_assumed: bool) -> Availability:
    """What probing found, for ``%nbprofile status`` and ``nbprofile doctor``."""
    parts, fixes = [], []
    for g in gpus:
        if g.mig:
            energy = "no energy (MIG)"
        else:
            energy = "energy counter" if g.energy_reason is None else "energy estimated from power"
        power = "power/utilisation samples" if g.power_samples else "power polled"
        parts.append(f"gpu{g.index} {g.name} [{energy}, {power}]")
        if g.mig:
            fixes.append(f"gpu{g.index} is a MIG instance: energy needs the whole GPU "
                         f"(nvidia-smi -i {g.nvml_index} -mig 0)")
        elif g.energy_reason is not None:
            fixes.append(f"gpu{g.index}: {g.energy_reason}; energy is mean power x time")
    if order_assumed and len(gpus) > 1 and os.environ.get("CUDA_DEVICE_ORDER") != "PCI_BUS_ID":
        fixes.append("CUDA's device order is assumed to be PCI order until torch confirms it; "
                     "set CUDA_DEVICE_ORDER=PCI_BUS_ID to make it certain")
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    shown = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
    detail = f"NVML, driver {driver_version}{shown}: " + "; ".join(parts)
    return Availability(True, detail, "; ".join(fixes) or None)


# -- CUDA order ---------------------------------------------------------------------

def _torch_order(torch: Any, gpus: list[Gpu]) -> list[Gpu] | None:
    """The devices as torch numbers them, matched by UUID (else PCI bus id); None when the order stands.

    A torch device none of ``gpus`` is (an ordinal resolved to the wrong GPU) is looked up
    among every NVML device; a torch device found nowhere leaves the order as it was.
    """
    try:
        props = [torch.cuda.get_device_properties(i) for i in range(torch.cuda.device_count())]
    except (AttributeError, RuntimeError):  # CUDA failing: keep the order we have
        return None
    if not props:
        return None
    matched = [_match(p, gpus) for p in props]
    if any(m is None for m in matched):
        everything = _all_devices()
        matched = [m if m is not None else _match(p, everything) for m, p in zip(matched, props)]
    found = [m for m in matched if m is not None]
    if len(found) != len(props) or len({id(m) for m in found}) != len(found):
        return None
    if [g.uuid for g in found] == [g.uuid for g in gpus]:
        return None
    return [_reindexed(g, i) for i, g in enumerate(found)]


def _match(props: Any, gpus: list[Gpu]) -> Gpu | None:
    """The device torch describes by ``props``: its UUID (a MIG instance's, or under older CUDA its
    parent GPU's), else its PCI address where that names one device."""
    uuid = getattr(props, "uuid", None)
    if uuid is not None:
        u = _norm(str(uuid))
        for g in gpus:
            if _norm(g.uuid) == u:
                return g
    address = tuple(getattr(props, k, None) for k in ("pci_domain_id", "pci_bus_id", "pci_device_id"))
    if None in address:
        return None
    same = [g for g in gpus if g.pci == address]
    return same[0] if len(same) == 1 else None  # two MIG instances share one address: no guess


def _all_devices() -> list[Gpu]:
    """Every device CUDA could be shown, described afresh (NVML is initialised by the meter)."""
    try:
        nvml = _import_pynvml()
        physical = _physical_gpus(nvml)
    except Exception as exc:  # noqa: BLE001 - no fuller list: the order stands, and why is logged
        logging.getLogger(__name__).info("nbprofile: NVML could not list the GPUs again: %s", exc)
        return []
    targets = [t for g in physical if (t := _enumerable(g)) is not None]
    targets += [(g, h, u, True) for g in physical for h, u in g.instances[1:]]
    return [_describe(nvml, i, t) for i, t in enumerate(targets)]


def _torch_with_cuda() -> Any | None:
    torch = sys.modules.get("torch")
    cuda = getattr(torch, "cuda", None)
    return torch if cuda is not None and cuda.is_initialized() else None


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value


def _norm(uuid: str) -> str:
    """A UUID without its ``GPU-``/``MIG-`` prefix, lower case (torch prints it bare)."""
    lowered = uuid.lower()
    for prefix in ("gpu-", "mig-"):
        if lowered.startswith(prefix):
            return lowered[len(prefix):]
    return lowered


def _reindexed(gpu: Gpu, index: int) -> Gpu:
    return gpu if gpu.index == index else dataclasses.replace(gpu, index=index)  # keys follow the index
