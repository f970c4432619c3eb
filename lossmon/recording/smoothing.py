"""Debiased exponential smoothing, kept up to date incrementally.

The smoothed train-loss line must cost O(new points) per UI tick, not O(history): `Smoothed`
follows a store Series and appends the smoothed values of only the points that arrived since the
last update to a Series of its own, which brings its own min/max pyramid -- so the smoothed line is
drawn from an envelope exactly like the raw points, at any history length.

The rule is TensorBoard's: m <- beta*m + (1-beta)*x, shown as m / (1 - beta**k) after k finite points;
NaN/inf points do not enter the average (they are drawn as marks from the raw series instead).
"""

from __future__ import annotations

import math

import numpy as np

from lossmon.recording.store import Series

# Within one vectorised chunk the weights beta**-j grow up to this bound; 1e12 keeps every product
# well inside float64 for any loss below 1e290 and leaves ~4 digits of headroom in the sums.
_MAX_WEIGHT = 1e12


def _chunk_size(beta: float) -> int:
    return max(1, min(1 << 16, int(math.log(_MAX_WEIGHT) / -math.log(beta))))


def ema(values: np.ndarray, beta: float, m0: float = 0.0) -> np.ndarray:
    """Biased EMA m_i = beta*m_{i-1} + (1-beta)*x_i of finite `values`, starting from state m0.

    Vectorised: inside fixed-size chunks the recurrence is a weighted cumulative sum; only the
    state carried from one chunk to the next is a Python loop (one iteration per chunk).
    """
    with np.errstate(over="ignore", invalid="ignore"):  # only values beyond ~1e296 overflow
        return _ema(values, beta, m0)


def _ema(values: np.ndarray, beta: float, m0: float) -> np.ndarray:
    x = np.asarray(values, dtype=np.float64)
    n = len(x)
    if n == 0:
        return np.empty(0)
    if beta == 0.0:
        return x.copy()
    c = _chunk_size(beta)
    rows = -(-n // c)
    padded = np.zeros(rows * c)
    padded[:n] = x
    grid = padded.reshape(rows, c)
    j = np.arange(1, c + 1, dtype=np.float64)
    decay = beta ** j  # beta^(j) for j = 1..c
    local = (1.0 - beta) * np.cumsum(grid / decay, axis=1) * decay  # each chunk's EMA from state 0
    carry = np.empty(rows)
    state, tail = m0, decay[-1]
    ends = local[:, -1]
    for r in range(rows):  # state entering chunk r
        carry[r] = state
        state = ends[r] + tail * state
    out = local + carry[:, None] * decay[None, :]
    return out.reshape(-1)[:n]


class Smoothed:
    """The debiased EMA of a source Series, as a Series of its own (finite points only)."""

    def __init__(self, source: Series, beta: float) -> None:
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {beta}")
        self.source = source
        self.beta = beta
        self.series = Series(source.name + " (smoothed)")
        self._done = 0  # source points consumed
        self._m = 0.0  # biased EMA state
        self._k = 0  # finite points averaged so far

    def update(self, limit: int = 1 << 20) -> int:
        """Smooth up to `limit` of the points that arrived since the last call (a view catches up
        on a long history over several ticks instead of freezing); returns how many were read."""
        steps, values = self.source.points()
        n = min(len(values), self._done + limit)
        if n <= self._done:
            return 0
        read = n - self._done
        new_steps, new_values = steps[self._done:n], values[self._done:n]
        self._done = n
        fin = np.isfinite(new_values)
        x = new_values[fin]
        if len(x) == 0:
            return read
        m = ema(x, self.beta, self._m)
        self._m = float(m[-1])
        k = self._k + np.arange(1, len(x) + 1, dtype=np.float64)
        self._k += len(x)
        shown = m / -np.expm1(k * math.log(self.beta)) if self.beta > 0 else m  # 1 - beta**k, exact near 0
        self.series.extend(new_steps[fin], shown)
        return read

    @property
    def behind(self) -> bool:
        """True while source points remain unsmoothed."""
        return self._done < len(self.source)
