"""Early stopping equals Keras's and Lightning's EarlyStopping when configured alike.

The two reference models below restate the documented algorithms (Keras `EarlyStopping.
on_epoch_end`, Lightning `EarlyStopping._evaluate_stopping_criteria`): improvement means beating
the best by more than `min_delta` in the chosen direction; Keras counts `wait` up every epoch and
resets it on improvement, stopping when wait >= patience after the first epoch; Lightning counts
only non-improving checks and stops when the count reaches patience.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import example, given, settings
from hypothesis import strategies as st

from lossmon.diagnosis import DiagnosisConfig, Diagnoser
from lossmon.diagnosis.config import EarlyStoppingConfig
from lossmon.diagnosis.early_stopping import EarlyStopping


def keras_reference(values, patience, min_delta, mode, baseline=None):
    sign = -1 if mode == "min" else 1
    delta = sign * abs(min_delta)

    def better(a, b):
        if b is None:
            return True
        return a - delta < b if mode == "min" else a - delta > b

    best, wait = None, 0
    for epoch, v in enumerate(values):
        wait += 1
        if better(v, best):
            best = v
            if baseline is None or better(v, baseline):
                wait = 0
            continue
        if wait >= patience and epoch > 0:
            return epoch
    return None


def lightning_reference(values, patience, min_delta, mode, check_finite=True):
    best = math.inf if mode == "min" else -math.inf
    delta = -abs(min_delta) if mode == "min" else abs(min_delta)
    wait = 0
    for i, v in enumerate(values):
        if check_finite and not math.isfinite(v):
            return i
        improved = (v - delta < best) if mode == "min" else (v - delta > best)
        if improved:
            best, wait = v, 0
        else:
            wait += 1
            if wait >= patience:
                return i
    return None


def ours(values, **cfg):
    stops = []
    es = EarlyStopping(EarlyStoppingConfig(enabled=True, **cfg), lambda ev: None, lambda: stops.append(1), "val_loss")
    for i, v in enumerate(values):
        if es.update(i, v):
            return i
    return None


def test_the_keras_documentation_example():
    """patience=3 on a loss that never improves after the first epoch: 4 epochs run."""
    assert ours([1.0, 1.0, 1.0, 1.0, 1.0, 1.0], patience=3) == 3
    assert keras_reference([1.0] * 6, 3, 0.0, "min") == 3


def test_a_change_of_exactly_min_delta_is_not_an_improvement():
    assert ours([1.0, 0.75, 0.75], patience=1, min_delta=0.25) == 1
    assert ours([1.0, 0.5, 0.5], patience=1, min_delta=0.25) == 2


def test_max_mode_and_baseline():
    assert ours([0.1, 0.2, 0.3, 0.3, 0.3], patience=2, mode="max") == 4
    # Keras baseline: improving on the best but not beating the baseline does not reset wait
    vals = [0.9, 0.85, 0.86, 0.87]
    assert ours(vals, patience=2, baseline=0.5) == keras_reference(vals, 2, 0.0, "min", 0.5) == 2
    assert ours(vals, patience=2) == keras_reference(vals, 2, 0.0, "min") == 3


def test_check_finite_stops_on_nan_like_lightning():
    vals = [1.0, 0.9, float("nan"), 0.8]
    assert ours(vals, patience=5) == 2 == lightning_reference(vals, 5, 0.0, "min")
    assert ours(vals, patience=5, check_finite=False) is None  # Keras: a NaN is just "no improvement"


finite = st.floats(min_value=-10, max_value=10, allow_nan=False, allow_infinity=False)


@settings(max_examples=400, deadline=None)
@given(values=st.lists(finite, min_size=1, max_size=40), patience=st.integers(0, 6),
       min_delta=st.sampled_from([0.0, 0.01, 0.5]), mode=st.sampled_from(["min", "max"]))
@example(values=[0.01, -5.888045341504381e-44], patience=0, min_delta=0.01, mode="min")  # rounding: v + d vs ref - d
def test_same_stop_as_keras_and_lightning(values, patience, min_delta, mode):
    mine = ours(values, patience=patience, min_delta=min_delta, mode=mode)
    assert mine == keras_reference(values, patience, min_delta, mode)
    if patience >= 1:  # Lightning has no "epoch > 0" guard; with patience >= 1 it never matters
        assert mine == lightning_reference(values, patience, min_delta, mode)


def test_the_diagnoser_stops_the_run_at_that_evaluation():
    acts = []
    cfg = DiagnosisConfig(early_stopping=EarlyStoppingConfig(enabled=True, patience=2, monitor="val_loss"))
    d = Diagnoser(cfg, act=lambda action, alert: acts.append((action, alert["step"])))
    steps = np.arange(1, 11) * 100
    val = np.array([1.0, 0.8, 0.7, 0.71, 0.72, 0.6, 0.61, 0.62, 0.5, 0.4])
    d.feed({"loss": (np.arange(1, 1001), np.full(1000, 1.0)), "eval_loss": (steps, val)})  # eval_loss: a val_loss alias
    assert acts == [("stop", 500)]
    [alert] = [a for a in d.alerts if a["kind"] == "early_stopping"]
    assert "0.7" in alert["message"] and "2 evaluations" in alert["message"]


def test_off_by_default():
    d = Diagnoser(act=lambda *a: (_ for _ in ()).throw(AssertionError("acted")))
    d.feed({"val_loss": (np.arange(10), np.ones(10))})
    assert not [a for a in d.alerts if a["kind"] == "early_stopping"]


def test_a_monitor_that_is_not_a_loss_is_watched():
    """`monitor = "val_acc"` (the config docs' own example): a metric with no role of its own."""
    import numpy as np

    from lossmon.diagnosis import Diagnoser, DiagnosisConfig
    from lossmon.diagnosis.config import EarlyStoppingConfig

    cfg = DiagnosisConfig(early_stopping=EarlyStoppingConfig(enabled=True, patience=2, monitor="val_acc", mode="max"))
    d = Diagnoser(cfg)
    acc = np.array([0.5, 0.6, 0.7, 0.6, 0.65, 0.6, 0.6])
    d.feed({"loss": (np.arange(7), np.ones(7)), "val_acc": (np.arange(7), acc)})
    stops = [a for a in d.alerts if a["kind"] == "early_stopping"]
    assert [a["step"] for a in stops] == [4]  # best at step 2, two evaluations without improvement
