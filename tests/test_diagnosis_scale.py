"""No detector assumes a scale: levels around 1e-4 and 1e3, 8 points or 1M, evaluations every step
or every 5k steps, steps that are epochs."""

from __future__ import annotations

import numpy as np
import pytest

from lossmon.diagnosis import Diagnoser
from lossmon.diagnosis.synthetic import generate


def alerts(points, batch=None):
    d = Diagnoser()
    if batch is None:
        d.feed(points)
    else:
        last = max(int(st[-1]) for st, _ in points.values())
        for lo in range(0, last + 1, batch):
            d.feed({k: (st[(st >= lo) & (st < lo + batch)], va[(st >= lo) & (st < lo + batch)])
                    for k, (st, va) in points.items()})
    assert d.failed is None
    return [(a["kind"], a["severity"], a["step"], a["state"]) for a in d.alerts]


@pytest.mark.parametrize("scale", [1e-4, 1e3])
def test_the_same_curve_at_another_scale_gives_the_same_alerts(scale):
    curve = generate(50_000, seed=2, noise=0.1, overfit_at=25_000, spike_at=12_000, spike_size=6.0)
    base = alerts({k: v for k, v in curve.points().items()})
    scaled = alerts({k: v for k, v in curve.points(scale).items()})
    assert base == scaled
    assert {"spike", "overfitting"} <= {k for k, *_ in base}


def test_eight_points_a_spike_and_a_nan_are_found():
    steps = np.arange(8) * 500  # a Hugging Face-style log: the mean loss every 500 steps
    loss = np.array([2.0, 1.6, 1.4, 1.3, 1.25, 1.22, 1.2, 1.9])
    found = alerts({"loss": (steps, loss)})
    assert ("spike", "warning", 3500, "open") in found
    found = alerts({"loss": (steps, np.r_[loss[:7], np.nan])})
    assert found == [("nonfinite", "critical", 3500, "open")]


def test_eight_evaluations_that_turn_up_are_overfitting():
    steps = np.arange(1, 9) * 1000
    val = np.array([1.0, 0.8, 0.7, 0.65, 0.66, 0.72, 0.80, 0.90])
    train_steps = np.arange(1, 8001)
    found = alerts({"train_loss": (train_steps, 1.0 / np.sqrt(train_steps)), "val_loss": (steps, val)})
    assert ("overfitting", "warning", 8000, "update") in found


@pytest.mark.slow
def test_a_million_points_with_evaluation_every_step():
    curve = generate(1_000_000, seed=4, noise=0.1, tau=500, eval_every=1, overfit_at=600_000)
    found = alerts(curve.points(), batch=100_000)
    warn = [(k, s) for k, sev, s, st in found if sev != "info" and st != "resolved"]
    assert warn and warn[0][0] == "overfitting" and 600_000 < warn[0][1] < 800_000


def test_steps_that_are_epochs():
    """A per-epoch log: 60 points, steps 0..59, val every epoch, overfitting from epoch 30."""
    rng = np.random.default_rng(0)
    ep = np.arange(60)
    train = 2.0 * (1 + ep) ** -0.7 * np.exp(0.01 * rng.standard_normal(60))
    val = 2.2 * (1 + ep) ** -0.6 + 0.004 * np.clip(ep - 30, 0, None) ** 1.2
    found = alerts({"loss": (ep, train), "val_loss": (ep, val)})
    over = [s for k, sev, s, st in found if k == "overfitting" and sev == "warning"]
    assert over and 30 < over[0] < 50
    assert not [k for k, sev, s, st in found if sev != "info" and k != "overfitting"]


def test_negative_losses_skip_ratio_rules_but_still_find_spikes():
    rng = np.random.default_rng(1)
    steps = np.arange(5000)
    loss = -3.0 - np.log1p(steps / 100) + 0.05 * rng.standard_normal(5000)
    loss[4000] += 2.0
    found = alerts({"loss": (steps, loss)})
    assert ("spike", "warning", 4000, "open") in found
    assert not [k for k, *_ in found if k == "divergence"]
