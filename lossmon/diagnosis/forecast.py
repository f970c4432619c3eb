"""Where the run is heading: the smoothed loss extrapolated to the run's last step.

A learning curve, once past its first steps, is well described by one of a few saturating families
(Domhan et al. 2015; Viering & Loog 2022, "The shape of learning curves"). Each family here is
`y = A + B * phi(t; theta)` with one or two nonlinear parameters theta: a fixed grid over theta and
closed-form least squares for A, B at every grid point is robust (no starting guess, no divergence)
and bounded in cost (a few hundred vectorised regressions over at most MAX_POINTS points).

- pow3:     A + B t^-c                    (saturating power law; floor A)
- exp3:     A + B exp(-t / tau)           (exponential approach; floor A)
- logpower: A + B / (1 + (t / tau)^c)     (Domhan's log-power with a floor: a plateau, a power-law
                                           fall, the floor A)
- loglin:   A - B ln t                    (a straight line in log-steps; no floor: the "still
                                           falling as fast" curve of long language-model runs)

t counts steps from the start of the stretch fitted (t = step - origin + 1), so a re-fit after an
LR change sees a fresh curve. The family is picked by held-out error on the curve's own recent past:
each family is fitted on the first 75 % of the stretch and scored on the last 25 %; the winner is
then refitted on everything.

Loss-like series are assumed (falling, then levelling off). A rising series is fitted by the same
families (B < 0) and forecast as rising, but then no floor is reported. A series positive throughout
(a cross-entropy, an MSE) is taken not to cross zero: a family that predicts a value at or below
zero there is dropped, and the interval stops at zero. Pure numpy, no UI imports.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from lossmon.formatting import fmt_value, step_label

FAMILIES = ("pow3", "exp3", "logpower", "loglin")
MIN_POINTS = 8  # fewer finite points: no forecast (4 parameters, and a held-out part of 2+)
MAX_POINTS = 256  # longer inputs are thinned to this many equal-count block means (bounds the cost)
HOLDOUT = 0.25  # the last quarter of the stretch (in steps) scores the families
MAX_HORIZON = 20.0  # refuse to extrapolate past 20x the stretch seen so far
# The interval: half-width = INTERVAL_K * (back-test error, scaled to the forecast horizon), widened
# to take in the other families that did about as well on the held-out part. INTERVAL_K was set once
# on the corpus (benchmarks/bench_forecast.py) so that at least 80 % of the healthy curves'
# final values fall inside at every cut; the README gives the coverage that benchmark measured.
INTERVAL_K = 4.0
PLAUSIBLE = 1.5  # a family whose held-out error is within 1.5x the best one's counts as plausible
# logpower (4 parameters) contains pow3 as a limit and wins held-out ties by its extra freedom: it is
# picked only when its held-out error is below PARSIMONY x the best 3-parameter family's.
PARSIMONY = 0.8
# An interval wider than +-WIDE of the value (or of the level it is compared with) is too wide to
# judge an LR probe by (diagnosis/probe.py); the live view is stricter (forecast_live.SHOWN).
WIDE = 0.5

_POW_C = np.geomspace(0.02, 2.0, 32)
_EXP_TAU = np.geomspace(0.005, 5.0, 32)
_LP_TAU = np.geomspace(0.002, 2.0, 14)
_LP_C = np.array([0.3, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 4.0])
_LP_GRID = np.array([(tau, c) for tau in _LP_TAU for c in _LP_C])


def _phi(family: str, x: np.ndarray, theta: np.ndarray) -> np.ndarray:
    """The family's basis at x (t / t_last) for each grid row of theta: shape (len(theta), len(x))."""
    x = x[None, :]
    with np.errstate(over="ignore", under="ignore", divide="ignore", invalid="ignore"):
        if family == "pow3":
            return x ** -theta[:, 0:1]
        if family == "exp3":
            return np.exp(-x / theta[:, 0:1])
        if family == "logpower":
            return 1.0 / (1.0 + (x / theta[:, 0:1]) ** theta[:, 1:2])
        return np.broadcast_to(-np.log(x), (len(theta), x.shape[1]))


def _grid(family: str) -> np.ndarray:
    if family == "pow3":
        return _POW_C[:, None]
    if family == "exp3":
        return _EXP_TAU[:, None]
    if family == "logpower":
        return _LP_GRID
    return np.zeros((1, 1))


def _refine(family: str, best: np.ndarray) -> np.ndarray | None:
    """A finer grid around a 1-parameter family's best grid point (one grid step either side)."""
    base = {"pow3": _POW_C, "exp3": _EXP_TAU}.get(family)
    if base is None:
        return None
    ratio = base[1] / base[0]
    return (best[0] * np.geomspace(1 / ratio, ratio, 9))[:, None]


