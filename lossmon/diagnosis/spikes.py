"""Spike detection: a point far above what the recent accepted points predict.

The prediction is a least-squares line through the last `window` accepted points, in log-loss
against log-steps (a power law is a straight line there), so on a falling curve the reference is
where the curve is now, not the window's mean, and a 40-point log averaged every 500 steps is
predicted to within its own small scatter; the scale is the line's residual scatter, widened for
short windows. A point is flagged when it is more than
`sigmas` scales and more than `rel` of the predicted level above the prediction (both tests, as in
Lightning's SpikeDetection). Flagged points never enter the window (OLMo-core), so a spike cannot
raise the bar for the next one; after `accept_after` flags in a row the new level is accepted.

Vectorised per chunk: rolling sums from cumulative sums give every point's line at once. Only a
flagged point restarts the chunk just after itself, so a healthy stream costs a few numpy passes.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.config import SpikeConfig
from lossmon.formatting import fmt_step, pct
from lossmon.formatting import fmt_value as fmt

_CHUNK = 2048

FlagHook = Callable[[int, int], None]  # (step, index of the point in the batch)


def rolling_line(seq: np.ndarray, pos: np.ndarray, first: int, window: int
                 ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For each target index t >= first: (prediction at pos[t], residual scale, points used), from
    the least-squares line through (pos, seq)[max(0, t - window):t]."""
    n = len(seq)
    t = np.arange(first, n)
    m = np.minimum(window, t).astype(np.float64)
    lo = t - m.astype(np.int64)
    y = seq - seq[0]  # centred: the sums below lose no digits to a large common level
    x = pos - pos[0]
    cols = np.zeros((5, n + 1))  # one cumulative sum for all five running sums
    cols[0, 1:], cols[1, 1:], cols[2, 1:], cols[3, 1:], cols[4, 1:] = y, y * y, x, x * x, x * y
    np.cumsum(cols, axis=1, out=cols)
    sy, syy, sx, sxx_, sxy_ = cols[:, t] - cols[:, lo]
    with np.errstate(divide="ignore", invalid="ignore"):
        xm, ym = sx / m, sy / m
        sxx = sxx_ - m * xm * xm
        sxy = sxy_ - m * xm * ym
        slope = np.where(sxx > 1e-12 * np.maximum(sxx_, 1e-300), sxy / sxx, 0.0)
        pred = ym + slope * (x[t] - xm)
        sse = np.maximum(syy - m * ym * ym - slope * sxy, 0.0)
        dof = np.maximum(m - 2.0, 1.0)
        # residual scale, widened for the line's own uncertainty and for few points
        scale = np.sqrt(sse / dof) * np.sqrt(1.0 + 4.0 / m) * (1.0 + 2.0 / dof)
    return pred + seq[0], scale, m


