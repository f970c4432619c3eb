"""The loss plot as text: legend, braille curves, y labels, x axis with LR/alert marks.

`render_plot` is a pure function of store series and view settings, so it is tested and
benchmarked without a terminal. Its cost is O(width x height), whatever the history length: each
series is read as a per-dot-column min/max/last envelope from the store's pyramid (a single spike
among 10M points still lights its column), never by striding or sampling.

After a rollback the stretches it abandoned (store.abandoned_of) are drawn first, faint, under the
live branch, which the store keeps as its own series from the rollback's step on.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from lossmon.formatting import step_label
from lossmon.recording.store import Envelope, Series
from lossmon.views.tui.axes import Scale, fmt_tick, linear_ticks, scale_with_notes, y_ticks
from lossmon.views.tui.braille import Canvas

# Layers, in paint order (a cell takes the colour of the last layer that drew in it).
LAYERS = ("abandoned", "train_raw", "train", "val", "train_forecast", "val_forecast", "val_marker", "nonfinite")
_L = {name: i for i, name in enumerate(LAYERS)}
LABEL_W = 8  # y labels are right-aligned in 7 columns, then the axis line
MIN_W, MIN_H = 24, 6


@dataclass
class Mark:
    """Something to flag on the x axis: an LR change, a rollback or an alert (kind: 'lr', 'rollback'
    or a severity)."""

    step: int
    kind: str


@dataclass
class PlotImage:
    """Rows of (text, style key) runs; the widget maps style keys to theme colours."""

    rows: list[list[tuple[str, str]]]
    scale: Scale | None = None
    start: float = 0.0
    end: float = 0.0
    notes: list[str] = field(default_factory=list)


def _spans(env: Envelope, scale: Scale, rows: int):
    """Top/bottom dot rows per dot column: the column's min..max, joined to its neighbours by the
    line through each column's last value (so sparse series such as val loss draw as lines)."""
    cols = len(env.lo)
    top = scale.to_rows(env.hi, rows)
    bot = scale.to_rows(env.lo, rows)
    anchor_y = scale.to_rows(env.last, rows)
    ok = np.isfinite(anchor_y)
    ac = np.flatnonzero(ok)
    if len(ac) >= 2:
        c = np.arange(cols, dtype=np.float64)
        inside = (c >= ac[0]) & (c <= ac[-1])
        ay = anchor_y[ac]
        yl = np.interp(np.clip(c - 0.5, ac[0], ac[-1]), ac, ay)
        yr = np.interp(np.clip(c + 0.5, ac[0], ac[-1]), ac, ay)
        with np.errstate(invalid="ignore"):
            top = np.where(inside, np.fmin(top, np.minimum(yl, yr)), top)
            bot = np.where(inside, np.fmax(bot, np.maximum(yl, yr)), bot)
    return top, bot


def _visible_range(envs: list[Envelope]) -> tuple[float, float]:
    lo, hi = np.inf, -np.inf
    for env in envs:
        if np.isfinite(env.lo).any():
            lo = min(lo, float(np.nanmin(env.lo)))
            hi = max(hi, float(np.nanmax(env.hi)))
    return lo, hi


def render_plot(width: int, height: int, *, train: Series | None = None, smooth: Series | None = None,
                val: Series | None = None, start: float | None = None, end: float | None = None,
                log: bool = True, marks: list[Mark] | None = None, legend: str = "",
                forecasts: dict | None = None, abandoned: list[Series] | None = None) -> PlotImage:
    """Draw the loss plot into `width` x `height` cells. `forecasts` ({"train"/"val": Forecast})
    continue their curve dashed from its last step to the forecast's target, with the interval as
    a bar there; with `end` None the x axis then reaches the target. `abandoned`: what rollbacks
    left behind, drawn faint."""
    # NaN/inf are data here, not mistakes: numpy's warnings would only reach the training output pane
    with np.errstate(all="ignore"):
        return _render(width, height, train, smooth, val, start, end, log, marks, legend, forecasts or {},
                       [s for s in abandoned or () if len(s)])


