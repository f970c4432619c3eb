"""Spike detection: a point far above what the recent accepted points predict.

The prediction is a least-squares line through the last `window` accepted points (by position), so
on a falling curve the reference is where the curve is now, not the window's mean; the scale is the
line's residual scatter, widened for short windows. A point is flagged when it is more than
`sigmas` scales and more than `rel` of the predicted level above the prediction (both tests, as in
Lightning's SpikeDetection). Flagged points never enter the window (OLMo-core), so a spike cannot
raise the bar for the next one; after `accept_after` flags in a row the new level is accepted.

Vectorised per chunk: rolling sums from cumulative sums give every point's line at once. Only a
flagged point restarts the chunk just after itself, so a healthy stream costs a few numpy passes.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from .alerts import Episode, fmt, fmt_step, pct
from .config import SpikeConfig

_CHUNK = 2048

FlagHook = Callable[[int, int], None]  # (step, index of the point in the batch)


def rolling_line(seq: np.ndarray, first: int, window: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each target index t >= first in seq: (prediction at t, residual scale, points used),
    from the line fitted to seq[max(0, t - window):t]."""
    n = len(seq)
    t = np.arange(first, n)
    m = np.minimum(window, t).astype(np.float64)
    lo = t - m.astype(np.int64)
    ref = seq[0]
    y = seq - ref  # centred: the sums below lose no digits to a large common level
    p = np.arange(n, dtype=np.float64)
    cy = np.concatenate(([0.0], np.cumsum(y)))
    cyy = np.concatenate(([0.0], np.cumsum(y * y)))
    cpy = np.concatenate(([0.0], np.cumsum(p * y)))
    sy = cy[t] - cy[lo]
    syy = cyy[t] - cyy[lo]
    spy = cpy[t] - cpy[lo]
    # positions lo..t-1: sum p and sum p^2 in closed form
    a, b = lo.astype(np.float64), t.astype(np.float64) - 1.0
    sp = (a + b) * m / 2.0
    spp = (b * (b + 1) * (2 * b + 1) - (a - 1) * a * (2 * a - 1)) / 6.0
    with np.errstate(divide="ignore", invalid="ignore"):
        pm, ym = sp / m, sy / m
        sxx = spp - m * pm * pm
        sxy = spy - m * pm * ym
        slope = np.where(sxx > 0, sxy / sxx, 0.0)
        pred = ym + slope * (t - pm)
        sse = np.maximum(syy - m * ym * ym - slope * sxy, 0.0)
        dof = np.maximum(m - 2.0, 1.0)
        # residual scale, widened for the line's own uncertainty and for few points
        scale = np.sqrt(sse / dof) * np.sqrt(1.0 + 4.0 / m) * (1.0 + 2.0 / dof)
    return pred + ref, scale, m


class SpikeDetector:
    """Spikes on one metric. `feed` takes finite points in step order."""

    def __init__(self, cfg: SpikeConfig, sink, metric: str, severity: str = "warning",
                 on_flag: FlagHook | None = None) -> None:
        self.cfg = cfg
        self.metric = metric
        self.severity = severity
        self.on_flag = on_flag
        self.episode = Episode(sink, "spike", metric)
        self.win = np.empty(0)  # accepted points, newest last, at most cfg.window
        self.streak: list[float] = []  # values of the flagged points in a row, newest last
        self.quiet = 0  # accepted points since the last flag
        self.flags = 0  # flagged points in the open episode
        self.peak = (0, 0.0, 0.0)  # (step, value, predicted) of the episode's worst point
        self.log = True  # work on log(values) while every value is positive

    def rebase(self) -> None:
        """Forget the past (a manual LR change): the window refills before it arms again."""
        self.win = np.empty(0)
        self.streak = []

    def feed(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Finite points in step order.

        Positive curves (losses, norms) are judged on a log scale: batch noise is multiplicative
        and right-skewed, which a log makes close to symmetric, and a spike is then a ratio, the
        same at 1e-4 and at 1e3. A curve that goes <= 0 is judged on its values from then on."""
        if self.log and len(values) and float(values.min()) <= 0:
            self.log = False
            self.win = np.exp(self.win)
            self.streak = []
        with np.errstate(divide="ignore"):
            y = np.log(values) if self.log else values
        i, n = 0, len(y)
        cfg = self.cfg
        rel = np.log1p(cfg.rel)
        while i < n:
            chunk = y[i:i + _CHUNK]
            seq = np.concatenate((self.win, chunk))
            first = len(self.win)
            pred, scale, m = rolling_line(seq, first, cfg.window)
            excess = chunk - pred
            floor = rel if self.log else cfg.rel * np.abs(pred)
            hit = (m >= cfg.min_points) & (excess > cfg.sigmas * scale) & (excess > floor)
            idx = np.flatnonzero(hit)
            j = int(idx[0]) if len(idx) else len(chunk)
            if j > 0:
                self._accept(steps[i + j - 1], chunk[:j])
            if j < len(chunk):
                p = float(pred[j])
                self._flag(int(steps[i + j]), float(values[i + j]), float(np.exp(p)) if self.log else p,
                           float(chunk[j] - p) / float(scale[j]) if scale[j] > 0 else float("inf"),
                           float(chunk[j]), i + j)
            i += j + 1 if j < len(chunk) else j

    def _accept(self, last_step: int, accepted: np.ndarray) -> None:
        w = self.cfg.window
        self.win = np.concatenate((self.win[-w:], accepted[-w:]))[-w:]
        self.streak = []
        self.quiet += len(accepted)
        if self.episode.open and self.quiet >= self.cfg.quiet:
            if self.episode.severity == self.severity:  # a lone spike: its alert said it all
                self.episode.close()
            else:
                step = self.peak[0]
                self.episode.resolve(int(last_step), f"{self.metric} back to normal after the spikes from step"
                                     f" {fmt_step(step)} ({self.flags} points flagged)")

    def _flag(self, step: int, value: float, pred: float, sig: float, y: float, index: int) -> None:
        cfg = self.cfg
        self.quiet = 0
        self.streak.append(y)
        if self.on_flag is not None and not self.episode.open:
            self.on_flag(step, index)
        if not self.episode.open:
            self.flags = 0
            self.peak = (step, value, pred)
            over = (value - pred) / abs(pred) if pred else float("inf")
            self.episode.start(step, self.severity,
                               f"{self.metric} spiked to {fmt(value)} at step {fmt_step(step)}, {pct(over)} above the"
                               f" {fmt(pred)} expected ({sig:.0f} sigma of its recent scatter)",
                               "cut_lr" if self.severity != "info" else "none",
                               value=value, expected=pred)
        self.flags += 1
        if value > self.peak[1]:
            self.peak = (step, value, pred)
        if len(self.streak) == cfg.persistent:
            base = float(np.mean(self.win)) if len(self.win) else pred
            base = float(np.exp(base)) if self.log and len(self.win) else base
            self.episode.escalate(step, "critical" if self.severity != "info" else "warning",
                                  f"{self.metric} has stayed high for {cfg.persistent} points in a row"
                                  f" (now {fmt(value)}, {fmt(value / base if base else float('inf'))}x its recent"
                                  f" mean {fmt(base)})", "rollback", value=value, expected=base)
        if len(self.streak) >= cfg.accept_after:  # a new level, not a spike: the window follows it
            self.win = np.asarray(self.streak[-cfg.window:], dtype=np.float64)
            self.streak = []

