"""Debiased EMA: vectorised result equals the textbook loop; updates are incremental."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lossmon.recording.smoothing import Smoothed, ema
from lossmon.recording.store import Series


def reference(values, beta):
    """TensorBoard's rule, one point at a time: NaN/inf pass without entering the average."""
    m, k, out = 0.0, 0, []
    for x in values:
        if not math.isfinite(x):
            continue
        m = beta * m + (1 - beta) * x
        k += 1
        out.append(m / (1 - beta ** k) if beta > 0 else m)
    return np.array(out)


@pytest.mark.parametrize("beta", [0.0, 0.6, 0.9, 0.99, 0.999])
def test_vectorised_ema_equals_the_loop(beta):
    rng = np.random.default_rng(1)
    x = rng.lognormal(size=30_000) * np.exp(-np.arange(30_000) / 8000) * 1e3
    m, ref = 0.0, []
    for v in x:
        m = beta * m + (1 - beta) * v
        ref.append(m)
    np.testing.assert_allclose(ema(x, beta), ref, rtol=1e-12)


def test_smoothed_series_is_debiased_skips_nonfinite_and_grows_incrementally():
    rng = np.random.default_rng(2)
    values = list(rng.normal(5, 1, 5000))
    values[100] = math.nan
    values[2000] = math.inf
    src = Series("loss")
    sm = Smoothed(src, 0.9)
    for lo in range(0, 5000, 731):  # arrives in uneven batches
        hi = min(5000, lo + 731)
        src.extend(np.arange(lo, hi), np.array(values[lo:hi]))
        sm.update()
    np.testing.assert_allclose(sm.series.values(), reference(values, 0.9), rtol=1e-12)
    assert len(sm.series) == 4998 and 100 not in sm.series.steps()
    assert sm.series.values()[0] == pytest.approx(values[0])  # debiased: starts at the first point


def test_a_long_history_is_caught_up_over_several_updates():
    src = Series("loss")
    src.extend(np.arange(10_000), np.linspace(2, 1, 10_000))
    sm = Smoothed(src, 0.99)
    assert sm.update(limit=4000) == 4000 and sm.behind
    sm.update(limit=4000)
    sm.update(limit=4000)
    assert not sm.behind and len(sm.series) == 10_000
    np.testing.assert_allclose(sm.series.values(), reference(np.linspace(2, 1, 10_000), 0.99), rtol=1e-12)


def test_bad_beta_is_refused():
    with pytest.raises(ValueError):
        Smoothed(Series("x"), 1.0)
