"""What an LR probe showed: where the loss got to while the LR was x`factor`, against where the
run was heading before it.

`run.probe_lr(2, 200)` raises the LR for a window and then puts it back (training/lr.py); the two
changes are `lr_change` events marked `probe`. This judge keeps the recent train loss, and once the
window is over it compares the loss level in the window's last quarter with the forecast
(forecast.py) made from the curve before the probe, for those steps.

Levels, not slopes: at a noise floor a higher LR first lifts the loss and then lets it fall back,
a steep slope that means nothing; and "x2 made it fall faster" is only worth keeping if the loss
ends up lower. The baseline is the fitted learning curve and not a trend line through the last
stretch, because a loss curve decelerates: a line promises a fall that never comes, a log-trend
was measured to under-promise it (a probe at x1 -- no change at all -- read "faster" on 23 of 28
small real runs). A verdict needs the level outside the forecast's interval; inside it is "no clear
difference". Measured in benchmarks/bench_lr_probe.py against the run continued at x2 versus x1.
"""

from __future__ import annotations

from collections import deque
from typing import Callable

import numpy as np

from lossmon.diagnosis import forecast
from lossmon.diagnosis.alerts import Episode
from lossmon.events import LR_CHANGE
from lossmon.formatting import fmt_step, pct
from lossmon.formatting import fmt_value as fmt

HISTORY = 32768  # train-loss points kept for the curve before a probe (the fit thins them)
MIN_POINTS = 16  # before the probe; and 4 in the window's last quarter


def judge(before: tuple[np.ndarray, np.ndarray], during: tuple[np.ndarray, np.ndarray]) -> dict | None:
    """Where the loss got to in the window's last quarter against the forecast from `before`.
    Returns {"level", "expected", "low", "high", "start", "gain", "verdict"} or None when there
    are too few points or no forecast can be trusted.

    verdict: "faster" (below the interval: the LR was too small), "slower" (above it: the LR is
    at or past its best), "same" (inside: no difference the curve lets us see), "unknown" (the
    interval is too wide to compare with: the curve before the probe does not say where it was
    heading yet)."""
    bs, bv = before
    ds, dv = during
    ok = np.isfinite(bv)
    bs, bv = bs[ok], bv[ok]
    ok = np.isfinite(dv)
    ds, dv = ds[ok], dv[ok]
    if len(bv) < MIN_POINTS or len(dv) < 4:
        return None
    last = ds >= ds[-1] - (ds[-1] - ds[0]) / 4
    if int(np.count_nonzero(last)) < 4:
        return None
    at = float(ds[last].mean())
    fc = forecast.fit(bs, bv, int(round(at)), start_step=int(bs[0]))
    if fc is None:
        return None
    expected, level = float(fc.predict(np.array([at]))[0]), float(dv[last].mean())
    if fc.high - fc.low > 2 * forecast.WIDE * max(abs(expected), abs(level)):  # it does not say yet
        verdict = "unknown"
    else:
        verdict = "faster" if level < fc.low else "slower" if level > fc.high else "same"
    return {"level": level, "expected": expected, "low": fc.low, "high": fc.high, "verdict": verdict,
            "start": float(np.median(bv[-MIN_POINTS:])),
            "gain": (expected - level) / abs(expected) if expected else 0.0}