class SpikeDetector:
    """Spikes on one metric. `feed` takes finite points in step order."""

    def __init__(self, cfg: SpikeConfig, sink, metric: str, severity: str = "warning",
                 on_flag: FlagHook | None = None, robust: bool = False) -> None:
        self.cfg = cfg
        self.metric = metric
        self.severity = severity
        self.on_flag = on_flag
        self.robust = robust  # re-judge near misses against the median residual (the train loss)
        self.episode = Episode(sink, "spike", metric)
        self.win = np.empty(0)  # accepted points, newest last, at most cfg.window
        self.win_x = np.empty(0)  # ... and their positions, log(steps since the origin)
        self.origin: int | None = None  # the step before the first (or the re-base step)
        self.streak: list[float] = []  # values of the flagged points in a row, newest last
        self.quiet = 0  # accepted points since the last flag
        self.flags = 0  # flagged points in the open episode
        self.log = True  # work on log(values) while every value is positive
        self.peak = 0.0  # the largest |value| seen: the scale of a curve judged on its values
        self._held: tuple[int, float] | None = None  # a first point waiting for the second
        self.opened_value = math.nan  # the value that opened the current episode
        self._below: tuple[float, int] | None = None  # after a rollback: (the spike's value, the rollback's step)
        self.short_rule = True  # judge from 3 points (a log pasted mid-run); off after a rollback
        self.evidence: Callable[[int], str] = lambda step: ""  # other signals near a step (engine)

    def rebase(self, step: int | None = None) -> None:
        """Forget the past (a manual LR change): the window refills before it arms again."""
        self.win = np.empty(0)
        self.win_x = np.empty(0)
        self.streak = []
        self.origin = step
        self.short_rule = True

    def rollback(self, step: int) -> None:
        """The run went back to a snapshot at `step`: forget the past, and resolve the open
        episode at the first point of the new branch below the value that opened it."""
        self.rebase(step)
        self.short_rule = False  # a line through a restart's first few points says nothing: wait for min_points
        self._held = None
        self._below = (self.opened_value, step) if self.episode.open else None

    def _resolve_below(self, steps: np.ndarray, values: np.ndarray) -> None:
        value, to = self._below
        under = np.flatnonzero(values < value) if np.isfinite(value) else np.arange(len(values))
        if not len(under):
            return
        self._below = None
        if self.episode.open:
            at = int(steps[under[0]])
            self.episode.resolve(at, f"{self.metric} is back below the spike ({fmt(value)} at step"
                                 f" {fmt_step(self.episode.opened_at)}) on the run rolled back to step {fmt_step(to)}")

    def feed(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Finite points in step order.

        Positive curves (losses, norms) are judged on a log scale: batch noise is multiplicative
        and right-skewed, which a log makes close to symmetric, and a spike is then a ratio, the
        same at 1e-4 and at 1e3. A curve that goes <= 0 is judged on its values from then on."""
        if self._below is not None and len(values):
            self._resolve_below(steps, values)
        if self.origin is None:  # the origin needs the first two steps' gap: hold a lone first point
            if self._held is not None:
                steps = np.concatenate(([self._held[0]], steps))
                values = np.concatenate(([self._held[1]], values))
                self._held = None
            if len(steps) == 1:
                self._held = (int(steps[0]), float(values[0]))
                return
        if self.log and len(values) and float(values.min()) <= 0:
            self.log = False
            self.win = np.exp(self.win)
            self.streak = []
        with np.errstate(divide="ignore"):
            y = np.log(values) if self.log else values
        if len(steps) == 0:
            return
        self.peak = max(self.peak, float(np.max(np.abs(values))))
        if self.origin is None:
            gap = int(steps[1] - steps[0]) if len(steps) > 1 else 1
            self.origin = int(steps[0]) - max(1, gap)
        x = np.log(np.maximum(steps.astype(np.float64) - float(self.origin), 1.0))  # floats: steps may span all of int64
        i, n = 0, len(y)
        cfg = self.cfg
        rel = np.log1p(cfg.rel)
        while i < n:
            chunk = y[i:i + _CHUNK]
            seq = np.concatenate((self.win, chunk))
            pos = np.concatenate((self.win_x, x[i:i + _CHUNK]))
            first = len(self.win)
            pred, scale, m = rolling_line(seq, pos, first, cfg.window)
            excess = chunk - pred
            # on values, also a millionth of the curve's largest size: a loss fitted down to 0 that
            # reads 1e-40 next is not a spike, however many times its prediction that is
            floor = rel if self.log else np.maximum(cfg.rel * np.abs(pred), 1e-6 * self.peak)
            hit = (m >= cfg.min_points) & (excess > cfg.sigmas * scale) & (excess > floor)
            # a log pasted mid-run or a short sparse one: from 3 points on, only a jump 3x beyond
            # both bars counts (a line through 3-5 points says little about their scatter)
            if self.short_rule:
                hit |= (m >= 3) & (m < cfg.min_points) & (excess > 3 * cfg.sigmas * scale) & (excess > 3 * floor)
            # the residual RMS is inflated by a curve's bends and by earlier spikes too small to flag:
            # on a train loss (batch noise, many points) a point 3.5 RMS out is judged again against
            # the median residual of its window; a smooth val curve turning up is no spike
            near = (m >= cfg.min_points) & ~hit & (excess > 3.5 * scale) & (excess > floor) & self.robust
            for j in np.flatnonzero(near).tolist():
                scale_j = self._robust_scale(seq, first + j, cfg.window, pos)
                if scale_j > 0 and excess[j] > cfg.sigmas * scale_j:
                    hit[j] = True
                    break  # the chunk restarts after the first flag
            idx = np.flatnonzero(hit)
            j = int(idx[0]) if len(idx) else len(chunk)
            if j > 0:
                self._accept(steps[i:i + j], chunk[:j], x[i:i + j])
            if j < len(chunk):
                p = float(pred[j])
                self._flag(int(steps[i + j]), float(values[i + j]), float(np.exp(p)) if self.log else p,
                           float(chunk[j] - p) / float(scale[j]) if scale[j] > 0 else float("inf"),
                           float(chunk[j]), float(x[i + j]), i + j)
            i += j + 1 if j < len(chunk) else j

    def _robust_scale(self, seq: np.ndarray, t: int, window: int, pos: np.ndarray) -> float:
        """The scale of the line through the window before `t` from its median absolute residual,
        widened for the line's uncertainty as rolling_line's is (0 when there are too few points).
        Few points get here (those 3.5 RMS out), so a plain fit is affordable."""
        lo = max(0, t - window)
        y, x = seq[lo:t], pos[lo:t]
        m = len(y)
        if m < self.cfg.min_points:
            return 0.0
        xm, ym = float(x.mean()), float(y.mean())
        dx = x - xm
        sxx = float(dx @ dx)
        slope = float(dx @ (y - ym)) / sxx if sxx > 0 else 0.0
        resid = y - ym - slope * dx
        mad = float(np.median(np.abs(resid - np.median(resid)))) * 1.4826
        dof = max(m - 2.0, 1.0)
        return mad * math.sqrt(1.0 + 4.0 / m) * (1.0 + 2.0 / dof)

    def _accept(self, steps: np.ndarray, accepted: np.ndarray, xs: np.ndarray) -> None:
        w = self.cfg.window
        self.win = np.concatenate((self.win[-w:], accepted[-w:]))[-w:]
        self.win_x = np.concatenate((self.win_x[-w:], xs[-w:]))[-w:]
        self.streak = []
        before = self.quiet
        self.quiet += len(accepted)
        need = self.cfg.quiet
        if self.episode.open and before < need <= self.quiet:
            at = int(steps[need - before - 1])  # the point that completed the quiet stretch
            if self.episode.severity == self.severity:  # a lone spike: its alert said it all
                self.episode.close()
            else:
                self.episode.resolve(at, f"{self.metric} back to normal after the spikes from step"
                                     f" {fmt_step(self.episode.opened_at)} ({self.flags} points flagged)")

    def _flag(self, step: int, value: float, pred: float, sig: float, y: float, x: float, index: int) -> None:
        cfg = self.cfg
        self.quiet = 0
        self.streak.append((y, x))
        if self.on_flag is not None and not self.episode.open:
            self.on_flag(step, index)
        if not self.episode.open:
            self.flags = 0
            self.opened_value = value
            over = (value - pred) / abs(pred) if pred else float("inf")
            scatter = f"{sig:.0f} sigma of its recent scatter" if np.isfinite(sig) else "it had no scatter before"
            self.episode.start(step, self.severity,
                               f"{self.metric} spiked to {fmt(value)} at step {fmt_step(step)}, {pct(over)} above the"
                               f" {fmt(pred)} expected ({scatter}){self.evidence(step)}",
                               "cut_lr" if self.severity != "info" else "none",
                               value=value, expected=pred)
        self.flags += 1
        if len(self.streak) == cfg.persistent:
            base = float(np.mean(self.win)) if len(self.win) else pred
            base = float(np.exp(base)) if self.log and len(self.win) else base
            self.episode.escalate(step, "critical" if self.severity != "info" else "warning",
                                  f"{self.metric} has stayed high for {cfg.persistent} points in a row"
                                  f" (now {fmt(value)}, {fmt(value / base if base else float('inf'))}x its recent"
                                  f" mean {fmt(base)})", "rollback", value=value, expected=base)
        if len(self.streak) >= cfg.accept_after:  # a new level, not a spike: the window follows it
            self.win = np.array([v for v, _ in self.streak[-cfg.window:]])
            self.win_x = np.array([p for _, p in self.streak[-cfg.window:]])
            self.streak = []

