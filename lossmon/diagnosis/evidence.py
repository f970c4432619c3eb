"""Evidence beyond the loss curve's shape: the update-to-weight ratio.

log10(||dw|| / ||w||) per optimizer step, as lossmon's optimizer hooks log it (`update_ratio`): about
-3 on a healthy run (Karpathy's rule of thumb), below ~-4.5 the updates are too small to move the
weights (the LR is too small), above ~-2 too large to settle. It turns "LR too small?" and "too
high?" from guesses about a curve's shape into readings. The track keeps a bounded, thinned sample
and answers with the median of the last few readings at or before a step, so one odd step does not
decide anything.
"""

from __future__ import annotations

import numpy as np


class UpdateRatioTrack:
    def __init__(self, last: int = 16) -> None:
        self.last = last
        self._steps = np.empty(0, dtype=np.int64)
        self._values = np.empty(0)
        self._every = 1

    def feed(self, steps: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values)
        if not ok.any():
            return
        steps, values = steps[ok], values[ok]
        self._steps = np.concatenate((self._steps, steps[::self._every]))
        self._values = np.concatenate((self._values, values[::self._every]))
        if len(self._steps) > 4096:
            self._steps, self._values = self._steps[::2], self._values[::2]
            self._every *= 2

    @property
    def known(self) -> bool:
        return len(self._steps) > 0

    def near(self, step: int) -> float | None:
        """The median of the last readings at or before `step` (None before the first)."""
        i = int(np.searchsorted(self._steps, step, side="right"))
        if i == 0:
            return None
        return float(np.median(self._values[max(0, i - self.last):i]))
