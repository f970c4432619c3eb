"""Alerts from the system samples (lossmon/system): a GPU about to run out of memory, and a GPU
that idles while training runs (an input-bound loop, when the data-wait share says so).

gpu_memory  warning when `gpu<i>/mem_used_mb` is within `headroom_percent` of `mem_total_mb`: the
            next allocation spike is an OOM. Resolved below twice that headroom.
gpu_idle    info when `gpu<i>/util_percent` stayed under `util_below` for `samples` samples in a row
            (one a second: a minute) while the step counter moved. With `sys/data_wait_percent`
            known, the words say whether the loop waits for its data (more DataLoader workers,
            pin_memory) or the GPU idles for another reason.
"""

from __future__ import annotations

import re
from collections import deque

import numpy as np

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.config import GpuIdleConfig, GpuMemoryConfig

_GPU = re.compile(r"^gpu(\d+)/(util_percent|mem_used_mb|mem_total_mb)$")
DATA_WAIT = "sys/data_wait_percent"
INPUT_BOUND_WAIT = 20.0  # % of the time in next(): the loop waits for its data


class _Gpu:
    def __init__(self, sink, i: int, idle: GpuIdleConfig) -> None:
        self.total: float | None = None
        self.memory = Episode(sink, "gpu_memory", f"gpu{i}/mem_used_mb")
        self.idle = Episode(sink, "gpu_idle", f"gpu{i}/util_percent")
        self.low: deque = deque(maxlen=idle.samples)  # (step, util) of the latest samples in a row under the bar
        self.busy = 0  # samples in a row at or above the bar (closes an idle note)


class SystemDetector:
    """Both GPU rules for every GPU seen; `feed` takes the system series of one batch."""

    def __init__(self, memory: GpuMemoryConfig, idle: GpuIdleConfig, sink) -> None:
        self.memory_cfg = memory
        self.idle_cfg = idle
        self.sink = sink
        self.gpus: dict[int, _Gpu] = {}
        self.data_wait: deque = deque(maxlen=idle.samples)

    def _gpu(self, i: int) -> _Gpu:
        g = self.gpus.get(i)
        if g is None:
            g = self.gpus[i] = _Gpu(self.sink, i, self.idle_cfg)
        return g

    def feed(self, arrays: dict) -> None:
        """{name: (steps, values)} of system metrics, in step order."""
        if DATA_WAIT in arrays:
            self.data_wait.extend(v for v in np.asarray(arrays[DATA_WAIT][1]).tolist() if v == v)
        for name, (steps, values) in arrays.items():
            m = _GPU.match(name)
            if m is not None and m.group(2) == "mem_total_mb" and len(values):
                self._gpu(int(m.group(1))).total = float(values[-1])
        for name, (steps, values) in arrays.items():
            m = _GPU.match(name)
            if m is None:
                continue
            g = self._gpu(int(m.group(1)))
            if m.group(2) == "mem_used_mb" and self.memory_cfg.enabled:
                self._memory(int(m.group(1)), g, steps, values)
            elif m.group(2) == "util_percent" and self.idle_cfg.enabled:
                self._idle(int(m.group(1)), g, steps, values)

    def _memory(self, i: int, g: _Gpu, steps, values) -> None:
        total = g.total
        if not total or total <= 0:
            return
        room = self.memory_cfg.headroom_percent / 100.0
        for s, used in zip(np.asarray(steps).tolist(), np.asarray(values, dtype=float).tolist()):
            if used != used:
                continue
            if used >= total * (1 - room):
                g.memory.start(s, "warning", f"GPU {i} memory is {used / total:.1%} full ({used / 1024:,.1f} of"
                               f" {total / 1024:,.1f} GiB): the next allocation peak may be an out-of-memory error;"
                               " a smaller batch, activation checkpointing or mixed precision would leave room",
                               used_mb=used, total_mb=total)
            elif g.memory.open and used < total * (1 - 2 * room):
                g.memory.resolve(s, f"GPU {i} memory is back to {used / total:.0%}")

    def _idle(self, i: int, g: _Gpu, steps, values) -> None:
        cfg = self.idle_cfg
        for s, util in zip(np.asarray(steps).tolist(), np.asarray(values, dtype=float).tolist()):
            if util != util:
                continue
            if util < cfg.util_below:
                g.low.append((s, util))
                g.busy = 0
            else:
                g.low.clear()
                g.busy += 1
                if g.idle.open and g.busy >= 10:
                    g.idle.resolve(s, f"GPU {i} is busy again ({util:.0f} %)")
                continue
            if g.idle.open or len(g.low) < cfg.samples or g.low[-1][0] <= g.low[0][0]:
                continue  # open already, not long enough, or no step made: training is not running
            mean = sum(u for _, u in g.low) / len(g.low)
            g.idle.start(s, "info", self._words(i, mean), "none", util_percent=round(mean, 1),
                         data_wait_percent=self._wait())

    def _wait(self) -> float | None:
        return round(sum(self.data_wait) / len(self.data_wait), 1) if self.data_wait else None

    def _words(self, i: int, mean: float) -> str:
        cfg = self.idle_cfg
        head = f"GPU {i} was under {cfg.util_below:g} % busy for {cfg.samples} samples in a row (mean {mean:.0f} %) while training ran"
        wait = self._wait()
        if wait is None:
            return (head + ": the loop is likely input-bound; try more DataLoader workers (num_workers)"
                    " and pin_memory=True")
        if wait >= INPUT_BOUND_WAIT:
            return (head + f", and the loop waited for data {wait:.0f} % of the time: it is input-bound; try more"
                    " DataLoader workers (num_workers) and pin_memory=True")
        return (head + f", but the loop waited for data only {wait:.0f} % of the time: the GPU idles for another"
                " reason (small batches, CPU work or host syncs in the step)")
