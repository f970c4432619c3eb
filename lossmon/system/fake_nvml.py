"""A scripted stand-in for the `pynvml` module, for tests and demos on machines without a GPU:
`SystemSampler(run, nvml=FakeNVML([FakeGpu(...)]))`. Each figure is a number or a function of
the sample count; `None` makes the board answer NOT_SUPPORTED, as some do for power."""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any, Callable

NVML_TEMPERATURE_GPU = 0
MIB = 1024 * 1024


class NVMLError(Exception):
    pass


@dataclass
class FakeGpu:
    util: Any = 50.0  # percent
    used_mb: Any = 1024.0
    total_mb: float = 81920.0
    temp: Any = 60.0
    power_w: Any = 250.0
    uuid: str = "GPU-00000000-fake"


class FakeNVML:
    NVML_TEMPERATURE_GPU = NVML_TEMPERATURE_GPU
    NVMLError = NVMLError

    def __init__(self, gpus: list[FakeGpu], fail_init: bool = False) -> None:
        self.gpus = gpus
        self.fail_init = fail_init
        self.calls = 0  # utilization reads: the clock the scripted figures run on
        self.shut = False

    def _get(self, value: Any | Callable[[int], Any]) -> Any:
        v = value(self.calls) if callable(value) else value
        if v is None:
            raise NVMLError("Not Supported")
        return v

    def nvmlInit(self) -> None:
        if self.fail_init:
            raise NVMLError("Driver Not Loaded")

    def nvmlShutdown(self) -> None:
        self.shut = True

    def nvmlDeviceGetCount(self) -> int:
        return len(self.gpus)

    def nvmlDeviceGetHandleByIndex(self, i: int) -> FakeGpu:
        return self.gpus[i]

    def nvmlDeviceGetUUID(self, h: FakeGpu) -> str:
        return h.uuid

    def nvmlDeviceGetUtilizationRates(self, h: FakeGpu) -> Any:
        if h is self.gpus[0]:
            self.calls += 1
        return SimpleNamespace(gpu=self._get(h.util), memory=0)

    def nvmlDeviceGetMemoryInfo(self, h: FakeGpu) -> Any:
        used = self._get(h.used_mb) * MIB
        return SimpleNamespace(used=used, total=h.total_mb * MIB, free=h.total_mb * MIB - used)

    def nvmlDeviceGetTemperature(self, h: FakeGpu, sensor: int) -> float:
        return self._get(h.temp)

    def nvmlDeviceGetPowerUsage(self, h: FakeGpu) -> float:
        return self._get(h.power_w) * 1000.0
