"""Where the training curve is heading: plateau, converged, and "LR too small?".

All of these compare the curve now with the curve a window ago, so they run on a `BlockHistory`
(O(1) memory) each time a block completes. The window is max(`plateau.window` points, 5 % of the
run), at most half the run, so a 40-point Hugging Face log and a 10M-step run are judged alike.
Levels are means over half a window; the noise on a level is the within-block scatter of single
points divided by the square root of the points averaged.

- plateau: the level improved by less than `min_improvement` (plus its noise) over a window.
  With the LR annealed below 10 % of its peak this is convergence (info, converged=true); with the
  LR still high it is a noise floor a lower LR may get under (info).
- lr_too_low (warning): the curve has barely moved since the start with no spikes, or it keeps
  falling at a steady rate that never slowed down (healthy curves fall fastest early), while the
  LR is neither annealed nor warming up.
(Oscillation, the other curve-shape check, is in oscillation.py.)
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.blocks import BlockHistory
from lossmon.diagnosis.config import LRTooLowConfig, PlateauConfig
from lossmon.formatting import fmt_step, pct
from lossmon.formatting import fmt_value as fmt

# Windows for the "never slowed down" rule grow until each window's fall is known to 1 % of the
# loss: finer than that costs detection delay on noisy curves, coarser makes the rates noise.
_RATE_PRECISION = 0.01


def moved(progress: float) -> str:
    """'12 % below' / '3 % above' for a relative change from a start level."""
    return f"{pct(abs(progress))} {'below' if progress >= 0 else 'above'}"


class LRTrack:
    """The effective LR as logged: its peak, its latest value and where it was at a given step.
    Samples are thinned by half whenever 4096 are held, so memory stays bounded."""

    def __init__(self) -> None:
        self.peak = 0.0
        self.current: float | None = None
        self._steps = np.empty(0, dtype=np.int64)
        self._values = np.empty(0)
        self._every = 1

    def feed(self, steps: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values) & (values > 0)
        if not ok.any():
            return
        steps, values = steps[ok], values[ok]
        self.peak = max(self.peak, float(values.max()))
        self.current = float(values[-1])
        self._steps = np.concatenate((self._steps, steps[::self._every]))
        self._values = np.concatenate((self._values, values[::self._every]))
        if len(self._steps) > 4096:
            self._steps, self._values = self._steps[::2], self._values[::2]
            self._every *= 2

    def at(self, step: int) -> float | None:
        """The LR at (or just before) `step`; the first one known if `step` is earlier."""
        if len(self._steps) == 0:
            return None
        i = int(np.searchsorted(self._steps, step, side="right")) - 1
        return float(self._values[max(i, 0)])

    @property
    def known(self) -> bool:
        return self.current is not None

    def fraction(self) -> float:
        return self.current / self.peak if self.current and self.peak > 0 else 1.0


class TrendDetector:
    """Plateau, converged and "LR too small?" on the train loss."""

    def __init__(self, plateau: PlateauConfig, lr_cfg: LRTooLowConfig, sink, metric: str,
                 blocks: BlockHistory, lr: LRTrack, spikes_since: Callable[[int], int],
                 broken: Callable[[], bool]) -> None:
        self.cfg, self.lr_cfg = plateau, lr_cfg
        self.metric = metric
        self.blocks = blocks
        self.lr = lr
        self.spikes_since = spikes_since  # spikes_since(step) -> spike episodes at or after step
        self.broken = broken  # diverged or non-finite: no trend to judge
        self.plateau = Episode(sink, "plateau", metric)
        self.too_low = Episode(sink, "lr_too_low", metric)
        self._flat_level = math.nan  # the level an open plateau was reported at
        self._need = 0.0  # points the last window() asked for
        self._reopen_at = 0  # after a plateau resolves, the next one waits until the run is 1.5x as long
        self._lr_at_open: float | None = None  # the LR when the last plateau opened

    def rebase(self, step: int) -> None:
        for ep, what in ((self.plateau, "plateau"), (self.too_low, "LR too small?")):
            ep.resolve(step, f"LR changed by hand at step {fmt_step(step)}; the {what} check starts over")

    def window(self, rel_noise: float, precision: float) -> int:
        """Points per window: max(`window`, 5 % of the run, enough points for the levels to be
        known to `precision` given the per-point relative noise), at most half the run."""
        n = self.blocks.points
        self._need = 8.0 * rel_noise * rel_noise / (precision * precision)  # se of a difference: precision/sqrt(2)
        return int(min(max(self.cfg.window, self.cfg.window_frac * n, self._need), n // 2))

    def evaluate(self) -> None:
        b = self.blocks
        n = b.points
        if n < 16 or b.count < 5 or self.broken():
            return
        block_se = b.mean_noise()  # one block mean's scatter about the trend
        k = b.count
        recent = float((b.cs[k] - b.cs[k - 4]) / (b.cn[k] - b.cn[k - 4])) + b.ref  # the last 4 blocks
        if not math.isfinite(block_se) or not math.isfinite(recent):
            return
        rel_noise = block_se * math.sqrt(b.size) / (abs(recent) or 1.0)  # of one point
        step = int(b.last[b.count - 1])
        half_run = n // 2
        w = self.window(rel_noise, self.cfg.max_noise)
        # a window capped at half the run that is shorter than the noise asks for cannot be
        # precise enough yet: skip the work (this is most looks early in a noisy run)
        if self.cfg.enabled and not self.too_low.open and (w < half_run or self._need <= half_run):
            self._plateau(step, w, block_se)
        w = self.window(rel_noise, _RATE_PRECISION)
        if (self.lr_cfg.enabled and not self.too_low.open
                and n >= (self.lr_cfg.history_windows + 1) * w):
            self._steady(step, w, block_se)

    def _lr_phrase(self) -> str:
        if not self.lr.known:
            return ""
        return f"; LR {fmt(self.lr.current)} is {pct(self.lr.fraction())} of its peak {fmt(self.lr.peak)}"

    def _plateau(self, step: int, w: int, block_se: float) -> None:
        cfg, b = self.cfg, self.blocks
        n = b.points
        half = max(1, w // 2)
        (now, then, first), (n_now, n_then, _) = b.levels(np.array([n, n - w, half]), half)
        if n_now == 0 or n_then == 0:
            return
        ref = abs(then) or 1.0
        se = block_se * math.sqrt(b.size / n_now + b.size / n_then) / ref
        if se > cfg.max_noise:
            return  # the levels are too noisy to tell a plateau from progress yet
        r = (then - now) / ref
        sigma = block_se * math.sqrt(b.size)
        if self.plateau.open:  # resolved once clearly below the level it flattened at
            gain = (self._flat_level - now) / (abs(self._flat_level) or 1.0)
            if gain > 3 * cfg.min_improvement + 3 * se:
                self.plateau.resolve(step, f"{self.metric} is improving again: {fmt(now)}, {pct(gain)} below the"
                                     f" {fmt(self._flat_level)} it had flattened at")
                self._reopen_at = int(n * 1.5)  # a slow tail would otherwise flap open/resolved
            return
        if r >= cfg.min_improvement:  # se is small by now (the window grew until it was)
            return
        lr_moved = self.lr.known and self._lr_at_open is not None and not (
            0.9 * self._lr_at_open <= self.lr.current <= 1.1 * self._lr_at_open)
        if n < self._reopen_at and not lr_moved:  # (a new LR is a new regime: no hold-off)
            return
        self._lr_at_open = self.lr.current
        progress = (first - now) / (abs(first) or 1.0)
        self._flat_level = now
        noise = f" (noise {fmt(sigma)} a point)" if sigma > 0 else ""
        flat = (f"{self.metric} has flattened at {fmt(now)}{noise}: {pct(r)} change over the last {w} points,"
                f" {moved(progress)} its start")
        annealed = self.lr.known and self.lr.fraction() < self.lr_cfg.annealed_below
        if annealed:
            self.plateau.start(step, "info", f"converged: {flat}{self._lr_phrase()}. Loss need not reach zero;"
                               " this looks like its floor", converged=True, level=now)
        elif (self.lr_cfg.enabled and abs(progress) < self.lr_cfg.barely_moved and self.spikes_since(0) == 0
              and self._lr_steady(b.step_at(n - w))):
            self.too_low.start(step, "warning", f"LR too small? {self.metric} has barely moved in {b.points} points"
                               f" ({moved(progress)} its start, {fmt(now)} now) with no spikes{self._lr_phrase()}",
                               "raise_lr", level=now)
        else:
            self.plateau.start(step, "info", f"plateau: {flat}{self._lr_phrase()}. Converged at this LR, or a"
                               " noise floor a lower LR can get under", "cut_lr", converged=False, level=now)

    def _lr_steady(self, since: int) -> bool:
        """The LR stayed within 10 % of its current value since `since` (or is not logged)."""
        if not self.lr.known:
            return True
        back = self.lr.at(since)
        return back is None or 0.9 * back <= self.lr.current <= 1.1 * back

    def _steady(self, step: int, w: int, block_se: float) -> None:
        """A steady fall that never slowed down: the early-training regime, stretched out."""
        b, cfg = self.blocks, self.lr_cfg
        n = b.points
        half = max(1, w // 2)
        bounds = list(range(n, half, -w))[::-1]  # window ends, earliest first
        if self.lr.known:  # judge only the stretch where the LR has been what it is now
            bounds = [e for e in bounds if self._lr_steady(b.step_at(e - half))]
        if len(bounds) < max(cfg.min_windows, cfg.history_windows) + 1:
            return
        if n < cfg.history_span * (bounds[0] - half):
            return  # a slow power law looks straight over a short stretch: judge a long one
        vals, cnt = b.levels(np.array(bounds), half)
        if not np.all(np.isfinite(vals)) or np.any(cnt == 0):
            return
        ref = np.abs(vals[:-1])
        ref[ref == 0] = 1.0
        rates = (vals[:-1] - vals[1:]) / ref
        se = block_se * np.sqrt(b.size / cnt[:-1] + b.size / cnt[1:]) / ref
        recent = rates[-cfg.min_windows:]
        if not np.all(recent > 2 * se[-cfg.min_windows:]):
            return  # not a clear, steady fall in every recent window
        drops = vals[:-1] - vals[1:]  # absolute: a curve's relative rate stays up as its level falls
        latest, earlier = float(rates[-1]), float(rates[:-1].max())
        if drops[-1] < cfg.max_slowdown * float(drops[:-1].max()):
            return  # it slowed down, as healthy curves do
        if self.lr.known and self.lr.fraction() < cfg.annealed_below:
            return
        since = b.step_at(n - cfg.min_windows * w)
        if not self._lr_steady(since) or self.spikes_since(since) > 0:
            return  # a schedule moved the LR (warm-up, decay) or the LR is high enough to spike
        self.too_low.start(step, "warning",
                           f"LR too small? {self.metric} is not slowing down: {pct(latest)} over the last {w} points,"
                           f" {pct(earlier)} at most per window before (healthy runs fall fastest early), down to"
                           f" {fmt(float(vals[-1]))}{self._lr_phrase()}", "raise_lr", rate=latest)
