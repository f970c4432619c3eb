"""The update-to-weight ratio: direct evidence for "LR too small / too large".

Per param group, r = log10(||dw|| / ||w||) over one optimizer step (Karpathy's rule of thumb: about
-3 is healthy, below about -4.5 the LR is too small, above about -2 too large). The loss curve's
shape only hints at that; r measures it.

It is taken inside the optimizer-step hooks lr.py installs on every watched optimizer, every K
steps only: the pre-hook copies the group's parameters (one foreach op), the post-hook takes the
norms (torch._foreach_norm, then the norm of the norms) and leaves r as a 0-d tensor on the
parameters' device. Nothing here reads a value back -- no .item(), no host sync on the training
thread: r rides the next logged row like the effective LR does, and the pump copies it to the host.

K adapts so that measuring costs about 0.25 % of the step interval, both timed on the training
thread (on CUDA the thread pays the kernel launches, which is what the clock sees).
"""

from __future__ import annotations

import math
import time
from collections import deque
from typing import Any, Callable

TARGET = 0.0025  # measuring cost / step interval to aim for (the budget is 0.5 %)
MIN_K, MAX_K = 1, 1000
START_K = 4  # the first step is measured, then every START_K steps until the cost is known
GROWTH = 4  # K grows at most x4 per measurement (the first ones pay one-off costs) and halves at most


def metric_name(opt_index: int, group_index: int) -> str:
    """`update_ratio` for the first optimizer's first group, `update_ratio/<opt>.<group>` else
    (as `lr` and `lr/<opt>.<group>`)."""
    return "update_ratio" if opt_index == 0 and group_index == 0 else f"update_ratio/{opt_index}.{group_index}"


class RatioMeter:
    """The measurement for one optimizer: when to measure, and the copy held between its hooks."""

    def __init__(self, index: int, clock: Callable[[], float] | None = None,
                 on_fail: Callable[["RatioMeter"], None] | None = None) -> None:
        self.index = index
        self.clock = clock if clock is not None else time.perf_counter
        self.on_fail = on_fail
        self.k = START_K
        self.countdown = 1  # pre-hooks until the next measured step (the first step is measured)
        self.disabled: str | None = None  # why measuring stopped (an exception), else None
        self.cost: float | None = None  # median hook cost of the last measurements, seconds
        self.interval: float | None = None  # step interval between the last two measurements, seconds
        self._saved: list[tuple[int, list[Any], list[Any]]] | None = None
        self._t0 = 0.0
        self._pre_cost = 0.0
        self._costs: deque[float] = deque(maxlen=3)
        self._prev: tuple[float, float] | None = None  # (clock at the last measured pre-hook, its cost)
        self._since = 1  # steps from that measurement to the next

    def pre(self, groups: list[dict]) -> None:
        """Optimizer pre-hook: on a measured step, copy the parameters that are about to change."""
        self.countdown -= 1
        if self.countdown > 0 or self.disabled is not None:
            return
        t0 = self.clock()
        try:
            self._saved = _copy_groups(groups)
        except Exception as e:  # out of memory, say: measuring must never take training down
            self._saved = None
            self._fail(e)
            return
        self._t0 = t0
        self._pre_cost = self.clock() - t0

    @property
    def measuring(self) -> bool:
        return self._saved is not None

    def post(self, out: dict[str, Any]) -> None:
        """Optimizer post-hook of a measured step: r per group into `out` (0-d device tensors)."""
        saved, self._saved = self._saved, None
        if saved is None:
            return
        t2 = self.clock()
        try:
            for gi, params, before in saved:
                out[metric_name(self.index, gi)] = _log_ratio(params, before)
        except Exception as e:
            self._fail(e)
            return
        self._adapt(self._t0, self._pre_cost + self.clock() - t2)

    def _fail(self, e: Exception) -> None:
        self.disabled = f"{type(e).__name__}: {e}"[:300]
        if self.on_fail is not None:
            try:
                self.on_fail(self)
            except Exception:  # noqa: BLE001 - never into the optimizer step
                pass

    def _adapt(self, t0: float, cost: float) -> None:
        """Choose K so that cost / (K x interval) stays near TARGET."""
        self._costs.append(cost)
        self.cost = c = sorted(self._costs)[len(self._costs) // 2]  # one preempted measurement is ignored
        if self._prev is not None:
            t_prev, cost_prev = self._prev
            interval = (t0 - t_prev - cost_prev) / self._since  # a step without measuring
            if interval > 0:
                self.interval = interval
                need = math.ceil(c / (TARGET * interval)) if c > 0 else MIN_K
                k = min(max(need, self.k // 2), self.k * GROWTH)
                self.k = min(max(k, MIN_K), MAX_K)
        self._prev = (t0, cost)
        self._since = self.countdown = self.k


def _copy_groups(groups: list[dict]) -> list[tuple[int, list[Any], list[Any]]]:
    """(group index, its params, their copies) for each group with params that will change: those
    with a gradient (frozen or unused ones are not updated). A group spread over several devices is
    left out: joining its norms would need a copy between devices."""
    import torch

    out = []
    with torch.no_grad():
        for gi, g in enumerate(groups):
            params = [p for p in g.get("params", ()) if p.grad is not None]
            if not params:
                continue
            device = params[0].device
            if any(p.device != device for p in params):
                continue
            out.append((gi, params, torch._foreach_mul(params, 1.0)))
    return out


def _log_ratio(params: list[Any], before: list[Any]) -> Any:
    """log10(||w_after - w_before|| / ||w_after||) as a 0-d float32 tensor, never read back. Zero
    weights give NaN or inf, a zero update -inf: values, not errors."""
    import torch

    with torch.no_grad():
        torch._foreach_sub_(before, params)  # w_before - w_after: same norm as the update
        d = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(before, 2, dtype=torch.float32)))
        w = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(params, 2, dtype=torch.float32)))
        return torch.log10(d / w)