class ProbeJudge:
    """Follows the probe events and the train loss; one `lr_probe` note per probe that ran."""

    def __init__(self, emit: Callable[[dict], None]) -> None:
        self.emit = emit
        self._steps: deque[int] = deque(maxlen=HISTORY)
        self._values: deque[float] = deque(maxlen=HISTORY)
        self._start: tuple[int, float, int] | None = None  # (step, factor, planned steps)
        self._end: tuple[int, str, int] | None = None  # (step, how, steps it ran)
        self._waited = False  # a batch went by after the end: judge with what there is
        self.metric = "train loss"

    def events(self, evs) -> None:
        for ev in evs:
            if ev.get("event") != LR_CHANGE or not ev.get("applied", True) or not isinstance(ev.get("step"), int):
                continue
            how = ev.get("probe")
            if how is None:  # a change by hand: the curve before it is another curve
                self._steps.clear()
                self._values.clear()
            elif how == "start":
                self._start = (ev["step"], float(ev.get("probe_factor", 2.0)), int(ev.get("probe_steps", 0)))
                self._end, self._waited = None, False
            elif how in ("end", "cancelled") and self._start is not None:
                self._end = (ev["step"], how, int(ev.get("probe_steps", 0)))

    def feed(self, metric: str, steps: np.ndarray, values: np.ndarray) -> None:
        self.metric = metric
        self._steps.extend(steps.tolist())
        self._values.extend(values.tolist())
        if self._end is None or self._start is None:
            return
        end = self._end[0]
        if self._steps and (self._steps[-1] > end or self._waited):
            self._verdict()
        else:
            self._waited = True

    def _verdict(self) -> None:
        (s0, factor, planned), (s1, how, ran) = self._start, self._end
        self._start = self._end = None
        st = np.fromiter(self._steps, dtype=np.int64, count=len(self._steps))
        va = np.fromiter(self._values, dtype=np.float64, count=len(self._values))
        # Events carry the step logged last when the optimizer step ran: the loss logged next was
        # computed before that update, so the probed LR first shows at s0 + 2, last at s1 + 1.
        span = max(1, s1 - s0)
        skip = min(20, span // 10)
        during = (st > s0 + 1 + skip) & (st <= s1 + 1)
        before = st <= s0 + 1
        result = judge((st[before], va[before]), (st[during], va[during]))
        name = f"x{factor:g}"
        cut = "" if how == "end" else f" (cut short after {ran} of {planned} steps by a change of the LR)"
        where = f"steps {fmt_step(s0 + 1)}-{fmt_step(s1)}"
        note = Episode(self.emit, "lr_probe", self.metric)
        if result is None:
            note.start(s1, "info", f"LR probe {name} at {where}{cut}: no verdict: too few finite {self.metric}"
                       " points before or during it, or no learning curve fits the stretch before it", "none",
                       factor=factor, start=s0, end=s1)
            return
        level, expected, verdict = result["level"], result["expected"], result["verdict"]
        data = dict(factor=factor, start=s0, end=s1, level=level, expected=expected, verdict=verdict)
        versus = (f"{fmt(level)} where the forecast from before the probe said {fmt(expected)}"
                  f" ({fmt(result['low'])}-{fmt(result['high'])})")
        if verdict == "faster":
            fell, fell_fc = result["start"] - level, result["start"] - expected
            times = f", it fell {fell / fell_fc:.1f}x as much" if fell > 0 and fell_fc > 0 else ""
            note.start(s1, "info", f"LR probe {name} at {where}{cut}: the {self.metric} got to {versus},"
                       f" {pct(result['gain'])} lower{times}: the LR was too small",
                       "keep_probe" if factor == 2 else "keep_probe_any", **data)
        elif verdict == "slower":
            note.start(s1, "info", f"LR probe {name} at {where}{cut}: the {self.metric} got to {versus},"
                       " higher: the LR is at or above its best", "keep_lr", **data)
        elif verdict == "unknown":
            note.start(s1, "info", f"LR probe {name} at {where}{cut}: no verdict: the curve before it does not"
                       f" say yet where it was heading (the forecast spans {fmt(result['low'])}-{fmt(result['high'])});"
                       f" the {self.metric} got to {fmt(level)}", "probe_later", **data)
        else:
            note.start(s1, "info", f"LR probe {name} at {where}{cut}: no clear difference (the"
                       f" {self.metric} got to {versus}); a small one hides in the noise over {ran} steps",
                       "longer_probe", **data)
