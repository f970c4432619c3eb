"""Validation-curve detectors: overfitting (Prechelt) and the evaluation-level plateau
(ReduceLROnPlateau). Evaluations are few, so these walk them one by one.

The val curve's own scatter sets the margins: sigma is estimated from the median absolute second
difference of the last 32 evaluations (second differences cancel a steady trend; the median
ignores the steep start), so a noisy but healthy val curve has to rise well beyond its wobble.
The level compared with the best is the mean of the last k evaluations, k = 3 to 20 growing with
their number: with hundreds of noisy evaluations the best single one is just the luckiest draw.
"""

from __future__ import annotations

import itertools
import math
from collections import deque
from typing import Callable

import numpy as np

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.blocks import sigma_from_d2
from lossmon.diagnosis.config import OscillationConfig, OverfittingConfig, PlateauConfig
from lossmon.formatting import fmt_step, pct
from lossmon.formatting import fmt_value as fmt


class ValidationDetector:
    """Overfitting onset/confirmed and the val plateau on one val-loss metric."""

    def __init__(self, over: OverfittingConfig, plateau: PlateauConfig, osc: OscillationConfig, sink,
                 metric: str, train_at: Callable[[np.ndarray], np.ndarray], train_name: Callable[[], str]) -> None:
        self.cfg, self.pcfg, self.ocfg = over, plateau, osc
        self.wobble = Episode(sink, "oscillation", metric)
        self.metric = metric
        self.train_at = train_at  # smoothed train loss at given steps (NaN where unknown)
        self.train_name = train_name
        self.over = Episode(sink, "overfitting", metric)
        self.plateau = Episode(sink, "plateau", metric)
        self.best = math.inf
        self.best_step = 0
        self.train_at_best = math.nan
        self.recent: deque[tuple[int, float, float]] = deque(maxlen=max(over.up_evals + 1, 3))
        self.d2: deque[float] = deque(maxlen=32)
        self.window: deque[float] = deque(maxlen=20)
        self.evals = 0
        self.plateau_best = math.inf
        self.bad_evals = 0
        self._reopen_at = 0
        self._above_before = False  # the last evaluation was beyond the overfitting margin
        self.best_single = math.inf  # the lowest single evaluation, and the evaluations since it
        self.since_best: deque[tuple[int, float]] = deque(maxlen=20)

    def rebase(self) -> None:
        self.recent.clear()
        self.window.clear()
        self.bad_evals = 0

    def rollback(self) -> None:
        """The run went back to a snapshot: the bests were the abandoned branch's (later steps,
        often lower), so the new branch is judged on its own evaluations from here on."""
        self.rebase()
        self.best, self.best_step, self.train_at_best = math.inf, 0, math.nan
        self.plateau_best = math.inf
        self.best_single = math.inf
        self.since_best.clear()
        self.d2.clear()
        self._above_before = False

    def sigma(self) -> float:
        """One evaluation's scatter about the local trend (0 until 3 second differences exist)."""
        return sigma_from_d2(self.d2) if len(self.d2) >= 3 else 0.0

    def feed(self, steps: np.ndarray, values: np.ndarray) -> None:
        train = self.train_at(steps)
        for s, v, t in zip(steps.tolist(), values.tolist(), train.tolist()):
            self._one(s, v, t)

    def _one(self, step: int, v: float, t: float) -> None:
        if len(self.recent) >= 2:
            (_, a, _), (_, b, _) = self.recent[-2], self.recent[-1]
            self.d2.append(abs(v - 2 * b + a))
        self.recent.append((step, v, t))
        self.window.append(v)
        if v < self.best_single:
            self.best_single = v
            self.since_best.clear()
        self.since_best.append((step, v))
        self.evals += 1
        # the level is a mean of the last k evaluations: k grows with the number of evaluations so
        # the best of many noisy ones is not just the luckiest draw; with under 30 there is no time
        # to average (each one is often an epoch), so a single evaluation confirmed by the next one
        k = 1 if self.evals < 30 else min(len(self.window), max(3, min(20, self.evals // 20)))
        level = sum(itertools.islice(reversed(self.window), k)) / k
        if level < self.best:
            self.best, self.best_step, self.train_at_best = level, step, t
            if self.over.open:
                self.over.resolve(step, f"{self.metric} reached a new best {fmt(level)} at step {fmt_step(step)}")
        if self.cfg.enabled and self.evals >= 2:
            self._overfitting(step, v, t, level, k)
        if self.pcfg.enabled:
            self._plateau(step, level)
        if self.ocfg.enabled and len(self.d2) >= 6:
            self._wobble(step)

    def _wobble(self, step: int) -> None:
        k = min(8, len(self.recent))
        level = abs(sum(x[1] for x in list(self.recent)[-k:]) / k) or 1.0
        rel = self.sigma() / level
        if not self.wobble.open and rel > self.ocfg.val_scatter:
            # a note, not a warning: per-epoch image models and small eval sets scatter 5-15 % while
            # healthy; the overfitting and plateau checks already allow for the scatter
            self.wobble.start(step, "info", f"{self.metric} scatters by about {pct(rel)} of its level from one"
                              f" evaluation to the next (around {fmt(level)}): read its trend, not single"
                              " evaluations (a larger eval set, or a lower LR if the train loss swings too)",
                              "none", scatter=rel)
        elif self.wobble.open and rel < self.ocfg.val_scatter / 2:
            self.wobble.resolve(step, f"{self.metric} has steadied ({pct(rel)} scatter between evaluations)")

    def _overfitting(self, step: int, v: float, t: float, level: float, k: int) -> None:
        cfg = self.cfg
        sigma = self.sigma()
        up = cfg.up_evals if self.evals >= 10 else min(cfg.up_evals, 2)  # few evaluations: each one counts
        if not self.over.open and len(self.recent) >= up + 1:
            seq = list(self.recent)[-(up + 1):]
            vals = [x[1] for x in seq]
            t0 = seq[0][2]
            rising = all(b > a for a, b in zip(vals, vals[1:]))
            if rising and vals[-1] - vals[0] > cfg.noise_sigmas * sigma and math.isfinite(t0) and math.isfinite(t) and t < t0:
                self.over.start(step, "info",
                                f"overfitting may be starting: {self.metric} rose at {up} evaluations in a row"
                                f" ({fmt(vals[0])} -> {fmt(v)} since step {fmt_step(seq[0][0])}) while"
                                f" {self.train_name()} fell {pct((t0 - t) / (abs(t0) or 1))}", "none",
                                stage="onset")
        if not self.over.open:
            self._rising(step, t)
        ref = abs(self.best) or 1.0
        # few evaluations: no scatter to go by yet, so a wider margin stands in for it
        gl = cfg.gl_percent if len(self.d2) >= 3 else 2 * cfg.gl_percent
        margin = max(gl / 100 * ref, cfg.noise_sigmas * sigma)
        fell = (self.train_at_best - t) / (abs(self.train_at_best) or 1.0)
        above = level > self.best + margin
        # a single evaluation (k = 1) must be confirmed by the one before: the best of a few noisy
        # evaluations is the luckiest draw, and one unlucky one follows it now and then
        held = above and (k > 1 or self._above_before)
        self._above_before = above
        if (self.over.severity != "warning" or not self.over.open) and held \
                and math.isfinite(fell) and fell > cfg.train_fall:
            self.over.escalate(step, "warning",
                               f"overfitting: {self.metric} {fmt(level)}{f' (mean of {k})' if k > 1 else ''} is"
                               f" {pct((level - self.best) / ref)} above its"
                               f" best {fmt(self.best)} at step {fmt_step(self.best_step)} while {self.train_name()}"
                               f" fell {pct(fell)} since", "early_stop", stage="confirmed", best=self.best,
                               best_step=self.best_step)

    def _rising(self, step: int, t: float) -> None:
        """Onset by trend: the last evaluations since the best (5 to `rise_evals`) lie on a line that rises
        with t >= `rise_t`, by at least half the GL margin, while train fell. A slow, steady climb
        is the classic shape of overfitting and its evaluations rarely rise 3 in a row; a line
        through them is sure of it long before the climb reaches GL5."""
        cfg = self.cfg
        since = list(self.since_best)[-self.cfg.rise_evals:]
        m = len(since)
        if m < 5:
            return
        ys = [v for _, v in since]  # a handful of numbers: plain Python beats numpy here
        xm, ym = (m - 1) / 2, sum(ys) / m
        sxx = sum((i - xm) * (i - xm) for i in range(m))
        slope = sum((i - xm) * (y - ym) for i, y in enumerate(ys)) / sxx
        res = [y - ym - slope * (i - xm) for i, y in enumerate(ys)]
        sd = math.sqrt(sum(r * r for r in res) / (m - 2))  # r * r, not r ** 2: inf, not OverflowError
        rise = slope * (m - 1)
        ref = abs(self.best_single) or 1.0
        fell = (self.train_at_best - t) / (abs(self.train_at_best) or 1.0)
        if (sd > 0 and slope / (sd / math.sqrt(sxx)) >= cfg.rise_t and rise >= cfg.gl_percent / 200 * ref
                and math.isfinite(fell) and fell > cfg.train_fall):
            self.over.start(step, "info", f"overfitting may be starting: {self.metric} has climbed steadily since its"
                            f" best {fmt(self.best_single)}: +{pct(rise / ref)} over its last {m} evaluations (since step"
                            f" {fmt_step(since[0][0])}) while {self.train_name()} fell {pct(fell)}", "none", stage="onset")

    def _plateau(self, step: int, level: float) -> None:
        """ReduceLROnPlateau's rule on the val level (the mean of the last k evaluations); with
        many evaluations the patience grows to 5 % of them, so frequent noisy evaluations of a
        slowly improving curve do not read as a plateau every few steps."""
        cfg = self.pcfg
        best = self.plateau_best
        if best == math.inf or level < best - cfg.threshold * abs(best):
            if self.plateau.open:  # to end a plateau the improvement must stand out of the noise
                if level > best - 2 * self.sigma():
                    return
                self.plateau.resolve(step, f"{self.metric} improving again ({fmt(level)})")
                self._reopen_at = int(self.evals * 1.5)  # a slow tail would otherwise flap
            self.plateau_best = level
            self.bad_evals = 0
            return
        self.bad_evals += 1
        patience = max(cfg.patience, self.evals // 20)
        if self.bad_evals > patience and not self.plateau.open and not self.over.open and self.evals >= self._reopen_at:
            self.plateau.start(step, "info", f"plateau: {self.metric} has not improved on its best"
                               f" {fmt(self.plateau_best)} for {self.bad_evals} evaluations", "cut_lr")