def _forecast_dots(fc, first: float, start: float, end: float, cols: int):
    """(dot columns, values, the target's column or None) of a forecast's curve from `first` to
    its target: every other pair of dot columns, a dash."""
    span = end + 1.0 - start
    c0 = max(0, int((first - start) / span * cols) + 1)
    target = int((fc.target_step - start) / span * cols)
    c1 = min(cols - 1, target)
    if c1 < c0:
        return np.zeros(0, dtype=np.int64), np.zeros(0), None
    c = np.arange(c0, c1 + 1)
    c = c[((c - c0) % 4 < 2) | (c == c1)]
    return c, fc.predict(start + (c + 0.5) * span / cols), (c1 if target < cols else None)


def _render(width, height, train, smooth, val, start, end, log, marks, legend, forecasts, abandoned) -> PlotImage:
    if width < MIN_W or height < MIN_H:
        return PlotImage([[("plot: enlarge the terminal", "label")]] + [[("", "label")]] * (max(0, height - 1)))
    present = [s for s in (train, val) if s is not None and len(s)]
    legend_row = [(legend[:width].ljust(width), "legend")]
    pw, ph = width - LABEL_W, height - 3  # plot cells
    if not present:
        rows = [legend_row] + [[("", "label")] for _ in range(ph)]
        rows[ph // 2 + 1] = [(" " * LABEL_W + "waiting for the first logged loss ...", "label")]
        return PlotImage(rows + [[("", "axis")], [("", "label")]])
    first = min(float(s.steps()[0]) for s in present)
    last = max(float(s.steps()[-1]) for s in present + abandoned)
    start = first if start is None else max(float(start), first)
    if end is None and forecasts:
        end = max([last] + [float(fc.target_step) for fc in forecasts.values()])
    end = last if end is None else float(end)
    end = max(end, start)
    canvas = Canvas(pw, ph)
    cols, rows_px = canvas.dots_w, canvas.dots_h
    envs = {key: s.envelope(cols, start, end) for key, s in (("train", train), ("smooth", smooth), ("val", val))
            if s is not None and len(s)}
    gone = [s.envelope(cols, start, end) for s in abandoned]
    lo, hi = _visible_range(list(envs.values()) + gone)
    dashes = {}
    for key, fc in forecasts.items():
        series = val if key == "val" else train
        if series is None or not len(series):
            continue
        c, v, at = _forecast_dots(fc, float(series.steps()[-1]), start, end, cols)
        if len(c):
            dashes[key] = (fc, c, v, at)
            band = np.array([fc.low, fc.high, *v])
            band = band[np.isfinite(band) & ((band > 0) | (not log))]
            if len(band) and np.isfinite(lo):
                lo, hi = min(lo, float(band.min())), max(hi, float(band.max()))
    notes: list[str] = []
    scale = scale_with_notes(lo, hi, log, notes)
    nonfinite = np.zeros(cols, dtype=bool)
    for env in gone:
        canvas.spans(*_spans(env, scale, rows_px), _L["abandoned"])
    if "train" in envs:
        canvas.spans(*_spans(envs["train"], scale, rows_px), _L["train_raw"] if smooth is not None else _L["train"])
        nonfinite |= envs["train"].nonfinite > 0
    if "smooth" in envs:
        canvas.spans(*_spans(envs["smooth"], scale, rows_px), _L["train"])
    if "val" in envs:
        canvas.spans(*_spans(envs["val"], scale, rows_px), _L["val"])
        nonfinite |= envs["val"].nonfinite > 0
        _val_markers(canvas, val, start, end, scale)
    for key, (fc, c, v, at) in dashes.items():
        top = np.full(cols, np.nan)
        top[c] = scale.to_rows(v, rows_px)
        bottom = top.copy()
        if at is not None:  # the interval, as a bar on the target's column
            top[at], bottom[at] = scale.to_rows(np.array([fc.high, fc.low]), rows_px)
        canvas.spans(top, bottom, _L[f"{key}_forecast"])
    bad_cells = np.flatnonzero(nonfinite.reshape(-1, 2).any(axis=1))
    canvas.put(np.zeros_like(bad_cells), bad_cells, "×", _L["nonfinite"])

    labels = _y_labels(scale, ph)
    body = canvas.rows()
    out = [legend_row]
    for r in range(ph):
        lab = labels.get(r)
        prefix = (lab.rjust(LABEL_W - 1) + "┤") if lab else " " * (LABEL_W - 1) + "│"
        out.append([(prefix, "axis")] + [(t, LAYERS[k] if k >= 0 else "label") for t, k in body[r]])
    out += _x_axis(pw, start, end, marks or [])
    return PlotImage(out, scale, start, end, notes)


def _val_markers(canvas: Canvas, val: Series, start: float, end: float, scale: Scale) -> None:
    """A dot on each validation point while they are few enough to tell apart."""
    steps, values = val.points()
    i, j = np.searchsorted(steps, [np.ceil(start), np.floor(end) + 1])
    if j - i == 0 or j - i > canvas.width // 2:
        return
    s, v = steps[i:j].astype(np.float64), values[i:j]
    col = np.floor((s - start) / (end + 1.0 - start) * canvas.dots_w).astype(np.int64) // 2
    rows = scale.to_rows(v, canvas.dots_h)
    ok = np.isfinite(rows)
    canvas.put(np.rint(rows[ok]).astype(np.int64) // 4, col[ok], "•", _L["val_marker"])


def _y_labels(scale: Scale, ph: int) -> dict[int, str]:
    labels: dict[int, str] = {}
    for v in y_ticks(scale, max(2, ph // 4)):
        row = int(np.rint(scale.to_rows(v, ph * 4))) // 4
        if 0 <= row < ph and row not in labels and row - 1 not in labels and row + 1 not in labels:
            labels[row] = fmt_tick(v)
    return labels


def _x_axis(pw: int, start: float, end: float, marks: list[Mark], label=step_label) -> list[list[tuple[str, str]]]:
    """The axis line with ticks and marks, and the row of step labels (`label`: how a tick reads) under it."""
    axis = ["─"] * pw
    label_row = [" "] * (LABEL_W + pw)
    span = end + 1.0 - start

    def col_of(step: float) -> int:
        return int((step - start) / span * pw)

    for t in linear_ticks(start, end, max(1, pw // 12)):
        c = col_of(t)
        if not 0 <= c < pw:
            continue
        text = label(t)
        a = LABEL_W + c - len(text) // 2
        if a < 0 or a + len(text) > len(label_row) or any(ch != " " for ch in label_row[max(0, a - 1):a + len(text) + 1]):
            continue
        axis[c] = "┬"
        label_row[a:a + len(text)] = list(text)
    styled = [("axis", ch) for ch in axis]
    rank = {"info": 1, "lr": 2, "rollback": 3, "warning": 3, "critical": 4}
    best: dict[int, str] = {}
    for m in marks:
        c = col_of(m.step)
        if start <= m.step <= end and 0 <= c < pw and rank.get(m.kind, 0) >= rank.get(best.get(c, ""), 0):
            best[c] = m.kind
    for c, kind in best.items():
        styled[c] = (("lr_mark", "▲") if kind == "lr" else ("alert_warning", "↶") if kind == "rollback"
                     else (f"alert_{kind}", "!"))
    runs: list[tuple[str, str]] = [(" " * (LABEL_W - 1) + "└", "axis")]
    for key, ch in styled:
        if runs and runs[-1][1] == key:
            runs[-1] = (runs[-1][0] + ch, key)
        else:
            runs.append((ch, key))
    return [runs, [("".join(label_row), "label")]]