def _lstsq(P: np.ndarray, z: np.ndarray):
    """Closed-form y = a + b phi for every row of P at once: (sse, a, b) arrays."""
    n = z.shape[0]
    pm = P.mean(axis=1)
    Pc = P - pm[:, None]
    zm = float(z.mean())
    zc = z - zm
    sxx = np.einsum("ij,ij->i", Pc, Pc)
    sxy = Pc @ zc
    ok = np.isfinite(sxx) & np.isfinite(sxy) & (sxx > 1e-12 * n)
    b = np.where(ok, sxy / np.where(ok, sxx, 1.0), 0.0)
    a = zm - b * pm
    sse = np.where(ok, float(zc @ zc) - b * sxy, np.inf)
    return sse, a, b


def _fit_family(family: str, x: np.ndarray, z: np.ndarray):
    """Best (sse, a, b, theta) of one family on (x, z), or None."""
    grid = _grid(family)
    sse, a, b = _lstsq(_phi(family, x, grid), z)
    i = int(np.argmin(sse))
    if not np.isfinite(sse[i]):
        return None
    fine = _refine(family, grid[i])
    if fine is not None:
        s2, a2, b2 = _lstsq(_phi(family, x, fine), z)
        j = int(np.argmin(s2))
        if s2[j] < sse[i]:
            return float(s2[j]), float(a2[j]), float(b2[j]), fine[j]
    return float(sse[i]), float(a[i]), float(b[i]), grid[i]


def _eval(family: str, a: float, b: float, theta: np.ndarray, x: np.ndarray) -> np.ndarray:
    return a + b * _phi(family, np.asarray(x, dtype=np.float64), theta[None, :])[0]


def thin(steps: np.ndarray, values: np.ndarray, cap: int) -> tuple[np.ndarray, np.ndarray]:
    """At most `cap` points: means of equal-count runs of neighbours (steps averaged too), so a long
    series costs no more than a short one and the noise falls with the averaging."""
    n = len(values)
    if n <= cap:
        return steps, values
    edges = np.linspace(0, n, cap + 1).astype(np.int64)
    cs = np.concatenate(([0.0], np.cumsum(steps, dtype=np.float64)))
    cv = np.concatenate(([0.0], np.cumsum(values, dtype=np.float64)))
    cnt = np.diff(edges)
    return (cs[edges[1:]] - cs[edges[:-1]]) / cnt, (cv[edges[1:]] - cv[edges[:-1]]) / cnt


def _decimals(half: float) -> int | None:
    """Decimals that show the interval's half-width to one significant digit (two when it starts
    with a 1): 0.03 -> 2, 0.15 -> 2, 0.4 -> 1."""
    if not (half > 0 and math.isfinite(half)):
        return None
    d = -math.floor(math.log10(half))
    if half * 10.0 ** d < 1.95:
        d += 1
    return max(0, min(8, d))


@dataclass(frozen=True)
class Forecast:
    """One fit of one series and its value at the run's last step.

    The interval [low, high] aims at 80 % coverage or more of the true final value (the mean of the
    run's last raw points); on the corpus's healthy curves benchmarks/bench_forecast.py measured it
    (README, "Where the run is heading"). It is a back-test interval: the picked family's error when
    it predicted the last quarter of the stretch from the first three quarters, times INTERVAL_K,
    scaled to the longer horizon of the forecast (in log-steps and in how much the fitted curve
    still moves, averaged), and widened to take in the families that did about as well.
    """

    family: str  # the family picked
    target_step: int  # the step predicted (total_steps)
    value: float  # predicted value there
    low: float
    high: float
    floor: float | None  # fitted asymptote; None when the family has none or it is not credible
    start_step: int  # first step of the stretch fitted (after the last LR change)
    last_step: int = 0  # last step seen by the fit
    points: int = 0  # finite points the fit used (after thinning)
    holdout_error: float = math.nan  # RMS error of the picked family on the held-out part (data units)
    params: tuple = field(default=(), repr=False)  # (A, B, *theta) in data units, x = t / t_scale
    origin: float = 0.0  # t = step - origin + 1
    t_scale: float = 1.0
    candidates: dict = field(default_factory=dict, repr=False)  # family -> (held-out error, value)

    def predict(self, steps) -> np.ndarray:
        """The fitted curve at these steps (the plot's dashed continuation)."""
        s = np.asarray(steps, dtype=np.float64)
        x = np.maximum(s - self.origin + 1.0, 1.0) / self.t_scale
        a, b, *theta = self.params
        return _eval(self.family, a, b, np.asarray(theta, dtype=np.float64), np.atleast_1d(x)).reshape(s.shape)

    @property
    def half_width(self) -> float:
        return 0.5 * (self.high - self.low)

    def describe(self, name: str) -> str:
        """'val -> 1.48 ± 0.03 at step 20k' (an uneven interval: 'val -> 1.48 (1.45-1.53) at step 20k')."""
        half = self.half_width
        d = _decimals(half)
        if d is not None:
            up, down = self.high - self.value, self.value - self.low
            if abs(up - down) <= 0.25 * half:
                text = f"{self.value:.{d}f} ± {half:.{d}f}"
            else:
                text = f"{self.value:.{d}f} ({self.low:.{d}f}-{self.high:.{d}f})"
        else:
            text = fmt_value(self.value)
        return f"{name} -> {text} at step {step_label(self.target_step)}"

    def describe_floor(self) -> str:
        """'noise floor ~ 1.41', or '' when there is no credible floor."""
        if self.floor is None:
            return ""
        d = _decimals(self.half_width)
        d = 3 if d is None else d
        return f"noise floor ~ {self.floor:.{d}f}"


