"""The braille plot and sparklines: what they draw, checked without a terminal."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lossmon.recording.store import Series
from lossmon.formatting import step_label
from lossmon.views.tui.axes import fit_scale, fmt_tick, y_ticks
from lossmon.views.tui.braille import Canvas
from lossmon.views.tui.plotimage import LABEL_W, Mark, render_plot
from lossmon.views.sparkline import BARS, NONFINITE, spark_text


def series(name, steps, values) -> Series:
    s = Series(name)
    s.extend(np.asarray(steps), np.asarray(values, dtype=np.float64))
    return s


def text(img) -> list[str]:
    return ["".join(t for t, _ in row) for row in img.rows]


def dots(img, key: str | None = None) -> np.ndarray:
    """Per plot row and cell column: does a braille cell with dots (of that style) sit there?"""
    rows = []
    for row in img.rows[1:-2]:
        cells = []
        for t, k in row[1:]:  # skip the y label run
            cells += [("\u2801" <= ch <= "\u28ff") and (key is None or k == key) for ch in t]
        rows.append(cells)
    width = max(len(r) for r in rows)
    return np.array([r + [False] * (width - len(r)) for r in rows])


def test_canvas_spans_set_the_right_braille_dots():
    c = Canvas(2, 1)  # 4 x 4 dots
    c.spans(np.array([0, 3, np.nan, 1]), np.array([0, 3, np.nan, 2]), layer=0)
    runs = c.rows()[0]
    row = "".join(t for t, _ in runs)
    # cell 0: left column row 0 (0x01) + right column row 3 (0x80); cell 1: right column rows 1-2
    assert row == chr(0x2800 + 0x01 + 0x80) + chr(0x2800 + 0x10 + 0x20)
    assert all(k == 0 for _, k in runs)


def test_canvas_layers_colour_cells_and_blank_cells_join_the_run_before():
    c = Canvas(4, 1)
    c.spans(np.array([0, 0, np.nan, np.nan, np.nan, np.nan, 0, 0]), np.array([3, 3] + [np.nan] * 4 + [3, 3]), 0)
    c.spans(np.array([np.nan] * 6 + [1, 1]), np.array([np.nan] * 6 + [1, 1]), 1)
    assert [(len(t), k) for t, k in c.rows()[0]] == [(3, 0), (1, 1)]


@pytest.mark.slow
def test_a_single_spike_among_ten_million_points_is_drawn_at_any_window():
    n = 10_000_000
    v = np.full(n, 0.5)
    v[7_654_321] = 40.0
    s = series("loss", np.arange(n), v)
    for start, end in [(None, None), (7_000_000, 8_000_000), (7_654_000, 7_655_000)]:
        img = render_plot(120, 30, train=s, start=start, end=end)
        assert img.scale.hi >= math.log10(40.0)  # the axis reaches the spike
        top_row = dots(img)[:2].any(axis=0)
        assert top_row.sum() >= 1, (start, end)  # ... and the spike lights the top of the plot
        col = int(np.flatnonzero(top_row)[0])
        lo = img.start
        expected = int((7_654_321 - lo) / (img.end + 1 - lo) * (120 - LABEL_W))
        assert abs(col - expected) <= 1


def test_nan_and_inf_never_crash_and_are_marked():
    s = series("loss", np.arange(100), [1.0] * 40 + [math.nan, math.inf, -math.inf] + [0.9] * 57)
    img = render_plot(60, 12, train=s)
    assert "×" in text(img)[1]
    allbad = series("loss", np.arange(5), [math.nan] * 5)
    img = render_plot(60, 12, train=allbad)
    assert "no finite values in view" in img.notes and "×" in text(img)[1]


def test_log_axis_falls_back_to_linear_for_values_at_or_below_zero():
    s = series("metric", np.arange(50), np.linspace(-1, 1, 50))
    img = render_plot(60, 12, train=s, log=True)
    assert not img.scale.log and "linear y: values <= 0" in img.notes
    pos = series("loss", np.arange(50), np.geomspace(10, 0.01, 50))
    img = render_plot(60, 16, train=pos, log=True)
    assert img.scale.log
    labels = [r[:LABEL_W - 1].strip() for r in text(img)[1:-2]]
    assert {"10", "1", "0.1", "0.01"} <= {lab for lab in labels if lab}


def test_validation_is_a_line_with_markers_and_train_smoothed_is_bold():
    steps = np.arange(1, 1001)
    train = series("loss", steps, 1.0 / np.sqrt(steps))
    smooth = series("loss (smoothed)", steps, 1.0 / np.sqrt(steps) + 0.01)
    val = series("val_loss", steps[99::100], 1.2 / np.sqrt(steps[99::100]))
    img = render_plot(100, 20, train=train, smooth=smooth, val=val)
    keys = {k for row in img.rows for _, k in row}
    assert {"train_raw", "train", "val", "val_marker"} <= keys
    assert "".join(text(img)).count("•") == 10


def test_sparse_validation_points_are_joined_by_a_line():
    val = series("val_loss", [100, 900], [2.0, 1.0])
    img = render_plot(60, 12, val=val)
    lit = dots(img).any(axis=0)
    first, last = np.flatnonzero(lit)[[0, -1]]
    assert lit[first:last + 1].all()  # no gap between the two points


def test_marks_for_lr_changes_and_alerts_sit_on_the_x_axis():
    s = series("loss", np.arange(1000), np.ones(1000))
    img = render_plot(110, 12, train=s, marks=[Mark(500, "lr"), Mark(250, "critical"), Mark(250, "info")])
    axis_runs = img.rows[-2]
    axis = "".join(t for t, _ in axis_runs)
    assert axis.count("▲") == 1 and axis.count("!") == 1
    assert ("!", "alert_critical") in axis_runs  # the more severe mark wins a shared column
    assert axis.index("!") < axis.index("▲")


def test_tiny_sizes_and_empty_series_do_not_crash():
    s = series("loss", np.arange(10), np.ones(10))
    assert text(render_plot(10, 3, train=s))[0].startswith("plot: enlarge")
    img = render_plot(60, 10, train=Series("loss"))
    assert any("waiting for the first logged loss" in r for r in text(img))
    one = series("loss", [5], [0.3])
    assert render_plot(60, 10, train=one).scale is not None


@settings(max_examples=60, deadline=None)
@example([1.7120886998688722e308], 24, 6, False)  # found by hypothesis: padding overflowed
@example([8.912509381337805e307], 24, 6, True)
@example([-1.7e308, 1.7e308], 30, 8, False)
@example([5e-324, 1e-310], 30, 8, True)
@example([1.0, -1.797693134462316e308], 24, 6, False)
@example([1.0, 1.4251026703030195e296], 24, 6, True)
@example([-8.98846572931158e307], 24, 6, False)
@given(st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True), st.just(1.0)), min_size=1, max_size=300),
       st.integers(24, 120), st.integers(6, 40), st.booleans())
def test_any_values_any_size_render_without_error(values, width, height, log):
    s = series("loss", np.arange(len(values)), values)
    img = render_plot(width, height, train=s, val=s, log=log)
    assert len(img.rows) == height
    assert all(sum(len(t) for t, _ in row) <= width for row in img.rows)


@settings(max_examples=60, deadline=None)
@example([-1.7e308, 1.7e308], 5, True)
@given(st.lists(st.floats(allow_nan=True, allow_infinity=True), min_size=1, max_size=200), st.integers(1, 60),
       st.booleans())
def test_sparkline_any_values(values, width, log):
    line = spark_text(series("x", np.arange(len(values)), values), width, log=log)
    assert len(line) == width and set(line) <= set(BARS + NONFINITE + " ")


def test_sparkline_is_nan_safe_and_keeps_spikes():
    v = np.full(10_000, 1.0)
    v[5000] = 100.0
    v[8000:8010] = np.nan
    s = series("loss", np.arange(10_000), v)
    line = spark_text(s, 40)
    assert len(line) == 40 and line.count("█") == 1
    only_bad = spark_text(series("x", np.arange(3), [math.nan] * 3), 3)
    assert only_bad == NONFINITE * 3
    assert spark_text(Series("empty"), 7) == " " * 7


def test_ticks_and_labels():
    assert fmt_tick(0.25) == "0.25" and fmt_tick(3e-5) == "3e-5" and fmt_tick(1200) == "1200"
    assert fmt_tick(2e7) == "2e7" and fmt_tick(-0.5) == "-0.5"
    assert len(fmt_tick(123456789.0)) <= 7
    assert step_label(2500) == "2.5k" and step_label(12_000_000) == "12M" and step_label(950) == "950"
    scale = fit_scale(0.01, 10.0, True)
    assert y_ticks(scale, 4)[:4] == [0.01, 0.1, 1.0, 10.0]
    narrow = fit_scale(0.3, 0.9, True)
    ticks = y_ticks(narrow, 4)
    assert len(ticks) >= 2 and all(0.28 < t < 0.95 for t in ticks)
    assert fit_scale(math.nan, 1.0, True) is None
    flat = fit_scale(2.0, 2.0, True)
    assert flat.lo < math.log10(2.0) < flat.hi


@pytest.mark.parametrize("n", [1, 10, 1000])
def test_frame_rows_fill_the_requested_width(n):
    s = series("loss", np.arange(n), np.linspace(1, 2, n))
    img = render_plot(80, 20, train=s)
    assert all(sum(len(t) for t, _ in row) <= 80 for row in img.rows)
    assert len(text(img)[1]) == 80
