"""The detectors on synthetic curves with known events, over many seeds.

Healthy runs (noisy ones, warm-up, cosine/step/linear decay, sparse or frequent evaluation) must
raise no warning; every clearly injected event must be found within the delay stated here (and in
the README). Delays are in steps after the event's step.
"""

from __future__ import annotations

import numpy as np
import pytest

from lossmon.diagnosis import Diagnoser
from lossmon.diagnosis.synthetic import SCHEDULES, generate

STEPS = 100_000


def diagnose(curve, batch=10_000, scale=1.0, config=None):
    d = Diagnoser(config)
    for b in curve.batches(batch, scale):
        d.feed(b)
    assert d.failed is None
    return d


def raised(d, kind=None, severities=("warning", "critical")):
    return [a for a in d.alerts if a["state"] != "resolved" and a["severity"] in severities
            and (kind is None or a["kind"] == kind)]


def healthy_params(seed: int) -> dict:
    rng = np.random.default_rng(1000 + seed)
    return dict(schedule=SCHEDULES[seed % len(SCHEDULES)], noise=float(rng.choice([0.02, 0.1, 0.2, 0.3, 0.4])),
                alpha=float(rng.uniform(0.3, 1.0)), tau=float(rng.choice([50, 200, 500])),
                floor=float(rng.uniform(0.05, 2.0)), initial=float(rng.uniform(3, 10)),
                eval_every=int(rng.choice([100, 1000, 5000])), val_noise=float(rng.choice([0.002, 0.01, 0.03])))


@pytest.mark.parametrize("seed", range(24))
def test_healthy_runs_raise_no_warning(seed):
    curve = generate(STEPS, seed=seed, **healthy_params(seed))
    d = diagnose(curve)
    assert raised(d) == [], [a["message"] for a in raised(d)]


def test_healthy_runs_fed_per_tick_match_bulk_feeding():
    """Live ticks (a few hundred steps) and `lossmon check` chunks give the same alerts."""
    curve = generate(20_000, seed=3, noise=0.2, overfit_at=10_000, spike_at=5_000, spike_size=9.0)
    a = [(x["kind"], x["step"], x["state"]) for x in diagnose(curve, batch=20_000).alerts]
    b = [(x["kind"], x["step"], x["state"]) for x in diagnose(curve, batch=137).alerts]
    assert sorted(a) == sorted(b)
    assert {"spike", "overfitting"} <= {k for k, _, _ in a}


# (generator arguments, kind, severities, max delay in steps) -- noise varies with the seed
EVENTS = {
    "nonfinite": (dict(nan_at=50_000), ("critical",), 0),
    "spike": (dict(spike_at=30_000), ("warning",), 0),
    "divergence": (dict(diverge_at=50_000), ("critical",), 500),
    "overfitting": (dict(overfit_at=40_000), ("warning",), 25_000),
    "plateau": (dict(plateau_at=20_000), ("info",), 25_000),
    "lr_too_low": (dict(lr_scale=0.01), ("warning",), 60_000),
    "oscillation": (dict(oscillate_at=30_000), ("warning",), 10_000),
}
NOISES = [0.05, 0.1, 0.2, 0.3]


@pytest.mark.parametrize("kind", list(EVENTS))
@pytest.mark.parametrize("seed", range(8))
def test_events_are_found_within_their_delay(kind, seed):
    kw, severities, delay = EVENTS[kind]
    noise = NOISES[seed % 4]
    kw = dict(kw)
    if kind == "spike":  # "clear": at least 8 sigma of the batch noise (on the log scale)
        kw["spike_size"] = max(4.0, float(np.expm1(8 * noise)))
    schedule = "constant" if kind in ("plateau", "lr_too_low") else ("warmup_cosine" if seed % 2 else "step")
    curve = generate(STEPS, seed=seed, noise=noise, schedule=schedule, **kw)
    d = diagnose(curve)
    found = raised(d, kind, severities)
    assert found, f"no {kind} alert; got {[(a['kind'], a['step']) for a in d.alerts]}"
    at = curve.events[kind]
    assert at <= found[0]["step"] <= at + delay, (found[0]["step"], at)
    before = [a for a in raised(d) if a["step"] < at]
    assert before == [], [a["message"] for a in before]  # nothing cried wolf before the event


def test_three_spikes_close_together_are_an_oscillation():
    curve = generate(20_000, seed=1, noise=0.1)
    for s in (10_000, 10_150, 10_300):
        curve.train[s] *= 6
    d = diagnose(curve)
    osc = raised(d, "oscillation")
    assert osc and osc[0]["step"] == 10_300
    assert [a["step"] for a in raised(d, "spike")] == [10_000, 10_150, 10_300]