def _clean(steps, values, start_step):
    try:
        s = np.asarray(steps, dtype=np.float64).ravel()
        v = np.asarray(values, dtype=np.float64).ravel()
    except (TypeError, ValueError):
        return None
    if s.shape != v.shape:
        return None
    ok = np.isfinite(s) & np.isfinite(v)
    if start_step is not None:
        ok &= s >= start_step
    s, v = s[ok], v[ok]
    if len(s) and np.any(np.diff(s) < 0):
        order = np.argsort(s, kind="stable")
        s, v = s[order], v[order]
    return s, v


def fit(steps, values, target_step: int, start_step: int | None = None) -> Forecast | None:
    """One fit of one series (already smoothed or block means; NaN/inf are dropped); None when it
    cannot be trusted: fewer than MIN_POINTS finite points, a constant series, a target more than
    MAX_HORIZON times the stretch seen away, or a fit that is not finite."""
    try:
        target = float(target_step)
        start = None if start_step is None else float(start_step)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(target) or (start is not None and not math.isfinite(start)):
        return None
    with np.errstate(all="ignore"):
        return _fit(steps, values, target_step, start_step)


def _fit(steps, values, target_step, start_step) -> Forecast | None:
    got = _clean(steps, values, start_step)
    if got is None:
        return None
    s, v = got
    if len(s) == 0:
        return None
    first, last = int(round(s[0])), int(round(s[-1]))
    s, v = thin(s, v, MAX_POINTS)
    n = len(v)
    if n < MIN_POINTS:
        return None
    origin = float(start_step) if start_step is not None else min(0.0, float(s[0]))
    t = s - origin + 1.0
    span = float(s[-1] - origin + 1.0)
    target_t = float(target_step) - origin + 1.0
    if t[0] < 1.0 or target_t < 1.0 or target_t > MAX_HORIZON * span:
        return None
    ym, ys = float(v.mean()), float(v.std())
    if not (ys > 1e-12 * max(1.0, abs(ym))):
        return None
    z = (v - ym) / ys
    x = t / span
    positive = bool(v.min() > 0.0)
    X = target_t / span

    # held-out selection: fit on the first 75 % of the stretch (in steps), score on the rest
    x_split = x[0] + (1.0 - HOLDOUT) * (1.0 - x[0])
    k = int(np.searchsorted(x, x_split, side="right"))
    k = min(max(k, 5), n - 2)
    x_split = float(x[k - 1])
    cands = {}
    for fam in FAMILIES:
        early = _fit_family(fam, x[:k], z[:k])
        whole = _fit_family(fam, x, z)
        if early is None or whole is None:
            continue
        res = _eval(fam, early[1], early[2], early[3], x[k:]) - z[k:]
        rmse = float(np.sqrt(np.mean(res * res)))
        bias = float(np.mean(res[len(res) // 2:]))  # where the back-test reached furthest
        value = float(_eval(fam, whole[1], whole[2], whole[3], np.array([X]))[0])
        if not (math.isfinite(rmse) and math.isfinite(value)):
            continue
        if positive and ym + ys * value <= 0.0:
            continue  # a series positive throughout (a loss) does not cross zero: the family is wrong
        cands[fam] = (rmse, bias, value, whole)
    if not cands:
        return None
    fam = min(cands, key=lambda f: cands[f][0] * (1.0 / PARSIMONY if f == "logpower" else 1.0))
    rmse, bias, value, (sse, a, b, theta) = cands[fam]

    # the interval: the back-test error, scaled to the forecast's horizon. Two measures of how much
    # further the forecast reaches than the back-test did, averaged: in log-steps, and in how much
    # the fitted curve still moves (a curve that has levelled off moves little, whatever the steps)
    horizon_bt = math.log(1.0 / max(x_split, 1e-12))
    horizon = math.log(max(X, 1.0))
    by_steps = horizon / horizon_bt if horizon_bt > 0 else 1.0
    fx = _eval(fam, a, b, theta, np.array([x_split, 1.0, X]))
    moved_bt, moving = abs(fx[1] - fx[0]), abs(fx[2] - fx[1])
    by_curve = moving / moved_bt if moved_bt > 0 else by_steps
    scale = max(1.0, 0.5 * (by_steps + by_curve))
    noise = math.sqrt(max(sse, 0.0) / max(n - 4, 1))
    half = INTERVAL_K * math.sqrt(bias * bias + noise * noise / n) * scale
    low, high = value - half, value + half
    for f, (r, _, val, _) in cands.items():
        if r <= PLAUSIBLE * rmse:
            low, high = min(low, val), max(high, val)
    if positive:
        low = max(low, -ym / ys)  # nor does its interval

    # back to data units
    A, B = ym + ys * a, ys * b
    floor = None
    if fam != "loglin" and B > 0:
        drop = ys * float(_eval(fam, a, b, theta, np.array([x[0]]))[0] - _eval(fam, a, b, theta, np.array([1.0]))[0])
        if drop > 0 and (ym + ys * value) - A <= drop:  # at most as far again as it has fallen so far
            floor = A
    val = ym + ys * value
    if not all(math.isfinite(q) for q in (val, low, high, A, B)):
        return None
    return Forecast(family=fam, target_step=int(target_step), value=float(val), low=float(ym + ys * low), high=float(ym + ys * high),
                    floor=None if floor is None else float(floor), start_step=first, last_step=last, points=n,
                    holdout_error=ys * rmse, params=(A, B, *[float(q) for q in theta]), origin=origin,
                    t_scale=span, candidates={f: (ys * c[0], ym + ys * c[2]) for f, c in cands.items()})


class Forecaster:
    """Stateful, one per series: update() with the whole series since the start (any length: it is
    thinned to `max_points` first), returns a Forecast only once consecutive fits agree, else None.

    Stable: the last `agree` fits (each taken after the stretch grew by at least `min_growth` of
    itself since the previous one, so repeated calls on nearly the same data do not count as
    agreement) and the newest fit all have their values inside every one of their intervals, and
    the stretch seen is at least `min_seen` of the way from its start to the target step. A fit that
    fails (None) empties the window. reset(step) after an LR change: only points at or after that
    step are used from then on, and agreement starts over.
    """

    def __init__(self, agree: int = 3, min_growth: float = 0.02, min_seen: float = 0.1,
                 max_points: int = 2048) -> None:
        self.agree = agree
        self.min_growth = min_growth
        self.min_seen = min_seen
        self.max_points = max_points
        self.start: int | None = None
        self._window: deque[Forecast] = deque(maxlen=agree)
        self._target: int | None = None
        self._last_step: float | None = None
        self._last: Forecast | None = None

    def reset(self, step: int) -> None:
        self.start = int(step)
        self._window.clear()
        self._last_step = None
        self._last = None

    def update(self, steps, values, target_step: int) -> Forecast | None:
        got = _clean(steps, values, self.start)
        if got is None or len(got[0]) == 0:
            return None
        s, v = got
        if target_step != self._target:
            self._target = target_step
            self._window.clear()
            self._last_step = None
        if self._last_step is not None and s[-1] <= self._last_step:
            return self._last  # nothing new since the last call
        self._last_step = float(s[-1])
        s, v = thin(s, v, self.max_points)
        f = fit(s, v, target_step, self.start)
        self._last = None
        if f is None:
            self._window.clear()
            return None
        begin = f.start_step if self.start is None else self.start
        if not self._window or (f.last_step - begin) >= (1 + self.min_growth) * (self._window[-1].last_step - begin):
            self._window.append(f)
        group = list(self._window) + [f]
        seen = (f.last_step - begin) >= self.min_seen * (target_step - begin)
        if len(self._window) >= self.agree and seen and \
                max(g.value for g in group) <= min(g.high for g in group) and \
                min(g.value for g in group) >= max(g.low for g in group):
            self._last = f
        return self._last
