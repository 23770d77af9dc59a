"""A tiny stand-in for ``torch`` and ``torch.cuda`` for the torch meter's logic tests.

``FakeTorch(devices=2).module`` goes into ``sys.modules["torch"]``. It models
what the meter relies on: CUDA initialised or not, which devices have a primary
context, the caching allocator's current and peak bytes per device (reset by
``reset_peak_memory_stats``), and kernels queued per device that
``synchronize`` waits for by advancing a shared fake clock. Every synchronise,
reset and stats read is appended to ``log``, and a synchronise of a device
without a context is recorded in ``contexts_created`` (the meter must never do
it).

``real_time=True`` makes ``synchronize`` sleep for the queued seconds instead
of advancing the fake clock (for the engine's hang guard, which runs on real
time), and ``hang`` (an Event) makes it block until the event is set, as a
wedged GPU does. ``get_device_properties(i)`` carries ``uuid``, ``pci_bus_id``,
``pci_domain_id``, ``pci_device_id``, ``name`` and ``multi_processor_count``
as torch's does (``names``/``pci``/``sms`` set them per device).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from types import ModuleType, SimpleNamespace
from typing import Any

from tests.fakes.fake_nvml import FakeClock


@dataclass
class _Device:
    uuid: str
    name: str = "NVIDIA H100 80GB HBM3"
    pci: tuple[int, int, int] = (0, 0, 0)  # (domain, bus, device)
    sms: int = 132
    context: bool = False
    allocated: int = 0
    allocated_peak: int = 0
    reserved: int = 0
    reserved_peak: int = 0
    queued_s: float = 0.0


class FakeTorch:
    def __init__(self, devices: int = 1, clock: FakeClock | None = None, log: list[str] | None = None,
                 uuids: list[str] | None = None, has_context_api: bool = True, *, real_time: bool = False,
                 names: list[str] | None = None, pci: list[tuple[int, int, int]] | None = None,
                 sms: list[int] | None = None, props_uuid: bool = True) -> None:
        self.clock = clock or FakeClock()
        self.log = log if log is not None else []
        ids = uuids or [f"{i:08x}-0000-4000-8000-00000000000{i}" for i in range(devices)]
        self.devices = [_Device(u) for u in ids]
        for i, d in enumerate(self.devices):
            d.name = names[i] if names else d.name
            d.pci = pci[i] if pci else (0, 0x10 + i, 0)
            d.sms = sms[i] if sms else d.sms
        self.real_time = real_time
        self.hang: threading.Event | None = None
        self.props_uuid = props_uuid  # False: a torch too old for .uuid
        self.initialized = False
        self.current = 0
        self.contexts_created: list[int] = []
        self.sync_error: str | None = None
        self.module = self._build(has_context_api)

    # -- scripting -----------------------------------------------------------
    def init(self, *devices: int) -> None:
        """Initialise CUDA and create contexts on ``devices`` (default: device 0)."""
        self.initialized = True
        for d in devices or (0,):
            self.devices[d].context = True

    def alloc(self, device: int, nbytes: int) -> None:
        d = self.devices[device]
        d.context = True
        d.allocated += nbytes
        d.allocated_peak = max(d.allocated_peak, d.allocated)
        if d.allocated > d.reserved:
            d.reserved = d.allocated
            d.reserved_peak = max(d.reserved_peak, d.reserved)

    def free(self, device: int, nbytes: int) -> None:
        self.devices[device].allocated -= nbytes  # the caching allocator keeps it reserved

    def launch(self, device: int, seconds: float) -> None:
        """Queue kernels that keep ``device`` busy for ``seconds`` after the launch returns."""
        self.devices[device].queued_s += seconds

    # -- the module ----------------------------------------------------------
    def _build(self, has_context_api: bool) -> ModuleType:
        torch = ModuleType("torch")
        cuda = SimpleNamespace(
            is_initialized=lambda: self.initialized,
            device_count=lambda: len(self.devices),
            current_device=lambda: self.current,
            synchronize=self._synchronize,
            reset_peak_memory_stats=self._reset,
            max_memory_allocated=lambda d=None: self._dev(d).allocated_peak,
            max_memory_reserved=lambda d=None: self._dev(d).reserved_peak,
            memory_stats_as_nested_dict=self._stats,
            get_device_properties=self._props,
            get_device_name=lambda d=None: self._dev(d).name,
        )
        c_api = SimpleNamespace()
        if has_context_api:
            c_api._cuda_hasPrimaryContext = lambda d: self.devices[d].context
        torch.__dict__.update(cuda=cuda, _C=c_api, version=SimpleNamespace(cuda="12.4"))
        return torch

    def _props(self, index: int) -> SimpleNamespace:
        d = self.devices[index]
        props = SimpleNamespace(name=d.name, multi_processor_count=d.sms, pci_domain_id=d.pci[0],
                                pci_bus_id=d.pci[1], pci_device_id=d.pci[2])
        if self.props_uuid:
            props.uuid = d.uuid
        return props

    def _dev(self, device: int | None) -> _Device:
        return self.devices[self.current if device is None else device]

    def _synchronize(self, device: int | None = None) -> None:
        index = self.current if device is None else device
        d = self.devices[index]
        self.log.append(f"torch.sync({index})")
        if not d.context:
            self.contexts_created.append(index)
            d.context = True
        if self.sync_error is not None:
            raise RuntimeError(self.sync_error)
        if self.hang is not None:
            self.hang.wait()
        if self.real_time:
            time.sleep(d.queued_s)
        else:
            self.clock.advance(d.queued_s)
        d.queued_s = 0.0

    def _reset(self, device: int | None = None) -> None:
        d = self._dev(device)
        self.log.append(f"torch.reset({self.current if device is None else device})")
        d.allocated_peak, d.reserved_peak = d.allocated, d.reserved

    def _stats(self, device: int | None = None) -> dict[str, Any]:
        if not self.initialized:
            return {}
        d = self._dev(device)
        self.log.append(f"torch.stats({self.current if device is None else device})")
        return {"allocated_bytes": {"all": {"current": d.allocated, "peak": d.allocated_peak}},
                "reserved_bytes": {"all": {"current": d.reserved, "peak": d.reserved_peak}}}
