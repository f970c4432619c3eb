"""Per visible GPU: `gpu<i>/util_percent`, `mem_used_mb`, `mem_total_mb`, `temp_c`, `power_w`, and
`torch/cuda_max_allocated_mb` (the allocator's peak since the previous sample).

NVML (`nvidia-ml-py`, the `lossmon[gpu]` extra) gives all of them for every GPU the process may use
(CUDA_VISIBLE_DEVICES, numbered as torch numbers them). Without it, torch's own figures for the
devices training already uses: memory only. Where there is no GPU, or CUDA was never initialised by
training, nothing: no series, no panel rows, no import of torch here.
"""

from __future__ import annotations

import os
import sys
from typing import Any

MB = 1024 * 1024


def open_gpus(nvml: Any = None) -> "GpuSampler | None":
    """A sampler for this machine's GPUs, or None when there are none to see. `nvml`: the pynvml
    module (tests pass a fake); default, imported if installed."""
    if nvml is None:
        try:
            import pynvml as nvml  # nvidia-ml-py
        except Exception:  # noqa: BLE001 - not installed (or broken): torch's figures instead
            nvml = None
    if nvml is not None:
        try:
            nvml.nvmlInit()
            handles = _visible(nvml)
        except Exception:  # noqa: BLE001 - no driver, no GPU
            handles = []
        if handles:
            return GpuSampler(nvml, handles)
    return GpuSampler(None, [])  # torch's figures, once training has CUDA going


def _visible(nvml: Any) -> list:
    """NVML handles in torch's order: CUDA_VISIBLE_DEVICES by index or UUID; all when unset."""
    n = nvml.nvmlDeviceGetCount()
    every = [nvml.nvmlDeviceGetHandleByIndex(i) for i in range(n)]
    spec = os.environ.get("CUDA_VISIBLE_DEVICES")
    if spec is None:
        return every
    out = []
    for item in (x.strip() for x in spec.split(",")):
        if not item:
            break
        if item.isdigit():
            if int(item) >= n:
                break  # CUDA stops at the first invalid entry
            out.append(every[int(item)])
            continue
        found = None
        for h in every:
            try:
                uuid = nvml.nvmlDeviceGetUUID(h)
            except Exception:  # noqa: BLE001
                continue
            uuid = uuid.decode() if isinstance(uuid, bytes) else str(uuid)
            if uuid.startswith(item) or uuid.startswith("GPU-" + item):
                found = h
                break
        if found is None:
            break
        out.append(found)
    return out


class GpuSampler:
    """One sample of every GPU figure there is; a figure a GPU does not report is left out."""

    def __init__(self, nvml: Any, handles: list) -> None:
        self.nvml = nvml
        self.handles = handles
        self._missing: set[tuple[int, str]] = set()  # (gpu, field) NVML said it does not support

    def sample(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.nvml is not None:
            for i, h in enumerate(self.handles):
                self._nvml_one(i, h, out)
        torch = _cuda_torch()
        if torch is not None:
            self._torch(torch, out, memory=self.nvml is None)
        return out

    def _field(self, i: int, name: str, fn, out: dict, key: str, scale=lambda v: v) -> None:
        if (i, name) in self._missing:
            return
        try:
            out[key] = round(float(scale(fn())), 1)
        except Exception:  # noqa: BLE001 - NOT_SUPPORTED on this board: never asked again
            self._missing.add((i, name))

    def _nvml_one(self, i: int, h: Any, out: dict) -> None:
        nv = self.nvml
        p = f"gpu{i}/"
        self._field(i, "util", lambda: nv.nvmlDeviceGetUtilizationRates(h).gpu, out, p + "util_percent")
        try:
            mem = nv.nvmlDeviceGetMemoryInfo(h)
            out[p + "mem_used_mb"] = round(mem.used / MB, 1)
            out[p + "mem_total_mb"] = round(mem.total / MB, 1)
        except Exception:  # noqa: BLE001
            pass
        temp_sensor = getattr(nv, "NVML_TEMPERATURE_GPU", 0)
        self._field(i, "temp", lambda: nv.nvmlDeviceGetTemperature(h, temp_sensor), out, p + "temp_c")
        self._field(i, "power", lambda: nv.nvmlDeviceGetPowerUsage(h), out, p + "power_w", lambda mw: mw / 1000.0)

    def _torch(self, torch: Any, out: dict, memory: bool) -> None:
        """The allocator's peak since the last sample on the busiest device (and, without NVML,
        each used device's memory: the driver's free/total, as nvidia-smi counts it)."""
        cuda = torch.cuda
        peak = None
        for d in range(cuda.device_count()):
            if not cuda.memory_reserved(d):  # a device training never used: no context made here
                continue
            got = cuda.max_memory_allocated(d)
            cuda.reset_peak_memory_stats(d)
            peak = got if peak is None else max(peak, got)
            if memory:
                free, total = cuda.mem_get_info(d)
                out[f"gpu{d}/mem_used_mb"] = round((total - free) / MB, 1)
                out[f"gpu{d}/mem_total_mb"] = round(total / MB, 1)
        if peak is not None:
            out["torch/cuda_max_allocated_mb"] = round(peak / MB, 1)

    def close(self) -> None:
        if self.nvml is not None:
            try:
                self.nvml.nvmlShutdown()
            except Exception:  # noqa: BLE001
                pass


def _cuda_torch() -> Any:
    """torch, when training imported it and has initialised CUDA (never imported or initialised here)."""
    torch = sys.modules.get("torch")
    try:
        if torch is None or not torch.cuda.is_initialized():
            return None
    except Exception:  # noqa: BLE001
        return None
    return torch
