"""Several curves on shared axes: the comparison of runs (one colour per run) and a chosen metric
beside the losses (its own y axis on the right where its units differ).

Like plotimage.render_plot, a pure function of store series and view settings (O(width x height)
whatever the history), drawing each series from its per-column envelope; it takes the curves and
their style keys from the caller, so it knows nothing of runs or roles. The x axis is steps, or
whatever the series' "steps" are (milliseconds since a run's start, with `x_fmt`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from lossmon.formatting import step_label
from lossmon.recording.store import Series
from lossmon.views.tui.axes import Scale, scale_with_notes
from lossmon.views.tui.braille import Canvas
from lossmon.views.tui.plotimage import LABEL_W, MIN_H, MIN_W, Mark, PlotImage, _spans, _visible_range, _x_axis, _y_labels

RIGHT_W = 8  # right-axis labels: the axis line, then 7 columns


@dataclass
class Curve:
    series: Series
    style: str  # the palette key it is drawn in
    right: bool = False  # on the right-hand y axis


def render_curves(width: int, height: int, curves: list[Curve], *, legend: list[tuple[str, str]] | None = None,
                  start: float | None = None, end: float | None = None, log: bool = True, right_log: bool = False,
                  marks: list[Mark] | None = None, x_fmt: Callable[[float], str] = step_label,
                  waiting: str = "waiting for the first logged value ...") -> PlotImage:
    """Draw `curves` into `width` x `height` cells; curves marked `right` get a y axis of their own."""
    with np.errstate(all="ignore"):  # NaN/inf are data here
        return _render(width, height, curves, legend or [], start, end, log, right_log, marks or [], x_fmt, waiting)


def _legend_row(legend: list[tuple[str, str]], width: int) -> list[tuple[str, str]]:
    out, used = [], 0
    for text, style in legend:
        if used >= width:
            break
        text = text[: width - used]
        out.append((text, style))
        used += len(text)
    out.append((" " * (width - used), "legend"))
    return out


def _render(width, height, curves, legend, start, end, log, right_log, marks, x_fmt, waiting) -> PlotImage:
    if width < MIN_W or height < MIN_H:
        return PlotImage([[("plot: enlarge the terminal", "label")]] + [[("", "label")]] * (max(0, height - 1)))
    present = [c for c in curves if c.series is not None and len(c.series)]
    has_right = any(c.right for c in present)
    pw, ph = width - LABEL_W - (RIGHT_W if has_right else 0), height - 3
    legend_row = _legend_row(legend, width)
    if not present:
        rows = [legend_row] + [[("", "label")] for _ in range(ph)]
        rows[ph // 2 + 1] = [(" " * LABEL_W + waiting, "label")]
        return PlotImage(rows + [[("", "axis")], [("", "label")]])
    first = min(float(c.series.steps()[0]) for c in present)
    last = max(float(c.series.steps()[-1]) for c in present)
    start = first if start is None else max(float(start), first)
    end = max(last if end is None else float(end), start)
    canvas = Canvas(pw, ph)
    cols, rows_px = canvas.dots_w, canvas.dots_h
    envs = [(c, c.series.envelope(cols, start, end)) for c in present]
    notes: list[str] = []
    scales: dict[bool, Scale] = {}
    for side, want_log in ((False, log), (True, right_log)):
        side_envs = [e for c, e in envs if c.right == side]
        if not side_envs:
            continue
        lo, hi = _visible_range(side_envs)
        scales[side] = scale_with_notes(lo, hi, want_log, notes)
    layer_styles: list[str] = []
    for i, (c, env) in enumerate(envs):
        layer_styles.append(c.style)
        canvas.spans(*_spans(env, scales[c.right], rows_px), i)
    body = canvas.rows()
    left = _y_labels(scales[False], ph) if False in scales else {}
    right = _y_labels(scales[True], ph) if True in scales else {}
    out = [legend_row]
    for r in range(ph):
        lab = left.get(r)
        prefix = (lab.rjust(LABEL_W - 1) + "┤") if lab else " " * (LABEL_W - 1) + "│"
        row = [(prefix, "axis")] + [(t, layer_styles[k] if k >= 0 else "label") for t, k in body[r]]
        if has_right:
            lab = right.get(r)
            row.append((("├" + lab.ljust(RIGHT_W - 1)) if lab else "│" + " " * (RIGHT_W - 1), "axis_right"))
        out.append(row)
    axis = _x_axis(pw, start, end, marks, label=x_fmt)
    if has_right:  # under the right axis: blank, as under the left labels
        axis = [r + [(" " * RIGHT_W, "label")] for r in axis]
        axis[0][-1] = ("┘" + " " * (RIGHT_W - 1), "axis")
    out += axis
    return PlotImage(out, scales.get(False), start, end, notes)


def fmt_seconds(ms: float) -> str:
    """An x tick on the wall-time axis (its "steps" are milliseconds): 45s, 12m30s, 3h05m."""
    s = ms / 1000.0
    if s < 60:
        return f"{s:.0f}s" if s >= 10 or s == int(s) else f"{s:.1f}s"
    m, s = divmod(int(s), 60)
    if m < 60:
        return f"{m}m{s:02d}s" if s else f"{m}m"
    h, m = divmod(m, 60)
    return f"{h}h{m:02d}m"
