"""Divergence: the smoothed loss climbs far above the best it reached.

The smoothing is a debiased EMA whose time constant is set in steps (beta per step, as in the LR
finder's stop rule), so a curve logged every 500 steps is barely smoothed (each point is already a
mean) and a per-step curve is smoothed over ~50 steps. The alert fires when the smoothed loss is
`factor` x its running minimum, or back above where it started after having halved: a loss that
went from 10.8 to 3 and climbs back to 11 has diverged even though 11/3 < 4.
A loss that doubles from its best and stays doubled has diverged too, if less dramatically: for
`sustain_steps` (and at least `persist` logged points), judged on the smoothed line of a per-step
log and on the logged means of a sparse one.

The first steps need their own rule: the smoothing and its warm-up would measure "best" and "start"
after a blow-up. So the first values logged (the loss at initialisation; the lowest of the first
three, so a blow-up within them does not raise the bar) are the reference there: in the first
`warmup_steps`, three points in a row `early_factor` x above it, or one `early_single` x above it,
are a blow-up (an LR far too high sends a fresh model's loss up by orders of magnitude in a step
or two; batch noise makes a point or two that high now and then). A loss that blew up and then
never got below its start again is stuck: for cross-entropy, at the chance level, and the model
has stopped learning. The chance level is `chance_level` when the user gives it (then a sparse
log's first point, already a mean over the blow-up, is judged against it too), and ln(k) when the
first value is within a tenth of the spacing from ln(k), k <= 100. A loss that has stayed at the
chance level since the start for `chance_steps` is a stall.
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
    def __init__(self, cfg: DivergenceConfig, sink, metric: str, lr=None) -> None:
        self.cfg = cfg
        self.metric = metric
        self.episode = Episode(sink, "divergence", metric)
        self.stall = Episode(sink, "stall", metric)

        self.evidence = lambda step: ""  # other signals near a step (set by the engine)
        self.lr = lr  # the LR track (trend.LRTrack) when the LR is logged: a warm-up is no stall
        self._first_step = 0
        self._at_chance = 0  # points since the start spent at the chance level (-1: it left)
        self.gap = 1.0  # the step spacing of the first two points
        self._first_steps: list[int] = []
        self.m = 0.0  # biased EMA state
        self.wsum = 0.0  # 1 - prod(beta): the debiasing denominator
        self.since = 0  # points since the start or the last re-base
        self.best = math.inf
        self.start: float | None = None
        self.positive = True
        self.seen = 0  # points since the very start (not re-based)
        self.early_peak = 0.0  # the highest point in the first steps
        self.blew_up = False  # the early rule fired (once per run)
        self._firsts: list[float] = []  # the first five values: first, ref and initial come from them
        self._head: list[tuple[int, float]] = []  # (step, value) of the first points, until judged
        self.early = False  # the open episode is an early blow-up (it resolves below the start only)
        self.stuck = 0  # -1 once the loss got below its start after a blow-up (it learned)
        self._tail = np.empty(0)  # the last raw points, for the stuck rule's rolling mean
        self.settled_said = False
        self._doubled = 0  # points in a row at 2x the best

    @property
    def first(self) -> float | None:
        """The first value: the loss at initialisation."""
        return self._firsts[0] if self._firsts else None

    @property
    def ref(self) -> float | None:
        """The lowest of the first three: the early rule's yardstick (a blow-up within them must
        not raise the bar)."""
        return min(self._firsts[:3]) if len(self._firsts) >= 3 else None

    @property
    def initial(self) -> float | None:
        """The median of the first five: where "x % below its start" is measured from."""
        return float(np.median(self._firsts)) if len(self._firsts) == 5 else None

    def chance(self) -> tuple[float, int | None] | None:
        """(level, classes or None): the loss of a uniform guess, given or inferred from the first value."""
        if self.cfg.chance_level is not None:
            return self.cfg.chance_level, None
        if self.first is None or not 0.5 < self.first < math.log(100.5):
            return None
        k = int(round(math.exp(self.first)))
        spacing = math.log(k + 1) - math.log(k)
        return (math.log(k), k) if abs(self.first - math.log(k)) < 0.1 * spacing else None

    def _start_words(self) -> str:
        c = self.chance()
        if c is None:
            return f"its starting level {fmt(self.first)}"
        level, k = c
        what = f"chance for {k} classes, ln {k}" if k else "the chance level"
        return f"its starting level {fmt(self.first)} ({what} = {fmt(level)})"

    def rebase(self) -> None:
        self.since = 0
        self.best = math.inf
        self.start = None

    def rollback(self) -> None:
        """The run went back to a snapshot: smooth the new branch afresh (the old smoothing carries
        the blow-up it left behind); an open episode resolves when the new branch is back near its
        best, as after any recovery."""
        self.rebase()
        self.m = self.wsum = 0.0
        self._doubled = 0
        self._tail = np.empty(0)

    def _learn_gap(self, steps: np.ndarray) -> None:
        """The step spacing, from the first two steps and fixed from then on (a spacing learned
        over more points would change the smoothing with the batch sizes: live and `check` must
        agree). When the second step arrives after a lone first point, the smoothing state of that
        point is redone with the spacing now known (a lone point's smoothed value is itself)."""
        if len(self._first_steps) >= 2:
            return
        before = len(self._first_steps)
        self._first_steps.extend(int(s) for s in steps[:2 - before])
        if len(self._first_steps) == 2:
            self.gap = max(1.0, float(self._first_steps[1] - self._first_steps[0]))
            if before == 1 and self.first is not None:
                beta = self.cfg.beta ** self.gap
                self.m, self.wsum = (1.0 - beta) * self.first, 1.0 - beta

    def feed(self, steps: np.ndarray, values: np.ndarray) -> np.ndarray:
        """Finite points in step order; returns their smoothed values (the val detectors use them)."""
        n = len(values)
        if n == 0:
            return np.empty(0)
        if not self._firsts:
            self._first_step = int(steps[0])
        if len(self._firsts) < 5:
            self._firsts.extend(values[:5 - len(self._firsts)].tolist())
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
        seen = self.seen + np.arange(1, n + 1)
        self.since += n
        self.seen += n
        if self.cfg.enabled and self.positive:
            self._chance_stall(steps, smooth)
            self._early(steps, values, smooth, seen, warm)
            self._check(steps, smooth, pos >= warm, values)
        return smooth

    def _chance_stall(self, steps: np.ndarray, smooth: np.ndarray) -> None:
        """A loss that has stayed at the chance level since the start (within 2 %, smoothed) for
        `chance_steps` steps and 10 points is not learning at all; healthy runs leave chance within
        their first few percent. Once it leaves, this is never judged again (a stall later on is
        the plateau checks' business)."""
        if self._at_chance < 0 or self.first is None:
            return
        c = self.chance()
        if c is None:
            return
        level, k = c
        out = np.flatnonzero(np.abs(smooth - level) > 0.02 * level)
        upto = int(out[0]) if len(out) else len(smooth)
        total = self._at_chance + upto
        need = max(10, int(math.ceil(self.cfg.chance_steps / self.gap)))
        at = None
        if not self.stall.open and need <= total and upto > 0 and not self.blew_up:
            cand = steps[max(need - self._at_chance, 1) - 1:upto]  # in band, the stretch long enough
            steady = self._lr_steady(cand)  # not while the LR warms up: a fresh model waits at chance for it
            if steady.any():
                at = int(cand[int(np.argmax(steady))])
        if at is not None:
            what = f"ln {k} = {fmt(level)}, chance for {k} classes" if k else f"{fmt(level)}, the chance level"
            self.stall.start(at, "warning", f"{self.metric} has stayed at the chance level ({what}) since the start,"
                             f" for {fmt_step(at - int(self._first_step))} steps: the model is not learning. Usual"
                             " causes: labels that do not match the inputs, frozen or detached weights, an LR far"
                             " too small (or so high the units died)", "check_data", level=level)
        if len(out):
            self._at_chance = -1
            if self.stall.open:
                self.stall.resolve(int(steps[upto]), f"{self.metric} has left the chance level: {fmt(float(smooth[upto]))}")
        else:
            self._at_chance = total

    def _lr_steady(self, steps: np.ndarray) -> np.ndarray:
        """Per step: the LR has not risen by more than 10 % over the `chance_steps` before it (all
        True where the LR is not logged)."""
        if self.lr is None or not self.lr.known:
            return np.ones(len(steps), dtype=bool)
        now, back = self.lr.at_many(steps), self.lr.at_many(steps - self.cfg.chance_steps)
        return now <= 1.1 * back

    def _judge_head(self) -> None:
        """The first steps against the first values: three points in a row at `early_factor` x the
        lowest of the first three (batch noise makes one or two that high now and then), or one at
        `early_single` x."""
        given = self.cfg.chance_level
        if len(self._head) < 3 and given is None:
            return
        vals = [v for _, v in self._head]
        ref = self.ref
        # a fresh model starts near the chance level: told it, a first logged mean far above it
        # (a sparse log whose first point already holds the blow-up) is judged too
        at_chance = given is not None and given > 0 and (ref is None or given < ref)
        if at_chance:
            ref = given
        if ref is None or ref <= 0:
            return
        where = f"the chance level ({fmt(ref)})" if at_chance else f"where it started ({fmt(ref)})"
        f = self.cfg.early_factor
        run = 0
        for step, v in self._head:
            run = run + 1 if v > f * ref else 0
            if run >= 3 or v > self.cfg.early_single * ref:
                self.blew_up = self.early = True
                self.early_peak = max(vals)
                if not self.episode.open:
                    self.episode.start(step, "critical",
                                       f"{self.metric} blew up in its first steps: {fmt(v)} at step"
                                       f" {fmt_step(step)} is {v / ref:,.0f}x {where}:"
                                       " the LR is far too high for the start of training" + self.evidence(step), "rollback",
                                       value=v, first=ref)
                return

    def _early(self, steps: np.ndarray, values: np.ndarray, smooth: np.ndarray, seen: np.ndarray, warm: int) -> None:
        """Blow-ups in the first steps, judged against the first values (see the module docstring)."""
        inside = seen <= warm
        if inside.any() and not self.blew_up:
            self._head.extend(zip(steps[inside].tolist(), values[inside].tolist()))
            self._judge_head()
        elif inside.any():
            self.early_peak = max(self.early_peak, float(values[inside].max()))
        first = self.first
        if not self.blew_up or first is None or first <= 0:
            return
        after = ~inside
        if not after.any():
            return
        raw, st = values[after], steps[after]
        recovered = None
        if self.early and self.episode.open:
            sm = smooth[after]
            below = np.flatnonzero(sm < 0.9 * first)
            if len(below):
                recovered = int(below[0])
        # the points before a recovery are judged for "stuck" first: the same alerts whatever the batch
        self._stuck(raw[:recovered], st[:recovered], first)
        if recovered is not None:
            j = recovered
            self.early = False
            self.episode.resolve(int(st[j]), f"{self.metric} recovered from its early blow-up: smoothed"
                                 f" {fmt(float(smooth[after][j]))} is below {self._start_words()}")

    def _stuck(self, raw: np.ndarray, st: np.ndarray, first: float) -> None:
        """Stuck: the mean of the last `need` points back near the start (0.97-1.25x) and never
        below it since the blow-up."""
        if len(raw) == 0:
            return
        if self.settled_said or self.stuck < 0:
            return
        need = max(self.cfg.persist, int(math.ceil(20 / self.gap)))
        tail = np.concatenate((self._tail, raw))
        self._tail = tail[-need:]
        if len(tail) < need:
            return
        c = np.cumsum(np.concatenate(([0.0], tail)))
        means = (c[need:] - c[:-need]) / need  # one per point from the need-th on
        ends = st[len(st) - len(means):] if len(means) <= len(st) else st
        means = means[-len(ends):]
        low = np.flatnonzero(means < 0.97 * first)
        near = np.flatnonzero(means <= 1.25 * first)
        if len(low):
            self.stuck = -1  # it learned after all (judged at the point it did, whatever the batch)
            near = near[near < low[0]]
        if len(near):
            k = int(near[0])
            self.settled_said = True
            words = (f"{self.metric} rose to {fmt(self.early_peak)} in its first steps and has stayed at"
                     f" {self._start_words()} since: training has broken down, not just slowed (often"
                     " dead units after a blow-up)")
            v = float(means[k])
            if self.episode.open:
                self.episode.update(int(ends[k]), words + "; restart with a lower LR", "rollback", value=v)
            else:
                self.early = True
                self.episode.start(int(ends[k]), "critical", words + ": the LR is probably far too high",
                                   "rollback", value=v, first=first)

    def _check(self, steps: np.ndarray, smooth: np.ndarray, valid: np.ndarray, raw: np.ndarray) -> None:
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
            # doubled and stayed doubled: the smoothed line of a per-step log, each logged mean of a
            # sparse one (smoothing it would stretch a lone spike into a run)
            doubled = valid & ((smooth if self.gap < 5 else raw) > 2.0 * mins)
        need = max(self.cfg.persist, int(math.ceil(self.cfg.sustain_steps / self.gap)))
        c = np.arange(1, len(doubled) + 1)
        last_off = np.maximum.accumulate(np.where(doubled, 0, c))
        run = c - last_off + np.where(last_off == 0, self._doubled, 0)
        bad |= run >= need
        self._doubled = int(run[-1]) if len(run) else self._doubled
        if self.early:
            return  # an early blow-up is open: it ends below the start, not near the best after it
        # open at the first bad point, resolve at the first point back near the best, and again
        # for the rest of the batch: the same episodes whatever the batch sizes
        while len(steps):
            if not self.episode.open:
                hit = np.flatnonzero(bad)
                if len(hit) == 0:
                    return
                j = int(hit[0])
                s, b = float(smooth[j]), float(mins[j])
                self.episode.start(int(steps[j]), "critical",
                                   f"{self.metric} is diverging: smoothed {fmt(s)} at step {fmt_step(int(steps[j]))} is"
                                   f" {s / b:.1f}x its best {fmt(b)}" + (f" and above its start {fmt(self.start)}"
                                                                           if s > self.start else "")
                                   + self.evidence(int(steps[j])),
                                   "rollback", value=s, best=b)
                smooth, mins, steps, bad = smooth[j:], mins[j:], steps[j:], bad[j:]
            back = np.flatnonzero(np.isfinite(mins) & (smooth <= 1.5 * mins))  # mins: inf until warmed up
            if len(back) == 0:
                return
            j = int(back[0])
            self.episode.resolve(int(steps[j]), f"{self.metric} recovered: smoothed {fmt(float(smooth[j]))}"
                                 f" is back within 1.5x its best {fmt(float(mins[j]))}")
            smooth, mins, steps, bad = smooth[j + 1:], mins[j + 1:], steps[j + 1:], bad[j + 1:]
