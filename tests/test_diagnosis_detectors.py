"""Each detector's episode rules: one alert per condition, updates only when it gets worse, a
resolution when it clears; re-basing on a manual LR change; never an exception out of feed()."""

from __future__ import annotations

import numpy as np

from lossmon.views.keys import key_of
from lossmon.diagnosis import Diagnoser
from lossmon.diagnosis.synthetic import generate


def steps(n, start=0):
    return np.arange(start, start + n)


def noisy(n, level=1.0, noise=0.05, seed=0):
    return level * np.exp(noise * np.random.default_rng(seed).standard_normal(n))


def kinds(d, *fields):
    return [tuple(a[f] for f in fields) for a in d.alerts]


def test_a_nan_outbreak_is_one_alert_and_a_resolution():
    d = Diagnoser()
    v = noisy(600)
    v[200:260] = np.nan
    for lo in range(0, 600, 50):  # fed in ticks, the outbreak spans several
        d.feed({"loss": (steps(50, lo), v[lo:lo + 50])})
    nf = [a for a in d.alerts if a["kind"] == "nonfinite"]
    assert [(a["state"], a["severity"], a["step"]) for a in nf] == [("open", "critical", 200), ("resolved", "info", 359)]
    assert "60 non-finite values" in nf[1]["message"]


def test_grad_norm_inf_is_info_until_it_repeats():
    d = Diagnoser()
    g = noisy(300, 2.0)
    g[100] = np.inf  # a GradScaler skip
    g[200:215] = np.inf
    d.feed({"loss": (steps(300), noisy(300)), "grad_norm": (steps(300), g)})
    nf = [(a["state"], a["severity"], a["step"]) for a in d.alerts if a["kind"] == "nonfinite"]
    assert nf == [("open", "info", 100), ("update", "critical", 209)]


def test_a_persistent_spike_escalates_once_then_the_new_level_is_accepted():
    d = Diagnoser()
    v = noisy(1000)
    v[500:] *= 5  # a jump that stays
    d.feed({"loss": (steps(1000), v)})
    sp = [(a["state"], a["severity"], a["step"]) for a in d.alerts if a["kind"] == "spike"]
    assert sp[:2] == [("open", "warning", 500), ("update", "critical", 504)]
    assert sp[2][0] == "resolved" and sp[2][2] < 600  # accepted as the new level, then quiet
    assert len(sp) == 3


def test_spikes_are_judged_without_the_flagged_points():
    """Two spikes close together: the first never raises the bar for the second (OLMo-core)."""
    d = Diagnoser()
    v = noisy(1000)
    v[400] *= 4
    v[420] *= 4
    d.feed({"loss": (steps(1000), v)})
    assert [a["step"] for a in d.alerts if a["kind"] == "spike"] == [400, 420]


def test_a_loss_fitted_down_to_zero_is_not_spiking():
    """Found watching a tiny linear model: exact zeros, then 1e-42 read as a spike '100 % above'."""
    d = Diagnoser()
    v = np.r_[np.exp(-np.arange(200) / 5.0), np.zeros(50), [3.9e-42, 0.0, 1e-30, 0.0, 0.0]]
    d.feed({"loss": (steps(len(v)), v)})
    assert not [a for a in d.alerts if a["kind"] == "spike"]
    w = -noisy(1000)  # a curve below zero is judged on values; a real jump there still counts
    w[600] = -0.2 * noisy(1000)[600]
    d = Diagnoser()
    d.feed({"loss": (steps(1000), w)})
    assert [a["step"] for a in d.alerts if a["kind"] == "spike"] == [600]


def test_divergence_and_recovery():
    d = Diagnoser()
    v = noisy(3000, noise=0.02)
    v[1000:1400] *= np.linspace(1, 8, 400)
    v[1400:] = noisy(1600, noise=0.02, seed=1)
    d.feed({"loss": (steps(3000), v)})
    div = [(a["state"], a["severity"]) for a in d.alerts if a["kind"] == "divergence"]
    assert div == [("open", "critical"), ("resolved", "info")]


