"""NaN-safe sparklines from the store's envelope (Textual's own Sparkline crashes on NaN/inf,
does O(N) work per render and colours every cell; this is one string in one colour)."""

from __future__ import annotations

import numpy as np

from lossmon.recording.store import Series

BARS = "▁▂▃▄▅▆▇█"
NONFINITE = "×"


def spark_text(series: Series, width: int, start: float | None = None, end: float | None = None,
               log: bool = True) -> str:
    """`width` characters: each the column's max (spikes stay visible), × where a column holds only
    NaN/inf, blank before the first point; empty columns after it repeat the last level."""
    with np.errstate(all="ignore"):  # NaN/inf are data here
        return _spark(series, width, start, end, log)


def _spark(series: Series, width: int, start: float | None, end: float | None, log: bool) -> str:
    if width <= 0 or not len(series):
        return " " * max(0, width)
    env = series.envelope(width, start, end)
    v = env.hi.copy()
    use_log = log and np.isfinite(v).any() and np.nanmin(v) > 0
    if use_log:
        v = np.log10(v)
    fin = np.isfinite(v)
    if not fin.any():
        return "".join(NONFINITE if b else " " for b in env.nonfinite > 0)
    lo, hi = float(v[fin].min()), float(v[fin].max())
    levels = np.zeros(width, dtype=np.int64)
    if hi > lo:  # halves first: hi - lo of two huge values of opposite sign would overflow
        frac = (v[fin] / 2 - lo / 2) / (hi / 2 - lo / 2)
        levels[fin] = np.clip(np.nan_to_num(frac * (len(BARS) - 1)).round(), 0, len(BARS) - 1)
    chars = []
    prev = None
    for i in range(width):
        if fin[i]:
            prev = BARS[levels[i]]
            chars.append(prev)
        elif env.nonfinite[i] > 0:
            chars.append(NONFINITE)
        else:
            chars.append(prev or " ")
    return "".join(chars)
