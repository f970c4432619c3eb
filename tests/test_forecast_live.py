"""The forecast in a live run (issue 23.1): fed like a pump subscriber, refitted on a clock, started
over after an LR change, shown in the status line and as a dashed continuation on the plot."""

import numpy as np

from lossmon import names
from lossmon.diagnosis.forecast_live import LiveForecast
from lossmon.views.text import Status, forecast_text, plain_status
from lossmon.views.tui.plotimage import render_plot
from test_plot_render import dots, series


class Clock:
    def __init__(self):
        self.t = 0.0

    def __call__(self):
        return self.t


def curve(lo, hi, seed=0):
    rng = np.random.default_rng(seed)
    steps = np.arange(lo, hi)
    return steps, 1.4 + 2.0 * steps ** -0.5 + 0.02 * rng.standard_normal(len(steps))


def feed(live, clock, lo, hi, tick=50, events_at=None):
    steps, values = curve(lo, hi)
    for a in range(0, len(steps), tick):
        st, va = steps[a:a + tick], values[a:a + tick]
        evs = []
        if events_at is not None and st[0] <= events_at <= st[-1]:
            evs = [{"event": "lr_change", "step": int(events_at), "applied": True}]
        clock.t += 1.0
        live({"loss": (st.tolist(), va.tolist())}, evs)


def test_a_stable_forecast_appears_and_lands_near_the_true_end():
    clock = Clock()
    live = LiveForecast(lambda: 3000, interval=3.0, clock=clock)
    feed(live, clock, 1, 1500)
    fc = live.latest[names.TRAIN_LOSS]
    truth = 1.4 + 2.0 * 3000 ** -0.5
    assert fc.target_step == 3000 and fc.low <= truth <= fc.high
    assert abs(fc.value - truth) < 0.05


def test_no_total_steps_no_forecast_and_bad_values_never_raise():
    clock = Clock()
    live = LiveForecast(lambda: None, interval=0.0, clock=clock)
    feed(live, clock, 1, 800)
    assert live.latest == {}
    live2 = LiveForecast(lambda: 1000, interval=0.0, clock=clock)
    live2({"loss": ([1, 2, 3], [float("nan"), float("inf"), -float("inf")]), "val_loss": ([1], ["x"])}, [])
    assert live2.failed is None or live2.latest == {}


def test_an_lr_change_starts_the_curve_over():
    clock = Clock()
    live = LiveForecast(lambda: 3000, interval=3.0, clock=clock)
    feed(live, clock, 1, 1200, events_at=1000)
    assert names.TRAIN_LOSS not in live.latest  # forgotten at the change, and 200 points are not enough yet
    feed(live, clock, 1200, 2600)
    fc = live.latest[names.TRAIN_LOSS]
    assert fc.start_step > 1000  # only the stretch after the change is fitted


def test_the_status_line_shows_the_val_forecast_first_with_its_floor():
    clock = Clock()
    live = LiveForecast(lambda: 3000, interval=3.0, clock=clock)
    feed(live, clock, 1, 1500)
    words = forecast_text(live.latest)
    assert words.startswith("loss -> ") and "at step 3k" in words
    st = Status("r", 1500, 3000, None, 1.45, None, None, 1.0, False, 0, False, forecast=words)
    assert words in plain_status(st, [])


def test_the_plot_reaches_total_steps_and_draws_the_forecast_dashed_beyond_the_data():
    clock = Clock()
    live = LiveForecast(lambda: 3000, interval=3.0, clock=clock)
    feed(live, clock, 1, 1500)
    fc = live.latest[names.TRAIN_LOSS]
    steps, values = curve(1, 1500)
    train = series("loss", steps, values)
    img = render_plot(100, 30, train=train, forecasts={"train": fc})
    assert img.end == 3000
    ahead = dots(img, "train_forecast")
    data = dots(img, "train")
    cols_ahead = np.flatnonzero(ahead.any(axis=0))
    assert len(cols_ahead) > 20 and cols_ahead.min() > np.flatnonzero(data.any(axis=0)).max() - 1
    assert 0 < ahead[:, cols_ahead[0]:].any(axis=0).mean() < 1  # dashed: gaps between the dashes
    assert ahead[:, cols_ahead.max()].sum() >= 1  # the interval bar on the target's column
    plain = render_plot(100, 30, train=train)
    assert plain.end == 1499 and not dots(plain, "train_forecast").any()


def test_no_forecast_once_the_run_reaches_its_target_or_while_the_interval_is_too_wide():
    clock = Clock()
    live = LiveForecast(lambda: 1400, interval=3.0, clock=clock)
    feed(live, clock, 1, 1300)
    assert names.TRAIN_LOSS in live.latest
    feed(live, clock, 1300, 1600)  # past the target for more than one refit interval
    assert live.latest == {}  # nothing ahead to forecast
    rng = np.random.default_rng(3)
    noisy = LiveForecast(lambda: 100_000, interval=0.0, clock=clock)
    for a in range(1, 3000, 50):
        st = np.arange(a, a + 50)
        noisy({"loss": (st.tolist(), (1.0 + 0.8 * rng.standard_normal(50)).tolist())}, [])
    assert all(fc.half_width <= 0.25 * abs(fc.value) for fc in noisy.latest.values())
