"""What the GPU meters' tests share: a machine without CUDA settings or a real torch, a fake
clock, and the fake NVML installed as ``pynvml`` (tests/fakes/fake_nvml.py)."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from tests.fakes.fake_nvml import FakeClock, FakeGpu, FakeNvml


@pytest.fixture
def no_gpu_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No CUDA variables, and no real torch in sys.modules (restored after the test)."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.delenv("CUDA_DEVICE_ORDER", raising=False)
    monkeypatch.delitem(sys.modules, "torch", raising=False)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def install(monkeypatch: pytest.MonkeyPatch, clock: FakeClock) -> Callable[..., FakeNvml]:
    """``install(FakeGpu(...), ...)``: the fake NVML, on ``clock``, as the ``pynvml`` module."""
    def install(*gpus: FakeGpu) -> FakeNvml:
        fake = FakeNvml(list(gpus), clock)
        monkeypatch.setitem(sys.modules, "pynvml", fake.module)
        return fake

    return install
