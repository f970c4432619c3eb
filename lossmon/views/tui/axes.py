"""Axis scales, tick positions and short labels for the plot and sparklines (pure functions)."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

_LIMIT = 1e300
_LOG_LIMIT = 300.0


@dataclass(frozen=True)
class Scale:
    """Maps values onto dot rows: `lo` at the bottom row, `hi` at row 0; log10 when `log`."""

    lo: float
    hi: float
    log: bool

    def transform(self, v: np.ndarray | float) -> np.ndarray:
        v = np.asarray(v, dtype=np.float64)
        if not self.log:
            return v
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(v > 0, np.log10(np.where(v > 0, v, 1.0)), np.nan)

    def to_rows(self, v: np.ndarray | float, rows: int) -> np.ndarray:
        span = self.hi - self.lo
        t = np.clip(self.transform(v), self.lo - span, self.hi + span)  # off-canvas stays finite
        return (self.hi - t) / span * (rows - 1)


def fit_scale(lo: float, hi: float, want_log: bool) -> Scale | None:
    """A scale showing [lo, hi] with a little room; linear when log is impossible (values <= 0).
    The range is held within +-1e300 (1e-300 on a log axis), so padding and ticks never overflow;
    values beyond it are drawn at the edge."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return None
    lo, hi = min(max(lo, -_LIMIT), _LIMIT), min(max(hi, -_LIMIT), _LIMIT)
    log = want_log and lo > 0
    if log:
        lo, hi = max(lo, 1.0 / _LIMIT), max(hi, 1.0 / _LIMIT)
    a, b = (math.log10(lo), math.log10(hi)) if log else (lo, hi)
    if b - a < 1e-12 * max(1.0, abs(a)):
        pad = 0.05 if log else max(abs(a) * 0.05, 1e-9)
        edge = _LOG_LIMIT if log else _LIMIT
        return Scale(max(a - pad, -edge), min(b + pad, edge), log)
    pad = (b - a) * 0.04
    edge = _LOG_LIMIT if log else _LIMIT
    return Scale(max(a - pad, -edge), min(b + pad, edge), log)


def nice_step(span: float, target: int) -> float:
    """A 1/2/5 x 10^k step giving about `target` intervals over `span`."""
    raw = span / max(1, target)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if m * mag >= raw:
            return m * mag
    return 10 * mag  # pragma: no cover


def linear_ticks(lo: float, hi: float, target: int) -> list[float]:
    if not hi > lo:
        return [lo]
    step = nice_step(hi - lo, target)
    first = math.ceil(lo / step) * step
    n = int(math.floor((hi - first) / step + 1e-9)) + 1
    return [round(first + i * step, 12) for i in range(max(0, n))]


def y_ticks(scale: Scale, target: int) -> list[float]:
    """Tick values (data units) inside the scale: decades on a log axis, with 2 and 5 between
    them when the range is short; 1/2/5 steps on a linear one."""
    if not scale.log:
        return linear_ticks(scale.lo, scale.hi, target)
    d0, d1 = math.floor(scale.lo), math.ceil(scale.hi)
    for mults in ((1,), (1, 2, 5), (1, 2, 3, 4, 5, 6, 7, 8, 9)):
        ticks = [m * 10.0 ** d for d in range(d0, d1 + 1) for m in mults
                 if scale.lo <= math.log10(m * 10.0 ** d) <= scale.hi]
        if len(ticks) >= 2:
            if len(ticks) > target + 1:  # too many decades: keep every k-th
                k = -(-len(ticks) // (target + 1))
                ticks = ticks[::k]
            return ticks
    return [10 ** t for t in linear_ticks(scale.lo, scale.hi, target)]


def fmt_tick(v: float) -> str:
    """A short axis label, at most 7 characters: 0.25, 3e-5, 1200."""
    if v == 0:
        return "0"
    a = abs(v)
    if 1e3 <= a < 1e6:
        return f"{v:.0f}"
    if 1e-3 <= a < 1e3:
        text = f"{v:.3g}"
        return text if len(text) <= 7 else f"{v:.2g}"
    for digits in (1, 0):
        mant, exp = f"{v:.{digits}e}".split("e")
        mant = mant.rstrip("0").rstrip(".") if "." in mant else mant
        label = f"{mant}e{int(exp)}"
        if len(label) <= 7:
            return label
    return label


def scale_with_notes(lo: float, hi: float, log: bool, notes: list[str]) -> Scale:
    """fit_scale, never None: a placeholder 0..1 scale when nothing in view is finite, and the
    reason either way in `notes` (the plot says why it is empty or why it went linear)."""
    scale = fit_scale(lo, hi, log)
    if scale is None:
        notes.append("no finite values in view")
        return Scale(0.0, 1.0, False)
    if log and not scale.log:
        notes.append("linear y: values <= 0")
    return scale
