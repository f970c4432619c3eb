"""Divergence: the smoothed loss climbs far above the best it reached.

The smoothing is a debiased EMA whose time constant is set in steps (beta per step, as in the LR
finder's stop rule), so a curve logged every 500 steps is barely smoothed (each point is already a
mean) and a per-step curve is smoothed over ~50 steps. The alert fires when the smoothed loss is
`factor` x its running minimum, or back above where it started after having halved: a loss that
went from 10.8 to 3 and climbs back to 11 has diverged even though 11/3 < 4.
Only defined for positive curves (a ratio to the minimum means nothing when it can be <= 0).
"""

from __future__ import annotations

import math

import numpy as np

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.config import DivergenceConfig
from lossmon.formatting import fmt_step
from lossmon.formatting import fmt_value as fmt
from lossmon.recording.smoothing import ema


class DivergenceDetector:
    def __init__(self, cfg: DivergenceConfig, sink, metric: str) -> None:
        self.cfg = cfg
        self.metric = metric
        self.episode = Episode(sink, "divergence", metric)
        self.gap = 1.0  # median step spacing of the first points
        self._first_steps: list[int] = []
        self.m = 0.0  # biased EMA state
        self.wsum = 0.0  # 1 - prod(beta): the debiasing denominator
        self.since = 0  # points since the start or the last re-base
        self.best = math.inf
        self.start: float | None = None
        self.positive = True

    def rebase(self) -> None:
        self.since = 0
        self.best = math.inf
        self.start = None

    def _learn_gap(self, steps: np.ndarray) -> None:
        if len(self._first_steps) >= 16:
            return
        self._first_steps.extend(int(s) for s in steps[:16 - len(self._first_steps)])
        if len(self._first_steps) >= 2:
            self.gap = max(1.0, float(np.median(np.diff(self._first_steps))))

    def feed(self, steps: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Finite points in step order; returns their smoothed values (the val detectors use them)."""
        n = len(values)
        if n == 0:
            return np.empty(0)
        self._learn_gap(steps)
        if self.positive and float(values.min()) <= 0:
            self.positive = False
            self.episode.resolve(int(steps[-1]), f"{self.metric} is not a positive quantity; divergence is not checked")
        beta = self.cfg.beta ** self.gap
        m = ema(values, beta, self.m)
        decay = beta ** np.arange(1, n + 1)
        denom = 1.0 - (1.0 - self.wsum) * decay
        smooth = m / denom
        self.m, self.wsum = float(m[-1]), float(denom[-1])
        warm = max(3, int(math.ceil(self.cfg.warmup_steps / self.gap)))
        pos = self.since + np.arange(1, n + 1)
        self.since += n
        if self.cfg.enabled and self.positive:
            self._check(steps, smooth, pos >= warm)
        return smooth

    def _check(self, steps: np.ndarray, smooth: np.ndarray, valid: np.ndarray) -> None:
        if not valid.any():
            return
        first = int(np.argmax(valid))
        if self.start is None:
            self.start = float(smooth[first])
        mins = np.minimum.accumulate(np.where(valid, smooth, np.inf))
        mins = np.minimum(mins, self.best)
        self.best = float(mins[-1])
        f = self.cfg.factor
        with np.errstate(invalid="ignore"):
            bad = valid & ((smooth > f * mins) | ((smooth > self.start) & (mins < self.start / 2)))
        if not self.episode.open:
            hit = np.flatnonzero(bad)
            if len(hit) == 0:
                return
            j = int(hit[0])
            s, b = float(smooth[j]), float(mins[j])
            self.episode.start(int(steps[j]), "critical",
                               f"{self.metric} is diverging: smoothed {fmt(s)} at step {fmt_step(int(steps[j]))} is"
                               f" {s / b:.1f}x its best {fmt(b)}" + (f" and above its start {fmt(self.start)}"
                                                                       if s > self.start else ""),
                               "rollback", value=s, best=b)
            smooth, mins, steps = smooth[j:], mins[j:], steps[j:]
        back = np.flatnonzero(smooth <= 1.5 * mins)
        if len(back):
            j = int(back[0])
            self.episode.resolve(int(steps[j]), f"{self.metric} recovered: smoothed {fmt(float(smooth[j]))}"
                                 f" is back within 1.5x its best {fmt(float(mins[j]))}")
