"""Non-finite values (NaN, +-inf): reported at the first one, no warm-up, one episode per outbreak."""

from __future__ import annotations

import numpy as np

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.config import NonFiniteConfig
from lossmon.formatting import fmt_step


class NonFiniteDetector:
    """Counts non-finite points on one metric; the episode closes after `resolve_after` finite ones.

    Gradient norms are different: mixed-precision training (GradScaler) sees inf gradients now and
    then by design and skips those steps, so on a grad norm a lone inf is info and only a run of
    them is critical."""

    def __init__(self, cfg: NonFiniteConfig, sink, metric: str, is_grad_norm: bool = False) -> None:
        self.cfg = cfg
        self.metric = metric
        self.grad = is_grad_norm
        self.episode = Episode(sink, "nonfinite", metric)
        self.total = 0
        self.in_row = 0  # non-finite points in a row
        self.finite_run = 0  # finite points since the last non-finite one
        self._first_steps: list[int] = []

    @property
    def repeats(self) -> int:
        """Non-finite grad norms in a row that are critical: 10 steps' worth, but at least 2 logged
        points (a log every 10 steps that reads NaN twice has been broken for 10 steps)."""
        st = self._first_steps  # the first two steps: fixed, so live and `check` agree
        gap = max(1, st[1] - st[0]) if len(st) >= 2 else 1
        return max(2, -(-10 // gap))

    def feed(self, steps: np.ndarray, values: np.ndarray, bad: np.ndarray) -> None:
        """`bad`: the mask of non-finite values (computed once by the caller). One Python
        iteration per run of finite or non-finite points, not per point."""
        n = len(values)
        if n == 0:
            return
        if len(self._first_steps) < 2:
            self._first_steps.extend(steps[:2 - len(self._first_steps)].tolist())
        if not bad.any():
            self._finite(steps)
            return
        edges = np.flatnonzero(np.diff(bad.astype(np.int8))) + 1
        bounds = [0, *edges.tolist(), n]
        for a, b in zip(bounds, bounds[1:]):
            if bad[a]:
                self._bad_run(steps[a:b], float(values[a]))
            else:
                self._finite(steps[a:b])

    def _bad_run(self, steps: np.ndarray, first: float) -> None:
        count = len(steps)
        before = self.in_row
        self.total += count
        self.in_row += count
        self.finite_run = 0
        step = int(steps[0])
        what = "NaN" if first != first else ("+inf" if first > 0 else "-inf")
        if not self.grad:
            self.episode.escalate(step, "critical", f"{self.metric} is {what} at step {fmt_step(step)}: training"
                                  " has broken down (overflow, a bad batch, or an LR far too high)", "rollback")
            return
        if not self.episode.open:
            self.episode.start(step, "info", f"{self.metric} was {what} at step {fmt_step(step)}; with mixed"
                               " precision the scaler skips such steps, so this is fine unless it repeats")
        need = self.repeats
        if before < need <= self.in_row:
            at = int(steps[need - before - 1])
            self.episode.escalate(at, "critical", f"{self.metric} has been non-finite for {need} logged points in"
                                  f" a row (to step {fmt_step(at)}): the gradients have blown up", "rollback")

    def _finite(self, steps: np.ndarray) -> None:
        before = self.finite_run
        self.in_row = 0
        self.finite_run += len(steps)
        need = self.cfg.resolve_after
        if self.episode.open and before < need <= self.finite_run:
            at = int(steps[need - before - 1])  # the step where the run of finite points reached it
            self.episode.resolve(at, f"{self.metric} finite again for {need} points;"
                                 f" {self.total} non-finite value{'s' if self.total != 1 else ''} so far")
