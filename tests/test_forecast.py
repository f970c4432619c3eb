"""The forecast (lossmon/diagnosis/forecast.py): known curves are recovered, bad input gives None
and never raises, the Forecaster waits for agreement and re-fits from an LR change, and on two real
curves the forecast made at half-way beats the last smoothed value (benchmarks/bench_forecast.py
measures the whole corpus)."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import bench_forecast  # noqa: E402
import corpus  # noqa: E402

from lossmon.diagnosis.forecast import Forecast, Forecaster, fit  # noqa: E402


def power_law(n=2000, a=1.4, b=3.0, c=0.5, noise=0.01, seed=0):
    rng = np.random.default_rng(seed)
    s = np.arange(1, n + 1)
    return s, a + b * s ** -c + rng.normal(0.0, noise, n)


def test_a_noisy_power_law_is_recovered_and_its_end_predicted():
    s, y = power_law()
    f = fit(s[:1000], y[:1000], 2000)
    assert isinstance(f, Forecast) and f.family in ("pow3", "logpower")
    true_end = 1.4 + 3.0 * 2000 ** -0.5
    assert abs(f.value - true_end) < 0.02 and f.low <= true_end <= f.high
    assert f.floor is not None and abs(f.floor - 1.4) < 0.1
    assert f.start_step == 1 and f.last_step == 1000 and f.target_step == 2000
    if f.family == "pow3":
        a, b, c = f.params
        assert abs(a - 1.4) < 0.1 and c == pytest.approx(0.5, abs=0.15)
    # the fitted curve, for the plot's dashed continuation
    ahead = f.predict(np.array([1500, 2000]))
    assert ahead.shape == (2,) and abs(ahead[1] - f.value) < 1e-9
    assert np.all(np.abs(f.predict(s[200:1000]) - (1.4 + 3.0 * s[200:1000] ** -0.5)) < 0.02)


def test_an_exponential_approach_picks_exp3_and_its_floor():
    rng = np.random.default_rng(1)
    s = np.arange(0, 3000, 5)  # steps from 0
    y = 0.5 + 2.0 * np.exp(-s / 300.0) + rng.normal(0.0, 0.005, s.size)
    f = fit(s[:200], y[:200], 3000)
    assert f is not None and f.family == "exp3"
    assert abs(f.value - 0.5) < 0.02 and abs(f.floor - 0.5) < 0.02 and f.low <= 0.5 <= f.high
    assert f.describe_floor().startswith("noise floor ~ 0.")
    assert all(type(q) is float for q in (f.value, f.low, f.high, f.floor))


def test_describe_is_short_and_says_value_interval_and_step():
    f = Forecast("pow3", 20000, 1.4812, 1.4512, 1.5112, 1.41, 0)
    assert f.describe("val") == "val -> 1.48 ± 0.03 at step 20k"
    assert f.describe_floor() == "noise floor ~ 1.41"
    g = Forecast("loglin", 20000, 1.48, 1.45, 1.60, None, 0)
    assert g.describe("train") == "train -> 1.48 (1.45-1.60) at step 20k" and g.describe_floor() == ""


@pytest.mark.parametrize("steps, values", [
    ([1, 2, 3], [3.0, 2.0, 1.0]),  # too few
    (np.arange(100), np.full(100, np.nan)),  # all NaN
    (np.arange(100), np.full(100, 2.5)),  # constant
    (np.arange(100), np.full(100, np.inf)),
    ([], []),
    (np.arange(10), np.arange(5.0)),  # lengths differ
])
def test_input_that_cannot_be_trusted_gives_none(steps, values):
    assert fit(steps, values, 1000) is None
    assert Forecaster().update(steps, values, 1000) is None


def test_nan_and_inf_in_the_input_are_dropped_not_raised():
    s, y = power_law(1000)
    y = y.copy()
    y[::7] = np.nan
    y[5::11] = np.inf
    y[3::13] = -np.inf
    f = fit(s, y, 2000)
    assert f is not None and np.isfinite(f.value)
    assert fit(s, y, 10 ** 9) is None  # past MAX_HORIZON x what was seen
    assert fit(s, y, None) is None and fit(s, y, float("nan")) is None and fit(s, y, 2000, float("inf")) is None
    huge = np.where(np.arange(s.size) % 2, 1e308, -1e308)
    assert fit(s, huge, 2000) is None or np.isfinite(fit(s, huge, 2000).value)


def test_the_forecaster_says_nothing_until_consecutive_fits_agree():
    s, y = power_law(4000, noise=0.02)
    fc = Forecaster()
    said = []
    for end in range(100, 2001, 100):
        said.append(fc.update(s[:end], y[:end], 4000))
    assert said[0] is None and said[1] is None  # one fit, then two: not yet agreement
    assert said[-1] is not None and abs(said[-1].value - (1.4 + 3.0 * 4000 ** -0.5)) < 0.03
    first = next(i for i, f in enumerate(said) if f is not None)
    assert first >= 2
    # the same data again: the same answer, and it does not count as a new agreeing fit
    assert fc.update(s[:2000], y[:2000], 4000) is said[-1]


def test_after_reset_only_points_from_that_step_on_are_used():
    rng = np.random.default_rng(2)
    s = np.arange(1, 6001)
    y = 2.0 + 3.0 * s ** -0.4
    cut = 3000  # an LR cut: the loss drops and settles on another curve
    after = s >= cut
    y = np.where(after, 1.0 + 0.8 * np.exp(-(s - cut) / 400.0), y) + rng.normal(0.0, 0.005, s.size)
    fc = Forecaster()
    for end in range(500, 3001, 250):
        fc.update(s[:end], y[:end], 6000)
    fc.reset(cut)
    assert fc.update(s[:cut + 50], y[:cut + 50], 6000) is None  # too few points since the reset
    got = None
    for end in range(cut + 250, 5001, 250):
        got = fc.update(s[:end], y[:end], 6000)
    assert got is not None and got.start_step == cut and got.family == "exp3"
    assert abs(got.value - 1.0) < 0.02 and abs(got.floor - 1.0) < 0.02
    # without the reset the fit would have mixed both stretches
    mixed = fit(s[:5000], y[:5000], 6000)
    assert mixed is None or mixed.start_step == 1


@pytest.mark.parametrize("cid", ["makemore-healthy", "hf-whisper-tiny-no-100k"])
def test_on_a_real_curve_the_forecast_at_half_way_beats_the_last_smoothed_value(cid):
    c = corpus.load(next(corpus.CURVES.glob(f"*/{cid}.json")))
    case = next(k for k in bench_forecast.cases([c]) if k.kind == "train")
    half = case.steps <= case.steps[0] + 0.5 * (case.steps[-1] - case.steps[0])
    bs, bv = bench_forecast.block_means(case.steps[half], case.values[half])
    f = fit(bs, bv, int(case.steps[-1]))
    true = bench_forecast.truth(case)
    last = bench_forecast.last_value(case.steps[half], case.values[half])
    assert f is not None and f.low <= true <= f.high
    assert abs(f.value - true) < 0.5 * abs(last - true)
