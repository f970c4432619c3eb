"""A compact history of a whole curve: at most `cap` blocks of equal point count.

Trend detectors (plateau, too-small LR, oscillation) compare where the curve is now with where it
was a window ago, over windows that grow with the run (5 % of it). Keeping every point would cost
memory per point; keeping block sums costs O(cap): when the blocks fill up, neighbours merge and the
block size doubles. Each block holds the point count, sum and sum of squares (so the within-block
scatter gives the noise level) and its last step.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

_MAD2_TO_SIGMA = 1.0 / (0.6745 * math.sqrt(6.0))  # median |N(0, 6 s^2)| = 0.6745 sqrt(6) s


def sigma_from_d2(d2) -> float:
    """One value's scatter about the local trend, from absolute second differences of a series:
    a steady trend cancels in them, and the median ignores a few outliers. A short list (tens of
    numbers): plain sorting beats np.median's overhead."""
    d = sorted(d2)
    h = len(d) // 2
    return (d[h] if len(d) % 2 else 0.5 * (d[h - 1] + d[h])) * _MAD2_TO_SIGMA


class BlockHistory:
    def __init__(self, cap: int = 128) -> None:
        self.cap = cap
        self.size = 1  # points per full block
        self.n = np.zeros(cap)
        self.s = np.zeros(cap)
        self.ss = np.zeros(cap)
        self.last = np.zeros(cap, dtype=np.int64)
        self.cn = np.zeros(cap + 1)  # prefix sums of n and s over full blocks (for levels)
        self.cs = np.zeros(cap + 1)
        self.count = 0  # full blocks
        self._pn = 0  # the block being filled
        self._ps = 0.0
        self._pss = 0.0
        self.points = 0  # in full blocks
        self.ref = None  # values are stored minus this (the first value): sums keep their digits

    def clear(self) -> None:
        self.__init__(self.cap)

    def extend(self, steps: np.ndarray, values: np.ndarray, on_block: Callable[[], None] | None = None) -> None:
        """Add finite points; `on_block` runs after each block completes (deterministic whatever
        the batch sizes)."""
        if len(values) == 0:
            return
        if self.ref is None:
            self.ref = float(values[0])
        y = values - self.ref
        i, n = 0, len(y)
        while i < n:
            take = min(self.size - self._pn, n - i)
            part = y[i:i + take]
            self._pn += take
            self._ps += float(part.sum())
            self._pss += float(np.dot(part, part))
            i += take
            if self._pn == self.size:
                self._push(int(steps[i - 1]))
                if on_block is not None:
                    on_block()

    def _push(self, last_step: int) -> None:
        if self.count == self.cap:
            half = self.cap // 2
            for arr in (self.n, self.s, self.ss):
                arr[:half] = arr[0::2] + arr[1::2]
            self.last[:half] = self.last[1::2]
            self.count = half
            self.size *= 2
            self.cn[1:half + 1] = np.cumsum(self.n[:half])
            self.cs[1:half + 1] = np.cumsum(self.s[:half])
        k = self.count
        self.n[k], self.s[k], self.ss[k], self.last[k] = self._pn, self._ps, self._pss, last_step
        self.cn[k + 1] = self.cn[k] + self._pn
        self.cs[k + 1] = self.cs[k] + self._ps
        self.count += 1
        self.points += self._pn
        self._pn, self._ps, self._pss = 0, 0.0, 0.0

    # ---- queries over full blocks -----------------------------------------------------------

    def means(self) -> np.ndarray:
        k = self.count
        return self.s[:k] / self.n[:k] + self.ref

    def within_noise(self, last: int = 16) -> float:
        """Pooled within-block standard deviation of single points over the last blocks (0 while
        blocks hold one point)."""
        k = self.count
        if k == 0 or self.size < 2:
            return 0.0
        a = max(0, k - last)
        n, s, ss = self.n[a:k], self.s[a:k], self.ss[a:k]
        within = float(np.sum(ss - s * s / n))
        dof = float(np.sum(n - 1))
        return math.sqrt(max(within, 0.0) / dof) if dof > 0 else 0.0

    def mean_noise(self, last: int = 32) -> float:
        """The scatter of one block mean about the local trend, from the median absolute second
        difference of the last block means (a steady trend cancels; a few outliers do not count)."""
        k = self.count
        if k < 5:
            return math.inf
        m = self.s[max(0, k - last):k] / self.n[max(0, k - last):k]
        return sigma_from_d2(np.abs(m[2:] - 2 * m[1:-1] + m[:-2]).tolist())

    def levels(self, ends: np.ndarray, span: int) -> tuple[np.ndarray, np.ndarray]:
        """Means of the `span` points (rounded to whole blocks, at least one) ending at each
        point count in `ends` (rounded down to a block edge), and the points each used."""
        k = self.count
        cn, cs = self.cn[:k + 1], self.cs[:k + 1]
        hi = np.searchsorted(cn, ends, side="right") - 1
        lo = np.searchsorted(cn, cn[hi] - span, side="left")
        lo = np.maximum(np.minimum(lo, hi - 1), 0)
        used = cn[hi] - cn[lo]
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = (cs[hi] - cs[lo]) / used + self.ref
        return np.where(used > 0, mean, np.nan), used

    def step_at(self, end: int) -> int:
        """The last step of the block that ends at or before point count `end`."""
        k = self.count
        i = int(np.searchsorted(self.cn[1:k + 1], end, side="right")) - 1
        return int(self.last[max(i, 0)]) if k else 0
