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
# An LR cut by this factor or more from one logged step to the next is abrupt: not a schedule's
# smooth annealing (a StepLR gamma=0.1 is 10x; 30x at once is rare on purpose and common by mistake)
_ABRUPT_DROP = 30.0


def moved(progress: float) -> str:
    """'12 % below' / '3 % above' for a relative change from a start level."""
    return f"{pct(abs(progress))} {'below' if progress >= 0 else 'above'}"


class LRTrack:
    """The effective LR as logged: where it was and its peak so far at any step, so a judgement
    made at step s quotes the LR at s whatever the feed's batch size (live ticks and `lossmon check`
    chunks say the same numbers). Samples are thinned by half whenever 4096 are held (memory stays
    bounded); each sample keeps the running peak up to it, so thinning never loses the peak."""

    def __init__(self) -> None:
        self.peak = 0.0
        self.current: float | None = None
        self._steps = np.empty(0, dtype=np.int64)
        self._values = np.empty(0)
        self._peaks = np.empty(0)
        self._every = 1
        self.drops: list[tuple[int, float, float]] = []  # (step, before, after) of abrupt cuts

    def feed(self, steps: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values) & (values > 0)
        if not ok.any():
            return
        steps, values = steps[ok], values[ok]
        if self.current is not None:
            before = np.concatenate(([self.current], values[:-1]))
        else:
            before = np.concatenate((values[:1], values[:-1]))
        cut = np.flatnonzero(values * _ABRUPT_DROP <= before)  # one logged step to the next
        for i in cut.tolist()[:8]:
            self.drops.append((int(steps[i]), float(before[i]), float(values[i])))
        del self.drops[:-8]
        peaks = np.maximum.accumulate(np.maximum(values, self.peak))
        self.peak = float(peaks[-1])
        self.current = float(values[-1])
        keep = slice(None, None, self._every)
        self._steps = np.concatenate((self._steps, steps[keep]))
        self._values = np.concatenate((self._values, values[keep]))
        self._peaks = np.concatenate((self._peaks, peaks[keep]))
        if len(self._steps) > 4096:
            self._steps, self._values, self._peaks = self._steps[::2], self._values[::2], self._peaks[::2]
            self._every *= 2

    def _index(self, step: int) -> int:
        return max(int(np.searchsorted(self._steps, step, side="right")) - 1, 0)

    def at(self, step: int) -> float | None:
        """The LR at (or just before) `step`; the first one known if `step` is earlier."""
        if len(self._steps) == 0:
            return None
        return float(self._values[self._index(step)])

    def at_many(self, steps: np.ndarray) -> np.ndarray:
        """`at` for many steps at once (NaN where no LR is known)."""
        if len(self._steps) == 0:
            return np.full(len(steps), np.nan)
        idx = np.maximum(np.searchsorted(self._steps, steps, side="right") - 1, 0)
        return self._values[idx]

    def peak_at(self, step: int) -> float:
        """The highest LR logged up to `step`."""
        if len(self._steps) == 0:
            return 0.0
        return float(self._peaks[self._index(step)])

    @property
    def known(self) -> bool:
        return self.current is not None

    def fraction(self, step: int | None = None) -> float:
        """The LR at `step` (default: the latest) as a fraction of its peak up to then."""
        if step is None:
            return self.current / self.peak if self.current and self.peak > 0 else 1.0
        now, peak = self.at(step), self.peak_at(step)
        return now / peak if now and peak > 0 else 1.0

    def drop_before(self, step: int, since: int = 0) -> tuple[int, float, float] | None:
        """The latest abrupt LR cut in (since, step], if any."""
        for d in reversed(self.drops):
            if since < d[0] <= step:
                return d
        return None


