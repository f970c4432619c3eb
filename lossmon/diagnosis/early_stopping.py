"""Early stopping with the semantics of Keras's and Lightning's `EarlyStopping`.

Per evaluation of the monitored metric: an improvement means beating the best by more than
`min_delta` (mode min: v < best - min_delta; max: v > best + min_delta; the first value always
improves). A non-improving evaluation adds one to `wait`; an improvement resets it (with Keras's
`baseline` set, only an improvement that also beats the baseline resets it). Training stops at the
evaluation where `wait` reaches `patience`. Keras and Lightning agree on all of this whenever both
are configured alike; `check_finite` (Lightning's default) also stops at a NaN/inf value, where
Keras would only count it as not improving.
"""

from __future__ import annotations

import math
from typing import Callable

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.config import EarlyStoppingConfig
from lossmon.formatting import fmt_step
from lossmon.formatting import fmt_value as fmt


class EarlyStopping:
    def __init__(self, cfg: EarlyStoppingConfig, sink, on_stop: Callable[[], None], metric: str,
                 live: bool = True) -> None:
        self.cfg = cfg
        self.live = live
        self.on_stop = on_stop
        self.metric = metric
        self.episode = Episode(sink, "early_stopping", metric)
        self.best: float | None = None
        self.best_step = 0
        self.wait = 0
        self.evals = 0
        self.stopped_at: int | None = None

    def _improves(self, v: float, ref: float | None) -> bool:
        if ref is None:
            return True
        # the delta goes on the new value, as Keras and Lightning write it: v - d < ref and v < ref + d
        # round differently, and the stop must land on the same evaluation as theirs
        if self.cfg.mode == "min":
            return v + self.cfg.min_delta < ref
        return v - self.cfg.min_delta > ref

    def update(self, step: int, v: float) -> bool:
        """One evaluation; True when it is the one to stop at."""
        if self.stopped_at is not None:
            return False
        self.evals += 1
        cfg = self.cfg
        if cfg.check_finite and not math.isfinite(v):
            return self._stop(step, f"early stopping: {self.metric} is {fmt(v)} at step {fmt_step(step)}")
        self.wait += 1
        if self._improves(v, self.best):
            self.best, self.best_step = v, step
            if cfg.baseline is None or self._improves(v, cfg.baseline):
                self.wait = 0
            return False
        if self.wait >= cfg.patience and self.evals > 1:
            return self._stop(step, f"early stopping: {self.metric} has not improved on its best {fmt(self.best)}"
                              f" (step {fmt_step(self.best_step)}) by more than {cfg.min_delta:g} for {self.wait}"
                              f" evaluation{'s' if self.wait != 1 else ''}")
        return False

    def _stop(self, step: int, message: str) -> bool:
        self.stopped_at = step
        tail = "; stopping" if self.live else "; a run with this setting would stop here"
        self.episode.start(step, "info", message + tail, "none", best=self.best, best_step=self.best_step)
        self.on_stop()
        return True
