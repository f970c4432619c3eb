"""The peers' rules (benchmarks/peers.py) pinned on small hand-made sequences.

Each test follows the rule as the tool's source has it (see the class docstrings); the slow ones
check the Lightning peers against the installed lightning itself on random sequences.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import peers as P  # noqa: E402

NAN, INF = math.nan, math.inf


def feed_train(peer, values, start=0):
    """Feed train losses at steps start, start+1, ...; alerts in order."""
    out = []
    for i, v in enumerate(values):
        out += peer.feed("train_loss", start + i, v)
    return out


def feed_val(peer, values, start=0):
    out = []
    for i, v in enumerate(values):
        out += peer.feed("val_loss", start + i, v)
    return out


def steps(alerts):
    return [a["step"] for a in alerts]


# ------------------------------------------------------------------ interface / suites


def test_suites_and_alert_shape():
    assert set(P.PEERS) == {"lightning", "keras", "olmo-core", "llm-foundry"}
    names = {k: [p.name for p in f()] for k, f in P.PEERS.items()}
    assert names["lightning"] == ["Lightning SpikeDetection", "Lightning EarlyStopping"]
    assert names["keras"] == ["Keras EarlyStopping", "Keras TerminateOnNaN"]
    assert names["olmo-core"] == ["OLMo-core skip-step"]
    assert names["llm-foundry"] == ["LLM Foundry KillLossSpike"]
    sd = P.LightningSpikeDetection()
    (a,) = feed_train(sd, [1.0, 1.0, 5.0])
    assert a == {"kind": "spike", "step": 2, "metric": "train_loss", "severity": "critical",
                 "peer": "Lightning SpikeDetection"}


def test_suite_stop_is_shared():
    # TerminateOnNaN stops the Keras run: EarlyStopping sees nothing after it.
    es, tn = P.PEERS["keras"]()
    pts = [("train_loss", 0, 1.0), ("val_loss", 0, 1.0), ("train_loss", 1, NAN), ("val_loss", 1, 2.0)]
    alerts = P.run_suite([es, tn], pts)
    assert [(a["peer"], a["kind"], a["step"]) for a in alerts] == [("Keras TerminateOnNaN", "nonfinite", 1)]
    assert es.stopped and es.feed("val_loss", 2, 5.0) == []


def test_peers_ignore_other_roles():
    for factory in P.PEERS.values():
        for p in factory():
            for i in range(300):
                assert p.feed("lr", i, 1e9) == []


# ------------------------------------------------------------------ Lightning SpikeDetection


def test_spike_rtol_boundary():
    # running mean of [1, 1] is 1; rtol=2 -> spike iff |loss - 1| >= 2, i.e. loss >= 3
    assert feed_train(P.LightningSpikeDetection(), [1.0, 1.0, 2.999]) == []
    assert steps(feed_train(P.LightningSpikeDetection(), [1.0, 1.0, 3.0])) == [2]


def test_spike_needs_rise_over_last_recorded_loss():
    # batch 10: mean of the last ten is 1.9, so 9.0 is >= 3x the mean, but it is below the
    # previous loss (10.0, recorded in warm-up): an improvement, never a spike; 10.5 is one
    sd = P.LightningSpikeDetection(warmup=10)
    assert feed_train(sd, [1.0] * 9 + [10.0, 9.0]) == []
    sd = P.LightningSpikeDetection(warmup=10)
    assert steps(feed_train(sd, [1.0] * 9 + [10.0, 10.5])) == [10]


def test_spike_warmup_respected():
    # batch 0 is never checked (warmup=1), so a NaN there does not raise
    assert feed_train(P.LightningSpikeDetection(), [NAN]) == []
    assert steps(feed_train(P.LightningSpikeDetection(), [1.0, NAN])) == [1]
    # warmup=3: batch 2 is not checked, batch 3 is
    assert feed_train(P.LightningSpikeDetection(warmup=3), [1.0, 1.0, 100.0]) == []
    assert steps(feed_train(P.LightningSpikeDetection(warmup=3), [1.0, 1.0, 1.0, 100.0])) == [3]
    # the warm-up counts train points, not step numbers
    sd = P.LightningSpikeDetection(warmup=3)
    assert [sd.feed("train_loss", s, v) for s, v in ((100, 1.0), (200, 1.0), (300, 100.0))] == [[], [], []]


def test_spike_nonfinite_and_final():
    sd = P.LightningSpikeDetection()
    alerts = feed_train(sd, [1.0, 0.9, INF, 0.8, NAN])
    assert [(a["kind"], a["step"]) for a in alerts] == [("nonfinite", 2)]
    assert sd.stopped
    # finite_only=False: a NaN is neither a spike nor recorded
    sd = P.LightningSpikeDetection(finite_only=False)
    assert feed_train(sd, [1.0, 1.0, NAN, 1.0]) == []
    assert sd.running_mean() == 1.0


def test_spike_window_length():
    # window=10: after ten 1.0s the early 100s have left the mean -> 3.5 is a spike
    sd = P.LightningSpikeDetection(warmup=11)
    feed_train(sd, [100.0] * 1 + [1.0] * 10)
    assert sd.running_mean() == 1.0
    assert steps(feed_train(sd, [3.5], start=11)) == [11]
    sd = P.LightningSpikeDetection(warmup=10)
    feed_train(sd, [100.0] * 1 + [1.0] * 9)  # 100 still in the window: mean 10.9
    assert feed_train(sd, [3.5], start=10) == []


def test_spike_nan_in_warmup_takes_a_window_slot():
    # NaN at batch 0 is dropped by MeanMetric but takes a slot; last_val becomes NaN
    sd = P.LightningSpikeDetection(window=2)
    feed_train(sd, [NAN])
    assert math.isnan(sd.last_val) and math.isnan(sd.running_mean())
    # batch 1: mean over the window is NaN -> |x - nan| >= nan is False -> no spike
    assert feed_train(sd, [50.0], start=1) == []
    assert sd.running_mean() == 50.0


def test_spike_atol():
    # |loss - mean| >= |atol| (rtol off): mean 1 -> 5.9 is not a spike, 6.0 is
    assert feed_train(P.LightningSpikeDetection(atol=5.0, rtol=None), [1.0, 1.0, 5.9]) == []
    assert steps(feed_train(P.LightningSpikeDetection(atol=5.0, rtol=None), [1.0, 1.0, 6.0])) == [2]
    # both set: both must hold (rtol=2 needs >= 3, atol=5 needs >= 6)
    assert feed_train(P.LightningSpikeDetection(atol=5.0), [1.0, 1.0, 5.9]) == []


# ------------------------------------------------------------------ Lightning EarlyStopping


def test_lightning_es_patience_counts_non_improvements():
    es = P.LightningEarlyStopping()
    assert feed_val(es, [1.0, 0.9, 0.95, 0.9]) == []  # 0.9 == best is no improvement: wait 2
    (a,) = feed_val(es, [0.91], start=4)
    assert (a["kind"], a["step"], a["severity"], a["metric"]) == ("overfitting", 4, "critical", "val_loss")
    assert es.stopped and feed_val(es, [0.1, NAN], start=5) == []


def test_lightning_es_improvement_resets():
    es = P.LightningEarlyStopping()
    assert feed_val(es, [1.0, 1.1, 1.2, 0.5, 0.6, 0.7]) == []
    assert steps(feed_val(es, [0.8], start=6)) == [6]


def test_lightning_es_min_delta():
    # min_delta=0.1: improvement iff value < best - 0.1 (strict)
    es = P.LightningEarlyStopping(min_delta=0.1, patience=1)
    assert feed_val(es, [1.0, 0.85]) == []  # 0.85 < 0.9
    assert feed_val(es, [0.75], start=2) != []  # 0.75 not < 0.75 -> wait 1 -> stop
    es = P.LightningEarlyStopping(min_delta=0.1, patience=1)
    assert feed_val(es, [1.0, 0.85, 0.7]) == []


def test_lightning_es_nonfinite_stops_at_once():
    es = P.LightningEarlyStopping()
    (a,) = feed_val(es, [1.0, NAN])
    assert (a["kind"], a["step"]) == ("nonfinite", 1)
    es = P.LightningEarlyStopping(check_finite=False)
    assert feed_val(es, [1.0, NAN, NAN]) == []
    assert steps(feed_val(es, [NAN], start=3)) == [3]  # 3rd non-improvement


def test_lightning_es_thresholds():
    es = P.LightningEarlyStopping(divergence_threshold=5.0)
    assert feed_val(es, [1.0, 5.0]) == []  # not worse than 5
    assert [a["kind"] for a in feed_val(es, [5.01], start=2)] == ["divergence"]
    es = P.LightningEarlyStopping(stopping_threshold=0.5)
    assert feed_val(es, [1.0, 0.4]) == [] and es.stopped  # goal reached: a silent stop


# ------------------------------------------------------------------ Keras EarlyStopping


def test_keras_es_patience_zero_stops_on_first_non_improvement():
    es = P.KerasEarlyStopping()
    assert feed_val(es, [1.0, 0.9, 0.8]) == []
    (a,) = feed_val(es, [0.8], start=3)  # equal is no improvement (strict less)
    assert (a["kind"], a["step"], a["severity"]) == ("overfitting", 3, "critical")
    assert feed_val(es, [0.1], start=4) == []


def test_keras_es_patience_counted():
    es = P.KerasEarlyStopping(patience=2)
    assert feed_val(es, [1.0, 1.1]) == []  # wait 1
    assert feed_val(es, [0.9, 1.0]) == []  # improvement resets; wait 1
    assert steps(feed_val(es, [1.0], start=4)) == [4]  # wait 2 >= 2


def test_keras_es_min_delta_and_epoch0():
    es = P.KerasEarlyStopping(min_delta=-0.1)  # abs() taken: improvement iff value < best - 0.1
    assert feed_val(es, [1.0, 0.85]) == []
    assert steps(feed_val(es, [0.76], start=2)) == [2]
    # epoch 0 never stops, even on NaN; a NaN later stops (never an improvement)
    es = P.KerasEarlyStopping()
    assert feed_val(es, [NAN, 1.0]) == []
    assert [a["kind"] for a in feed_val(es, [NAN], start=2)] == ["nonfinite"]


def test_keras_es_start_from_epoch_and_baseline():
    es = P.KerasEarlyStopping(start_from_epoch=2)
    assert feed_val(es, [1.0, 2.0, 3.0]) == []  # epochs 0, 1 ignored; epoch 2 sets best
    assert steps(feed_val(es, [3.0], start=3)) == [3]
    # improvements that do not beat the baseline do not reset wait (but never stop themselves)
    es = P.KerasEarlyStopping(patience=2, baseline=0.5)
    assert feed_val(es, [1.0, 0.9]) == []  # wait 1, 2
    assert steps(feed_val(es, [0.95], start=2)) == [2]  # wait 3 >= 2
    es = P.KerasEarlyStopping(patience=2)
    assert feed_val(es, [1.0, 0.9, 0.95]) == []  # without baseline: wait 1 only


# ------------------------------------------------------------------ Keras TerminateOnNaN


@pytest.mark.parametrize("bad", [NAN, INF, -INF])
def test_terminate_on_nan(bad):
    t = P.KerasTerminateOnNaN()
    assert feed_train(t, [1.0, 1e30, -5.0]) == []
    assert t.feed("val_loss", 2, NAN) == []  # the batch loss only
    (a,) = t.feed("train_loss", 3, bad)
    assert (a["kind"], a["step"], a["severity"]) == ("nonfinite", 3, "critical")
    assert t.feed("train_loss", 4, NAN) == []


# ------------------------------------------------------------------ OLMo-core skip-step


def _alternating(n, lo=1.0, hi=3.0):
    return [lo if i % 2 == 0 else hi for i in range(n)]


def test_olmo_warmup_is_64_losses():
    # history alternates 1/3 (mean 2, std ~1); 1000 is a skip once 64 losses (current included) are in
    p = P.OLMoCoreSkipStep()
    assert feed_train(p, _alternating(62) + [1000.0]) == []  # 63rd loss: still warming up
    p = P.OLMoCoreSkipStep()
    (a,) = feed_train(p, _alternating(63) + [1000.0])
    assert (a["kind"], a["step"], a["severity"], a["metric"]) == ("spike", 63, "warning", "train_loss")


def test_olmo_std_is_unbiased():
    # 100 previous losses alternating 1/3: mean 2, torch.std (correction=1) = sqrt(100/99) = 1.005,
    # so the threshold is 2 + 6 * 1.005 = 8.030 (a biased std would give 8.0)
    assert P._std_mean([1.0, 3.0]) == (pytest.approx(math.sqrt(2)), 2.0)
    p = P.OLMoCoreSkipStep()
    feed_train(p, _alternating(100))
    assert p.feed("train_loss", 100, 8.02) == []
    p = P.OLMoCoreSkipStep()
    feed_train(p, _alternating(100))
    assert steps(p.feed("train_loss", 100, 8.04)) == [100]


def test_olmo_sigma_boundary_and_skips_continue():
    hist = _alternating(100)
    std, mean = P._std_mean(hist)
    p = P.OLMoCoreSkipStep()
    feed_train(p, hist)
    assert p.feed("train_loss", 100, mean + 6 * std * (1 - 1e-9)) == []
    p = P.OLMoCoreSkipStep()
    feed_train(p, hist)
    assert steps(p.feed("train_loss", 100, mean + 6 * std * (1 + 1e-9))) == [100]
    # a skip is not a stop: later normal steps pass, later outliers are skipped again
    assert p.feed("train_loss", 101, 1.0) == []
    assert steps(p.feed("train_loss", 102, 1e6)) == [102]


def test_olmo_window_is_128_previous_losses():
    # 128 losses of 1/3 after one huge early loss: the early one has left the history
    p = P.OLMoCoreSkipStep()
    feed_train(p, [1e6] + _alternating(128))
    assert len(p._losses) == 129 and p._losses[0] == 1e6  # current + previous 128
    assert steps(p.feed("train_loss", 129, 20.0)) == [129]
    p = P.OLMoCoreSkipStep()
    feed_train(p, [1e6] + _alternating(127))  # 1e6 still among the previous 128 -> std huge
    assert p.feed("train_loss", 128, 20.0) == []


def test_olmo_nan_is_skipped_and_poisons_the_history():
    p = P.OLMoCoreSkipStep()
    feed_train(p, _alternating(80))
    (a,) = p.feed("train_loss", 80, NAN)
    assert a["kind"] == "nonfinite"
    # NaN now in the history: mean is NaN, every step is skipped until it leaves (128 steps)
    later = feed_train(p, _alternating(128), start=81)
    assert steps(later) == list(range(81, 81 + 128))
    assert p.feed("train_loss", 209, 1.0) == []


def test_olmo_grad_norm_either_order():
    for gn_first in (True, False):
        p = P.OLMoCoreSkipStep()
        alerts = []
        for i in range(100):
            gn = 1e6 if i == 90 else (1.0 if i % 2 else 2.0)
            pts = [("grad_norm", gn), ("train_loss", 1.0 + 0.01 * (i % 3))]
            for role, v in (pts if gn_first else pts[::-1]):
                alerts += p.feed(role, i, v)
        alerts += p.finish()
        assert [(a["step"], a["metric"], a["kind"]) for a in alerts] == [(90, "grad_norm", "spike")]


def test_olmo_pending_step_decided_by_a_later_point_or_finish():
    p = P.OLMoCoreSkipStep()
    for i in range(70):
        p.feed("train_loss", i, _alternating(70)[i])
        p.feed("grad_norm", i, 1.0 + (i % 2))
    assert p.feed("train_loss", 70, 1e9) == []  # waits for step 70's grad norm
    assert steps(p.feed("val_loss", 71, 1.0)) == [70]
    p.feed("grad_norm", 71, 1.0)  # the grad norm that came too late counts for history only
    assert p.feed("train_loss", 72, 1e9) == []
    assert steps(p.finish()) == [72]


# ------------------------------------------------------------------ LLM Foundry KillLossSpike


def test_foundry_needs_a_full_window_of_100():
    k = P.LLMFoundryKillLossSpike()
    assert feed_train(k, [1.0] * 95 + [10.0] * 5) == []  # batches 1..100: window filling
    assert len(k.loss_window) == 100


def test_foundry_fires_on_fifth_consecutive_outlier():
    k = P.LLMFoundryKillLossSpike()
    feed_train(k, [1.0] * 100)
    assert feed_train(k, [3.0] * 4, start=100) == []  # >= 2x the window mean -> outliers 1..4
    assert k.outlier_counter == 4
    (a,) = feed_train(k, [5.0], start=104)
    assert (a["kind"], a["step"], a["severity"]) == ("spike", 104, "warning")
    # log_only: training goes on and the alert repeats while outliers continue
    assert steps(feed_train(k, [50.0, 50.0], start=105)) == [105, 106]


def test_foundry_outlier_boundary_and_reset():
    k = P.LLMFoundryKillLossSpike()
    feed_train(k, [1.0] * 100)
    # 1.999 is not >= 2 * 1.0: resets; four outliers then a non-outlier resets the count
    assert feed_train(k, [3.0] * 4 + [1.0] + [3.0] * 4, start=100) == []
    assert k.outlier_counter == 4
    k = P.LLMFoundryKillLossSpike(patience=0)
    feed_train(k, [1.0] * 100)
    assert feed_train(k, [1.999], start=100) == []
    k = P.LLMFoundryKillLossSpike(patience=0)
    feed_train(k, [1.0] * 100)
    assert steps(feed_train(k, [2.0], start=100)) == [100]


def test_foundry_kill_mode_is_final():
    k = P.LLMFoundryKillLossSpike(log_only=False)
    alerts = feed_train(k, [1.0] * 100 + [9.0] * 10)
    assert [(a["step"], a["severity"]) for a in alerts] == [(104, "critical")]
    assert k.stopped


def test_foundry_high_losses_after_two_windows():
    # losses > 10 in half the window, from batch 200 on (no spike: the mean is high too)
    k = P.LLMFoundryKillLossSpike()
    vals = [11.0 if i % 2 else 9.0 for i in range(250)]
    alerts = feed_train(k, vals)
    assert alerts and all(a["kind"] == "divergence" for a in alerts)
    assert alerts[0]["step"] == 199  # batch 200 (1-based) = step 199
    k = P.LLMFoundryKillLossSpike()
    vals = [11.0 if i % 2 else 10.0 for i in range(250)]  # > cap, not >=: 11s are exactly half
    assert feed_train(k, vals) != []
    k = P.LLMFoundryKillLossSpike()
    vals = [11.0 if i % 3 == 0 else 9.0 for i in range(250)]  # a third above the cap
    assert feed_train(k, vals) == []


def test_foundry_nan_never_an_outlier_and_blinds_the_window():
    k = P.LLMFoundryKillLossSpike(patience=0)
    feed_train(k, [1.0] * 100)
    assert feed_train(k, [NAN], start=100) == []
    # the NaN is in the window (batches 101..200 are checked against it): mean NaN, no outliers
    assert feed_train(k, [5.0] * 100, start=101) == []
    assert steps(feed_train(k, [1e6], start=201)) == [201]  # NaN has left the window
    k = P.LLMFoundryKillLossSpike(patience=0)
    feed_train(k, [1.0] * 100)
    assert steps(feed_train(k, [5.0], start=100)) == [100]  # 5.0 is an outlier without the NaN


def test_foundry_window_widens_with_total_steps():
    # 10,000 batches -> window max(100, 500): batch 101 only appends, checks start at batch 501
    k = P.LLMFoundryKillLossSpike(total_steps=10_000, patience=0)
    assert feed_train(k, [1.0] * 100 + [5.0] + [1.0] * 399) == []
    assert k.window_size == 500 and len(k.loss_window) == 500
    assert steps(feed_train(k, [5.0], start=500)) == [500]
    assert P.PEERS["llm-foundry"](total_steps=10_000)[0].total_steps == 10_000


# ------------------------------------------------------------------ against lightning itself


def _fake_fabric():
    from types import SimpleNamespace

    import torch

    strategy = SimpleNamespace(root_device=torch.device("cpu"), barrier=lambda: None,
                               reduce_boolean_decision=lambda d, all=True: d)
    return SimpleNamespace(strategy=strategy, global_rank=0)


def _random_losses(rng, n):
    out = []
    level = 2.0
    for _ in range(n):
        level *= 0.995
        r = rng.random()
        if r < 0.03:
            out.append(float(level * rng.uniform(2.5, 4.5)))
        elif r < 0.04:
            out.append(rng.choice([NAN, INF]))
        else:
            out.append(float(level * rng.uniform(0.8, 1.2)))
    return out


@pytest.mark.slow
def test_spike_detection_matches_lightning(tmp_path):
    import random
    import warnings

    torch = pytest.importorskip("torch")
    spike = pytest.importorskip("lightning.fabric.utilities.spike")
    rng = random.Random(0)
    fabric = _fake_fabric()
    outcomes = set()
    for trial in range(40):
        losses = _random_losses(rng, 60)
        kw = rng.choice([{}, {"window": 3}, {"warmup": 5}, {"finite_only": False}, {"atol": 0.5}])
        ref = spike.SpikeDetection(exclude_batches_path=tmp_path / f"{trial}.json", **kw)
        ref_stop = None
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, v in enumerate(losses):
                try:
                    ref.on_train_batch_end(fabric, torch.tensor(v, dtype=torch.float64), None, i)
                except spike.TrainingSpikeException:
                    ref_stop = i
                    break
        ours = steps(feed_train(P.LightningSpikeDetection(**kw), losses))
        assert ours == ([] if ref_stop is None else [ref_stop]), (trial, kw, losses)
        outcomes.add("none" if ref_stop is None else ("finite" if math.isfinite(losses[ref_stop]) else "nonfinite"))
    assert outcomes == {"none", "finite", "nonfinite"}  # the trials cover every outcome


@pytest.mark.slow
def test_early_stopping_matches_lightning():
    import random

    torch = pytest.importorskip("torch")
    es_mod = pytest.importorskip("lightning.pytorch.callbacks.early_stopping")
    rng = random.Random(1)
    stops = 0
    for trial in range(60):
        # a falling val loss with noise (0.1 steps, so ties with the best happen), some NaN
        vals = [round(1.5 - 0.03 * i + rng.uniform(-0.2, 0.2), 1) if rng.random() > 0.03 else NAN
                for i in range(rng.randint(2, 30))]
        kw = rng.choice([{}, {"patience": 1}, {"min_delta": 0.1}, {"check_finite": False},
                         {"divergence_threshold": 1.4}, {"stopping_threshold": 0.55}])
        ref = es_mod.EarlyStopping(monitor="val_loss", **kw)
        ref.best_score = ref.best_score.double()
        ref_stop = None
        for i, v in enumerate(vals):
            if ref._evaluate_stopping_criteria(torch.tensor(v, dtype=torch.float64))[0]:
                ref_stop = i
                break
        ours = P.LightningEarlyStopping(**kw)
        stop_at = next((i for i, v in enumerate(vals) if (ours.feed("val_loss", i, v), ours.stopped)[1]), None)
        assert stop_at == ref_stop, (trial, kw, vals)
        stops += ref_stop is not None
    assert 10 < stops < 60


def test_olmo_running_sums_match_exact_std_mean():
    # the O(1) rolling statistics decide every step as torch.std_mean over the list would
    import random

    rng = random.Random(3)
    p = P.OLMoCoreSkipStep(rolling_interval_length=32)
    got, want = [], []
    for i in range(3000):
        loss = rng.choice([50.0, NAN, INF, 1e-3]) if rng.random() < 0.01 else 2.0 + rng.gauss(0, 0.05)
        got += [a["step"] for a in p.feed("train_loss", i, loss)]
        vals = list(p._losses.values)
        if len(vals) >= 16:
            std, mean = P._std_mean(vals[:-1])
            if not (vals[-1] - mean) <= 6 * std:
                want.append(i)
    assert got == want and len(want) > 30