class TrendDetector:
    """Plateau, converged and "LR too small?" on the train loss."""

    def __init__(self, plateau: PlateauConfig, lr_cfg: LRTooLowConfig, sink, metric: str,
                 blocks: BlockHistory, lr: LRTrack, spikes_since: Callable[[int], int],
                 broken: Callable[[int], bool], start: Callable[[], float | None] = lambda: None,
                 update_ratio: Callable[[int], float | None] = lambda step: None) -> None:
        self.cfg, self.lr_cfg = plateau, lr_cfg
        self.metric = metric
        self.blocks = blocks
        self.lr = lr
        self.spikes_since = spikes_since  # spikes_since(step) -> spike episodes at or after step
        self.broken = broken  # broken(step): diverged or non-finite then: no trend to judge
        self.start = start  # the loss the run started at (its first values), for "x % below its start"
        self.update_ratio = update_ratio  # log10 |dw|/|w| near a step (None where not logged)
        self.plateau = Episode(sink, "plateau", metric)
        self.too_low = Episode(sink, "lr_too_low", metric)
        self._flat_level = math.nan  # the level an open plateau was reported at
        self._need = 0.0  # points the last window() asked for
        self._reopen_at = 0  # after a plateau resolves, the next one waits until the run is 1.5x as long
        self._lr_at_open: float | None = None  # the LR when the last plateau opened

    def rebase(self, step: int, why: str = "LR changed by hand") -> None:
        for ep, what in ((self.plateau, "plateau"), (self.too_low, "LR too small?")):
            ep.resolve(step, f"{why} at step {fmt_step(step)}; the {what} check starts over")

    def window(self, rel_noise: float, precision: float) -> int:
        """Points per window: max(`window`, 5 % of the run, enough points for the levels to be
        known to `precision` given the per-point relative noise), at most half the run."""
        n = self.blocks.points
        self._need = 8.0 * rel_noise * rel_noise / (precision * precision)  # se of a difference: precision/sqrt(2)
        return int(min(max(self.cfg.window, self.cfg.window_frac * n, self._need), n // 2))

    def evaluate(self) -> None:
        b = self.blocks
        n = b.points
        if n < 16 or b.count < 5 or self.broken(int(b.last[b.count - 1])):
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
        weak = not self.too_low.open or self.too_low.severity == "info"  # a note may still become a warning
        if self.cfg.enabled and weak and (w < half_run or self._need <= half_run):
            self._plateau(step, w, block_se)
        w = self.window(rel_noise, _RATE_PRECISION)
        if (self.lr_cfg.enabled and weak
                and n >= (self.lr_cfg.history_windows + 1) * w):
            self._steady(step, w, block_se)
        if self.lr_cfg.enabled and not self.too_low.open and not self.plateau.open and n >= 32:
            self._small_updates(step)

    def _small_updates(self, step: int) -> None:
        """The update ratio says the LR is small while the loss still falls: a note with the probe
        (the curve alone cannot tell a small LR from a slow problem; an LR probe can: probe.py). Not
        while the LR warms up or anneals: small updates are what a schedule's ends are for."""
        r = self.update_ratio(step)
        if r is None or r >= self.lr_cfg.ratio_low:
            return
        if self.lr.known and (self.lr.fraction(step) < 0.5 or not self._lr_steady(self.blocks.step_at(self.blocks.points // 2))):
            return
        self.too_low.start(step, "info", f"LR small? each update moves the weights by only 10^{r:.1f} of their size"
                           f" (healthy runs: about 10^-3){self._lr_phrase(step, ratio=False)}. An LR probe tells:"
                           " if the loss falls faster at x2, keep it", "probe_lr", update_ratio=r)

    def _lr_phrase(self, step: int, ratio: bool = True) -> str:
        if not self.lr.known:
            return ""
        now, peak = self.lr.at(step), self.lr.peak_at(step)
        words = f"; LR {fmt(now)}" + (f" is {pct(now / peak)} of its peak {fmt(peak)}" if now != peak else " (its peak)")
        r = self.update_ratio(step) if ratio else None
        if r is not None:
            words += f"; updates are 10^{r:.1f} of the weights"
        return words

    def _progress(self, now: float, first: float) -> float:
        """The fall since the start: from the first values where known, else the first level."""
        start = self.start()
        ref = start if start is not None and math.isfinite(start) else first
        return (ref - now) / (abs(ref) or 1.0)

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
        lr_now = self.lr.at(step) if self.lr.known else None
        lr_moved = lr_now is not None and self._lr_at_open is not None and not (
            0.9 * self._lr_at_open <= lr_now <= 1.1 * self._lr_at_open)
        if n < self._reopen_at and not lr_moved:  # (a new LR is a new regime: no hold-off)
            return
        self._lr_at_open = lr_now
        progress = self._progress(now, first)
        self._flat_level = now
        noise = f" (noise {fmt(sigma)} a point)" if sigma > 0 else ""
        flat = (f"{self.metric} has flattened at {fmt(now)}{noise}: {pct(r)} change over the last {w} points,"
                f" {moved(progress)} its start")
        since = b.step_at(n - w)
        cut = self.lr.drop_before(step, since=b.step_at(max(0, n - 4 * w))) if self.lr.known else None
        annealed = self.lr.known and self.lr.fraction(step) < self.lr_cfg.annealed_below
        ratio = self.update_ratio(step)
        # "barely moved" needs a precise start: the mean of the first half-window, not five points
        early = (first - now) / (abs(first) or 1.0)
        barely = abs(early) < self.lr_cfg.barely_moved
        if cut is not None:
            at, before, after = cut
            self.plateau.start(step, "info", f"flat since the LR cut: {flat}{self._lr_phrase(step)}. The LR fell"
                               f" {before / after:,.0f}x at once at step {fmt_step(at)} ({fmt(before)} -> {fmt(after)});"
                               " that is not convergence. If the cut was not meant, restore the LR", "raise_lr",
                               converged=False, level=now)
        elif annealed:
            self.plateau.start(step, "info", f"converged: {flat}{self._lr_phrase(step)}. Loss need not reach zero;"
                               " this looks like its floor", converged=True, level=now)
        elif self.lr_cfg.enabled and ratio is not None and ratio < self.lr_cfg.ratio_low:
            self.too_low.escalate(step, "warning", f"LR too small: {self.metric} is flat at {fmt(now)} and each"
                               f" update moves the weights by only 10^{ratio:.1f} of their size (healthy: about"
                               f" 10^-3){self._lr_phrase(step, ratio=False)}",
                               "raise_lr", level=now, update_ratio=ratio)
        elif (self.lr_cfg.enabled and barely and self.spikes_since(0) == 0 and self._lr_steady(since)
              and not (ratio is not None and ratio > self.lr_cfg.ratio_high)):
            self.too_low.escalate(step, "warning", f"LR too small? {self.metric} has barely moved in {b.points} points"
                               f" ({fmt(now)} now, {moved(early)} the mean of its first {half} points) with no"
                               f" spikes{self._lr_phrase(step)}",
                               "raise_lr", level=now)
        elif ratio is not None and self.lr_cfg.ratio_low + 1 <= ratio <= self.lr_cfg.ratio_high:
            self.plateau.start(step, "info", f"plateau: {flat}{self._lr_phrase(step)}, a healthy size: this is the"
                               " floor at this LR; a lower LR can get under it", "cut_lr", converged=False, level=now)
        elif ratio is not None and ratio > self.lr_cfg.ratio_high:
            self.plateau.start(step, "info", f"plateau: {flat}{self._lr_phrase(step)}. Updates this large keep"
                               " the loss bouncing above its floor: a lower LR can get under it", "cut_lr",
                               converged=False, level=now)
        else:
            self.plateau.start(step, "info", f"plateau: {flat}{self._lr_phrase(step)}. Either this is the floor"
                               " at this LR (a lower one can get under it), or the LR is too small to go on;"
                               " an LR probe (x2 for a while) tells them apart: a faster fall means keep it",
                               "probe_lr", converged=False, level=now)

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
        ratio = self.update_ratio(step)
        if ratio is not None and ratio >= cfg.ratio_low + 1:
            return  # updates of a healthy size: a slow curve, not a small LR
        self.too_low.escalate(step, "warning",
                           f"LR too small? {self.metric} is not slowing down: {pct(latest)} over the last {w} points,"
                           f" {pct(earlier)} at most per window before (healthy runs fall fastest early), down to"
                           f" {fmt(float(vals[-1]))}{self._lr_phrase(step)}", "raise_lr", rate=latest)