def test_a_manual_lr_change_rebases_spike_and_trend_detectors():
    d = Diagnoser()
    v = np.r_[noisy(2000), noisy(2000, level=1.8, seed=2)]
    change = {"event": "lr_change", "step": 1999, "applied": True, "request": "x4", "source": "key"}
    d.feed({"loss": (steps(1000), v[:1000])})
    d.feed({"loss": (steps(3000, 1000), v[1000:])}, [change])
    assert not [a for a in d.alerts if a["kind"] in ("spike", "divergence")]
    refused = dict(change, applied=False)
    d2 = Diagnoser()
    d2.feed({"loss": (steps(4000), v)}, [refused])  # a refused change changes nothing
    assert [a["step"] for a in d2.alerts if a["kind"] == "spike"][0] == 2000


def test_an_annealed_flat_end_is_convergence_not_a_problem():
    """Step decay: flat at 10 % of the peak LR is a plateau (a lower LR may help); after the next
    x0.1 it improves, then flat at 1 % of the peak is convergence. All info, never a warning."""
    c = generate(100_000, seed=5, noise=0.05, schedule="step", tau=200)
    d = Diagnoser()
    for b in c.batches(10_000):
        d.feed(b)
    train = [a for a in d.alerts if a["kind"] == "plateau" and a["metric"] == "loss"]
    assert [(a["state"], a.get("converged")) for a in train] == [("open", False), ("resolved", None), ("open", True)]
    assert 50_000 < train[0]["step"] < 75_000 and train[2]["step"] > 75_000
    assert "converged" in train[2]["message"] and "1 % of its peak" in train[2]["message"]
    assert not [a for a in d.alerts if a["severity"] != "info"]


def test_a_flat_start_at_full_lr_is_lr_too_low():
    c = generate(30_000, seed=6, noise=0.02, lr_scale=1e-4, tau=100)
    d = Diagnoser()
    for b in c.batches(1000):
        d.feed(b)
    low = [a for a in d.alerts if a["kind"] == "lr_too_low"]
    assert low and low[0]["severity"] == "warning" and "barely moved" in low[0]["message"]
    assert key_of(low[0]["action"]) == "]"  # the advice names the action the ] key does


def test_actions_are_reported_only_when_configured():
    acts = []
    v = noisy(200)
    v[100] = np.nan
    Diagnoser(act=lambda a, al: acts.append(a)).feed({"loss": (steps(200), v)})
    assert acts == []
    Diagnoser(_cfg(nonfinite={"action": "pause"}), act=lambda a, al: acts.append((a, al["kind"]))).feed(
        {"loss": (steps(200), v)})
    assert acts == [("pause", "nonfinite")]


def _cfg(**sections):
    from lossmon.diagnosis.config import from_dict

    return from_dict(sections)


def test_disabled_detectors_stay_silent():
    v = noisy(500)
    v[300] = np.nan
    v[200] *= 10
    d = Diagnoser(_cfg(nonfinite={"enabled": False}, spike={"enabled": False}))
    d.feed({"loss": (steps(500), v)})
    assert not [a for a in d.alerts if a["kind"] in ("nonfinite", "spike", "oscillation")]
    d = Diagnoser(_cfg(lr_too_low={"enabled": False}))
    d.feed({"loss": (steps(500), noisy(500))})  # flat from the start: "LR too small?" when it is on
    assert not [a for a in d.alerts if a["kind"] == "lr_too_low"]


def test_bad_input_never_raises_out_of_feed(capsys):
    d = Diagnoser()
    d.feed({"loss": ([0, 1], ["a", "b"])})  # values that are not numbers
    assert d.failed is not None
    d.feed({"loss": (steps(10), noisy(10))})  # and it stays off, quietly
    assert "diagnosis stopped after an internal error" in capsys.readouterr().err


def test_unrelated_metrics_are_ignored_and_roles_use_the_first_name():
    d = Diagnoser()
    v = noisy(300)
    v[200] = np.nan
    d.feed({"accuracy": (steps(300), v), "train/loss": (steps(300), noisy(300)), "loss": (steps(300), v)})
    assert d.alerts == []  # "loss" is a second train-loss name: train/loss came first
    assert d.train.metric == "train/loss"


import pytest  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

values = st.one_of(st.floats(allow_nan=True, allow_infinity=True, width=64),
                   st.floats(min_value=-1e3, max_value=1e3), st.floats(min_value=1e-6, max_value=10.0))


@pytest.mark.filterwarnings("error")
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(train=st.lists(values, min_size=1, max_size=400), val=st.lists(values, max_size=40),
       cuts=st.lists(st.integers(1, 399), max_size=6), back=st.booleans())
def test_any_values_in_any_batches_never_break_the_diagnoser(train, val, cuts, back):
    """NaN, inf, huge, negative, constant, a handful or hundreds of points, steps that go back:
    feed() never fails, and every alert is well formed."""
    d = Diagnoser()
    n = len(train)
    tsteps = np.arange(n) if not back else np.r_[np.arange(n // 2, n), np.arange(n // 2)]
    vsteps = np.linspace(0, max(n - 1, 0), len(val)).astype(np.int64)
    bounds = sorted({0, n, *[c for c in cuts if c < n]})
    for a, b in zip(bounds, bounds[1:]):
        vm = (vsteps >= a) & (vsteps < b)
        d.feed({"loss": (tsteps[a:b], np.array(train[a:b])), "grad_norm": (tsteps[a:b], np.abs(train[a:b])),
                "val_loss": (vsteps[vm], np.array(val)[vm]), "lr": (tsteps[a:b], np.full(b - a, 1e-3))})
    assert d.failed is None
    for a in d.alerts:
        assert a["severity"] in ("info", "warning", "critical") and a["state"] in ("open", "update", "resolved")
        assert isinstance(a["message"], str) and a["message"] and isinstance(a["step"], int)


def test_a_loss_spike_names_the_grad_norm_spike_with_it_and_the_update_size():
    c = generate(20_000, seed=2, noise=0.1, spike_at=12_000, spike_size=9.0)
    pts = c.points()
    pts["update_ratio"] = (c.steps, np.full(len(c.steps), -1.7))  # updates far too large
    d = Diagnoser()
    for lo in range(0, 20_000, 1000):
        d.feed({n: (s[(s >= lo) & (s < lo + 1000)], v[(s >= lo) & (s < lo + 1000)]) for n, (s, v) in pts.items()})
    spike = next(a for a in d.alerts if a["kind"] == "spike" and a["metric"] == "loss")
    assert spike["step"] == 12_000
    assert "grad norm spiked at the same step" in spike["message"]
    assert "updates are 10^-1.7 of the weights (healthy: about 10^-3)" in spike["message"]


def test_a_flat_loss_with_tiny_updates_is_lr_too_small_and_healthy_updates_are_not():
    def run(ratio):
        c = generate(30_000, seed=3, noise=0.05, plateau_at=5_000)
        pts = c.points()
        pts["update_ratio"] = (c.steps, np.full(len(c.steps), ratio))
        d = Diagnoser()
        for lo in range(0, 30_000, 1000):
            d.feed({n: (s[(s >= lo) & (s < lo + 1000)], v[(s >= lo) & (s < lo + 1000)]) for n, (s, v) in pts.items()})
        return [a for a in d.alerts if a["kind"] in ("lr_too_low", "plateau") and a["metric"] == "loss"
                and a["state"] == "open"]
    tiny = run(-5.5)
    assert tiny and tiny[0]["kind"] == "lr_too_low" and tiny[0]["action"] == "lr_probe"
    assert "10^-5.5" in tiny[0]["message"]
    sane = run(-3.0)
    assert sane and all(a["kind"] == "plateau" for a in sane)
    assert "a healthy size: this is the floor at this LR" in sane[0]["message"]  # so cutting it is safe
