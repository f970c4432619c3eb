"""Other tools' published training-health rules, re-implemented as streaming detectors.

The diagnosis benchmark scores lossmon side by side with these peers on the real-curve corpus.
Each peer follows its tool's source as read (repo + path + commit in each class docstring), with
the tool's own defaults, and sees the same stream lossmon sees:

    peer.feed(role, step, value) -> list of alerts raised at that point

`role` is "train_loss", "val_loss", "grad_norm" or "lr"; points arrive in step order, a val point
after the train point of the same step; `value` may be NaN or +-inf. An alert is

    {"kind": "spike"|"divergence"|"nonfinite"|"overfitting", "step": step, "metric": role,
     "severity": "warning"|"critical", "peer": peer.name}

and stands for what the tool does at that point: "critical" where it stops training (raises,
sets stop_training / should_stop), "warning" where training goes on (a skipped optimizer step,
a log-only message). A stop is final: after it a peer, and every peer of the same suite (they
share one training run), returns nothing more. A rule that acts per step (skip-step, log-only)
alerts per step; the scorer merges consecutive alerts into episodes.

EarlyStopping's patience stop is reported as kind "overfitting": that is what people use it for
on val_loss, though the rule itself only knows "no improvement for `patience` evaluations".

Where a tool counts batches or epochs itself (warm-ups, start_from_epoch, Composer's timestamp)
the peer counts the points of that role it has been fed, not `step`, since a logged curve may
be subsampled; each docstring says which.

numpy/stdlib only: no torch, lightning, keras or composer import here, so the benchmark runs fast.
`PEERS` maps a suite name to a factory of the peers that tool runs together.
"""

from __future__ import annotations

import math
from collections import deque
from typing import Callable

import numpy as np

ROLES = ("train_loss", "val_loss", "grad_norm", "lr")


class _Run:
    """One training run shared by the peers of a suite: once one stops it, all are done."""

    __slots__ = ("stopped",)

    def __init__(self) -> None:
        self.stopped = False


class Peer:
    """A peer tool's rule fed one point at a time. Subclasses implement `_feed`."""

    name: str = "peer"

    def __init__(self, run: _Run | None = None) -> None:
        self._run = run if run is not None else _Run()

    @property
    def stopped(self) -> bool:
        return self._run.stopped

    def feed(self, role: str, step: int, value: float) -> list[dict]:
        if self._run.stopped:
            return []
        return self._feed(role, int(step), float(value))

    def finish(self) -> list[dict]:
        """End of the stream: alerts still held back (only a peer that waits for a later point has any)."""
        return []

    def _feed(self, role: str, step: int, value: float) -> list[dict]:  # pragma: no cover - abstract
        raise NotImplementedError

    def _alert(self, kind: str, step: int, metric: str, severity: str) -> dict:
        return {"kind": kind, "step": step, "metric": metric, "severity": severity, "peer": self.name}

    def _stop(self, kind: str, step: int, metric: str) -> list[dict]:
        self._run.stopped = True
        return [self._alert(kind, step, metric, "critical")]


def _nonfinite_or(kind: str, value: float) -> str:
    return kind if math.isfinite(value) else "nonfinite"


# --------------------------------------------------------------------------------------------
# Lightning
# --------------------------------------------------------------------------------------------


class LightningSpikeDetection(Peer):
    """Lightning Fabric's `SpikeDetection` on the train loss.

    Source: Lightning-AI/pytorch-lightning, src/lightning/fabric/utilities/spike.py (commit
    0c94c0ea241f579748007024427f4ed0dd12f1ee; identical logic in lightning 2.6.6 as installed),
    its running mean `torchmetrics.wrappers.Running(MeanMetric(), window=window)` (torchmetrics
    1.9.0: src/torchmetrics/wrappers/running.py, src/torchmetrics/aggregation.py).

    Defaults used: mode="min", window=10, warmup=1, atol=None, rtol=2.0, finite_only=True.

    Rule (`on_train_batch_end` / `_is_spike`), per train batch with index `batch_idx`:
      * no check while `batch_idx < warmup`;
      * finite_only and the loss is NaN/inf -> spike (the code does this when finite_only is True;
        the docstring describes the opposite);
      * `loss - last_val <= 0` (mode "min": not worse than the previous *recorded* loss) -> no spike;
      * else spike iff `|loss - mean| >= |atol|` (atol None: always) and
        `|loss - mean| >= |rtol * mean|`, mean = running mean of the last `window` recorded losses.
        With the defaults: a loss that rose since the last batch and is >= 3x the running mean.
      * a spike raises `TrainingSpikeException` (training ends) -> one "critical" alert, final;
      * otherwise the loss is recorded (`last_val = loss`, pushed into the running mean) when
        finite_only is True (always then) or the loss is finite.
    MeanMetric's default nan_strategy="warn" drops a NaN from its update, but the update still
    takes one of the `window` slots (Running keeps one state per update); a window with no value
    yields NaN, against which nothing is a spike. `last_val` starts at 0.0.
    `batch_idx` is what the user passes to the callback; here it is the count of train-loss
    points fed so far (0-based). Lightning computes in the loss tensor's dtype (often float32);
    here float64.
    """

    name = "Lightning SpikeDetection"

    def __init__(self, mode: str = "min", window: int = 10, warmup: int = 1, atol: float | None = None,
                 rtol: float | None = 2.0, finite_only: bool = True, run: _Run | None = None) -> None:
        super().__init__(run)
        if mode not in ("min", "max"):
            raise ValueError(f"Invalid mode. Has to be min or max, found {mode}")
        if not (isinstance(window, int) and window > 0):
            raise ValueError(f"window must be a positive integer, got {window}")
        self.mode, self.window, self.warmup = mode, window, warmup
        self.atol, self.rtol, self.finite_only = atol, rtol, finite_only
        self.last_val = 0.0
        self._slots: deque[float | None] = deque(maxlen=window)  # None: an update whose NaN was dropped
        self._batch_idx = 0

    def running_mean(self) -> float:
        vals = [v for v in self._slots if v is not None]
        return sum(vals) / len(vals) if vals else math.nan

    def _is_spike(self, loss: float) -> bool:
        running_val = self.running_mean()
        curr_diff = loss - self.last_val
        if self.finite_only and not math.isfinite(loss):
            return True
        better = curr_diff <= 0.0 if self.mode == "min" else curr_diff >= 0.0
        if better:
            return False
        atol_ok = self.atol is None or abs(loss - running_val) >= abs(self.atol)
        rtol_ok = self.rtol is None or abs(loss - running_val) >= abs(self.rtol * running_val)
        return bool(atol_ok and rtol_ok)

    def _feed(self, role: str, step: int, value: float) -> list[dict]:
        if role != "train_loss":
            return []
        batch_idx = self._batch_idx
        self._batch_idx += 1
        if batch_idx >= self.warmup and self._is_spike(value):
            return self._stop(_nonfinite_or("spike", value), step, role)
        if self.finite_only or math.isfinite(value):
            self._slots.append(None if math.isnan(value) else value)
            self.last_val = value
        return []


class LightningEarlyStopping(Peer):
    """Lightning's `EarlyStopping` callback on val_loss, one check per validation.

    Source: Lightning-AI/pytorch-lightning, src/lightning/pytorch/callbacks/early_stopping.py
    (commit 02095be2cc2bb0714061fbda020823ee8ceff8d6; same `_evaluate_stopping_criteria` in
    lightning 2.6.6 as installed).

    Defaults used: monitor="val_loss" (Lightning has no default: `monitor` is required; val_loss
    is what its docs' example passes), min_delta=0.0, patience=3, mode="min", check_finite=True,
    stopping_threshold=None, divergence_threshold=None.

    Rule (`_evaluate_stopping_criteria`, first match wins), per evaluation of `monitor`:
      * check_finite and the value is NaN/inf -> stop ("nonfinite");
      * stopping_threshold set and value < it (mode min) -> stop: the goal was reached, so no
        alert is reported, but the run ends (final);
      * divergence_threshold set and value > it (mode min) -> stop ("divergence");
      * `value - min_delta' < best` with min_delta' = -min_delta in mode min (sign flipped, no
        abs): value < best - min_delta strictly -> improvement: best = value, wait_count = 0;
      * else wait_count += 1 and stop when wait_count >= patience ("overfitting"). best starts
        at +inf, so the first finite value is an improvement; with patience=3 the stop comes at
        the 3rd evaluation in a row that does not improve on the best.
    A stop sets `trainer.should_stop` (honoured at once with the Trainer's default min_epochs /
    min_steps) -> one "critical" alert, final.
    """

    name = "Lightning EarlyStopping"

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 3, mode: str = "min",
                 check_finite: bool = True, stopping_threshold: float | None = None,
                 divergence_threshold: float | None = None, run: _Run | None = None) -> None:
        super().__init__(run)
        if mode not in ("min", "max"):
            raise ValueError(f"`mode` can be min, max, got {mode}")
        self.monitor, self.patience, self.mode = monitor, patience, mode
        self.check_finite = check_finite
        self.stopping_threshold, self.divergence_threshold = stopping_threshold, divergence_threshold
        self.min_delta = min_delta * (1 if mode == "max" else -1)
        self.best_score = math.inf if mode == "min" else -math.inf
        self.wait_count = 0

    def _op(self, a: float, b: float) -> bool:
        return a < b if self.mode == "min" else a > b

    def _feed(self, role: str, step: int, value: float) -> list[dict]:
        if role != self.monitor:
            return []
        if self.check_finite and not math.isfinite(value):
            return self._stop("nonfinite", step, role)
        if self.stopping_threshold is not None and self._op(value, self.stopping_threshold):
            self._run.stopped = True
            return []
        if self.divergence_threshold is not None and self._op(-value, -self.divergence_threshold):
            return self._stop("divergence", step, role)
        if self._op(value - self.min_delta, self.best_score):
            self.best_score = value
            self.wait_count = 0
            return []
        self.wait_count += 1
        if self.wait_count >= self.patience:
            return self._stop(_nonfinite_or("overfitting", value), step, role)
        return []


# --------------------------------------------------------------------------------------------
# Keras
# --------------------------------------------------------------------------------------------


class KerasEarlyStopping(Peer):
    """Keras 3 `keras.callbacks.EarlyStopping`, one check per epoch-end val_loss.

    Source: keras-team/keras, keras/src/callbacks/early_stopping.py (commit
    040582fc160b1080954ddc1f554dd70fbbb1da5a).

    Defaults used: monitor="val_loss", min_delta=0, patience=0, mode="auto" (-> "min" for a
    monitor named loss/val_loss), baseline=None, start_from_epoch=0 (restore_best_weights=False
    changes nothing here).

    Rule (`on_epoch_end`), `epoch` = 0-based count of val_loss points fed (Keras' epoch index
    when validation runs every epoch; an epoch without the monitor returns early in Keras too):
      * epoch < start_from_epoch -> nothing;
      * wait += 1; improvement iff `value + |min_delta| < best` (strict; best starts at +inf):
        best = value and wait = 0 only if baseline is None or value also improves on baseline;
      * otherwise stop when `wait >= patience and epoch > 0`. With patience=0 that is the first
        epoch (after the first) whose val_loss does not beat the best so far.
    A NaN val_loss is never an improvement, so it stops (at epoch > 0): reported as "nonfinite";
    a stop from no improvement is reported as "overfitting". `model.stop_training = True` ends
    fit() after that epoch -> one "critical" alert, final.
    """

    name = "Keras EarlyStopping"

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, mode: str = "auto",
                 baseline: float | None = None, start_from_epoch: int = 0, run: _Run | None = None) -> None:
        super().__init__(run)
        if mode not in ("auto", "min", "max"):
            mode = "auto"
        if mode == "auto":
            if monitor.removeprefix("val_") != "loss":
                raise ValueError(f"cannot infer the direction of {monitor!r}: pass mode='min' or 'max'")
            mode = "min"
        self.monitor, self.patience, self.mode = monitor, patience, mode
        self.baseline, self.start_from_epoch = baseline, start_from_epoch
        self.min_delta = abs(min_delta) * (-1 if mode == "min" else 1)
        self.best = math.inf if mode == "min" else -math.inf
        self.wait = 0
        self._epoch = 0

    def _is_improvement(self, value: float, reference: float) -> bool:
        v = value - self.min_delta
        return v < reference if self.mode == "min" else v > reference

    def _feed(self, role: str, step: int, value: float) -> list[dict]:
        if role != self.monitor:
            return []
        epoch = self._epoch
        self._epoch += 1
        if epoch < self.start_from_epoch:
            return []
        self.wait += 1
        if self._is_improvement(value, self.best):
            self.best = value
            if self.baseline is None or self._is_improvement(value, self.baseline):
                self.wait = 0
            return []
        if self.wait >= self.patience and epoch > 0:
            return self._stop(_nonfinite_or("overfitting", value), step, role)
        return []


class KerasTerminateOnNaN(Peer):
    """Keras 3 `keras.callbacks.TerminateOnNaN` on the train loss.

    Source: keras-team/keras, keras/src/callbacks/terminate_on_nan.py (commit
    1f74f983218d40a0f2449f114db1ec48184bb2c1).

    Defaults used: raise_error=False (graceful `model.stop_training = True`; with True it raises
    RuntimeError instead: the same point either way).

    Rule (`on_batch_end`): `np.isnan(loss) or np.isinf(loss)` -> stop ("nonfinite", "critical",
    final). Keras 3's batch logs carry the epoch's running mean of the loss rather than the batch
    loss, which turns non-finite at the same batch as the first non-finite batch loss, so testing
    the batch loss here stops at the same point.
    """

    name = "Keras TerminateOnNaN"

    def __init__(self, run: _Run | None = None) -> None:
        super().__init__(run)

    def _feed(self, role: str, step: int, value: float) -> list[dict]:
        if role == "train_loss" and (math.isnan(value) or math.isinf(value)):
            return self._stop("nonfinite", step, role)
        return []


# --------------------------------------------------------------------------------------------
# OLMo-core
# --------------------------------------------------------------------------------------------


def _std_mean(xs) -> tuple[float, float]:
    """torch.std_mean with its default correction=1 (NaN std for fewer than two values)."""
    a = np.asarray(xs, dtype=np.float64)
    if a.size < 2:
        return (math.nan, float(a[0]) if a.size else math.nan)
    with np.errstate(invalid="ignore", over="ignore"):
        return (float(a.std(ddof=1)), float(a.mean()))


class _Rolling:
    """The last `maxlen` values, with O(1) `passes(k)`: is the newest value - mean <= k * std over
    the others (torch.std_mean semantics)? Running sums, re-summed exactly every `maxlen` appends;
    a non-finite value among the others makes mean or std NaN in torch, so the test fails."""

    def __init__(self, maxlen: int) -> None:
        self.values: deque[float] = deque(maxlen=maxlen)
        self._s1 = self._s2 = 0.0
        self._nonfinite = 0
        self._since_exact = 0

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, i: int) -> float:
        return self.values[i]

    def append(self, x: float) -> None:
        v = self.values
        if len(v) == v.maxlen:
            old = v[0]
            if math.isfinite(old):
                self._s1 -= old
                self._s2 -= old * old
            else:
                self._nonfinite -= 1
        v.append(x)
        if math.isfinite(x):
            self._s1 += x
            self._s2 += x * x
        else:
            self._nonfinite += 1
        self._since_exact += 1
        if self._since_exact >= (v.maxlen or 1):
            fin = [y for y in v if math.isfinite(y)]
            self._s1, self._s2 = math.fsum(fin), math.fsum(y * y for y in fin)
            self._since_exact = 0

    def passes(self, k: float) -> bool:
        v = self.values
        x = v[-1]
        n = len(v) - 1
        if n < 2 or self._nonfinite - (0 if math.isfinite(x) else 1) > 0 or not math.isfinite(x):
            std, mean = _std_mean(list(v)[:-1])
            return bool((x - mean) <= k * std)
        s1, s2 = self._s1 - x, self._s2 - x * x
        mean = s1 / n
        var = (s2 - s1 * mean) / (n - 1)
        if var <= 1e-6 * mean * mean:  # cancellation: sum exactly
            std, mean = _std_mean(list(v)[:-1])
            return bool((x - mean) <= k * std)
        return (x - mean) <= k * math.sqrt(var)


class OLMoCoreSkipStep(Peer):
    """OLMo-core's skip-step rule (`SkipStepOptimizer.get_step_factor`, used by SkipStepAdamW,
    SkipStepLion, ...) on the train loss and, when it is logged, the grad norm.

    Source: allenai/OLMo-core, src/olmo_core/optim/skip_step_optimizer.py at fa6c5014c9f6e9ee789
    da2d9c20d5126fee8df0d (the newest snapshot; the file last changed in 1d5c8237a); defaults in
    the same file and src/olmo_core/optim/adamw.py (SkipStepAdamW / SkipStepAdamWConfig).

    Defaults used: rolling_interval_length=128, sigma_factor=6.

    Rule, per optimizer step, with `losses` / `grad_norms` the last rolling_interval_length + 1
    values set (the current one last; the train module sets the CE batch loss and, only when
    max_grad_norm is set, the pre-clip total grad norm):
      * fewer than max(2, rolling_interval_length // 2) = 64 losses (current included) -> step;
      * else skip unless `loss - mean <= sigma * std` over the previous losses (torch.std_mean,
        unbiased) and, when grad norms are set, likewise for the grad norm. Comparisons with NaN
        are False, so a NaN loss/grad norm is skipped, and so is every step while a NaN sits in
        the 128-value history.
    A skip does not stop training -> one "warning" alert per skipped step: metric "train_loss"
    when the loss test failed, else "grad_norm"; kind "nonfinite" when that value is NaN/inf,
    else "spike". (The OLMo-core Trainer separately raises on a non-finite train CE loss when it
    logs metrics; that check is not part of this rule and not modelled.)

    Stream alignment: the step is decided once its train loss and, if grad norms are being fed,
    its grad norm have both arrived (either order), or when a point of a later step arrives;
    call `finish()` at the end of the stream for a last step still waiting on its grad norm.
    A grad-norm history of fewer than two values (grad norms logged from a later step on, which
    OLMo-core cannot produce) leaves the grad-norm test out instead of failing the step.
    """

    name = "OLMo-core skip-step"

    def __init__(self, rolling_interval_length: int = 128, sigma_factor: float = 6, run: _Run | None = None) -> None:
        super().__init__(run)
        self.rolling_interval_length = rolling_interval_length
        self.sigma_factor = sigma_factor
        self._losses = _Rolling(rolling_interval_length + 1)
        self._grad_norms = _Rolling(rolling_interval_length + 1)
        self._pending: int | None = None  # step whose loss arrived and waits for its grad norm
        self._gn_step: int | None = None  # step of the last grad norm fed

    def _decide(self, step: int) -> list[dict]:
        self._pending = None
        losses = self._losses
        if len(losses) < max(2, self.rolling_interval_length // 2):
            return []
        loss_ok = losses.passes(self.sigma_factor)
        gn_ok = len(self._grad_norms) < 2 or self._grad_norms.passes(self.sigma_factor)
        if loss_ok and gn_ok:
            return []
        metric, value = ("train_loss", losses[-1]) if not loss_ok else ("grad_norm", self._grad_norms[-1])
        return [self._alert(_nonfinite_or("spike", value), step, metric, "warning")]

    def _flush_before(self, step: int) -> list[dict]:
        if self._pending is not None and self._pending < step:
            return self._decide(self._pending)
        return []

    def _feed(self, role: str, step: int, value: float) -> list[dict]:
        out = self._flush_before(step)
        if role == "train_loss":
            self._losses.append(value)
            if self._gn_step is None or self._gn_step == step:
                out += self._decide(step)
            else:
                self._pending = step
        elif role == "grad_norm":
            self._grad_norms.append(value)
            self._gn_step = step
            if self._pending == step:
                out += self._decide(step)
        return out

    def finish(self) -> list[dict]:
        if self._pending is not None and not self._run.stopped:
            return self._decide(self._pending)
        return []


# --------------------------------------------------------------------------------------------
# LLM Foundry
# --------------------------------------------------------------------------------------------

_MIN_WINDOW_SIZE = 100
_MAX_LOSS_CAP = 10
_WINDOW_FRACTION = 0.05


class LLMFoundryKillLossSpike(Peer):
    """MosaicML LLM Foundry's `KillLossSpike` callback on the train loss.

    Source: mosaicml/llm-foundry, llmfoundry/callbacks/kill_loss_spike_callback.py at
    8c8dd48f72168c5d51e2f7b151595892a8fba43d (newest snapshot; the logic is from 0db44252 /
    85161819b, Aug 2024; f0018598 only reformatted it). Composer's trainer advances
    `state.timestamp` to the next batch before BATCH_END (mosaicml/composer,
    composer/trainer/trainer.py), so `timestamp.batch` at batch_end counts this batch too.

    Defaults used: log_only=True, patience=4, outlier_multiplier=2, window_size=100
    (_MIN_WINDOW_SIZE), loss_cap=10 (_MAX_LOSS_CAP); _WINDOW_FRACTION=0.05.

    Rule (`batch_end`), `k` = count of train-loss points fed including this one:
      * losses go into `loss_window` (every loss, NaN and outliers included); nothing is checked
        until it holds `window_size` losses, i.e. from batch window_size + 1 on;
      * at that first full window, if window_size was left at its default, it is widened to
        max(100, round(0.05 * total training batches)) (needs the run's max_duration: pass
        `total_steps`; None keeps 100, as Composer does without max_duration) and the window
        becomes a deque of that maxlen; if it grew, this batch is only appended;
      * loss_cap left at its default would be lowered to the max of the first window when
        `k == window_size`, which never holds in a run from scratch (the first full-window batch is
        k = window_size + 1), so it stays 10; modelled as written;
      * mean = np.mean(window). The loss is an outlier iff `loss >= mean * outlier_multiplier`;
        an outlier increments outlier_counter, a non-outlier resets it; a *spike* is reported
        while outlier_counter > patience (the 5th outlier in a row and every one after it);
      * else "high losses" when k >= 2 * window_size and at least window_size / 2 losses in the
        window are > loss_cap (reported as kind "divergence");
      * log_only (default) logs run metadata and training goes on -> "warning" alert per batch;
        log_only=False raises LossSpikeError / HighLossError -> "critical", final.
    A NaN loss is never an outlier (and resets the counter); once in the window it makes the mean
    NaN, so no outlier is seen until it has left the window.
    """

    name = "LLM Foundry KillLossSpike"

    def __init__(self, log_only: bool = True, patience: int = 4, outlier_multiplier: float = 2,
                 window_size: int = _MIN_WINDOW_SIZE, loss_cap: float = _MAX_LOSS_CAP,
                 total_steps: int | None = None, run: _Run | None = None) -> None:
        super().__init__(run)
        self.log_only, self.patience, self.outlier_multiplier = log_only, patience, outlier_multiplier
        self.window_size, self.loss_cap = window_size, loss_cap
        self.total_steps = total_steps
        self.outlier_counter = 0
        self.loss_window: deque[float] = deque()
        self.window_size_set = window_size != _MIN_WINDOW_SIZE
        self.loss_cap_set = loss_cap != _MAX_LOSS_CAP
        self._batch = 0

    def _set_window_size(self) -> None:
        if self.total_steps is not None:
            self.window_size = max(self.window_size, round(float(self.total_steps * _WINDOW_FRACTION)))
        self.loss_window = deque(self.loss_window, maxlen=self.window_size)
        self.window_size_set = True

    def _detect_loss_spike(self, loss: float, avg: float) -> bool:
        if loss >= avg * self.outlier_multiplier:
            self.outlier_counter += 1
            if self.outlier_counter > self.patience:
                return True
        elif self.outlier_counter > 0:
            self.outlier_counter = 0
        return False

    def _detect_high_losses(self, current_step: int) -> bool:
        if current_step < self.window_size * 2:
            return False
        return sum(1 for x in self.loss_window if x > self.loss_cap) >= self.window_size / 2

    def _report(self, kind: str, step: int) -> list[dict]:
        if self.log_only:
            return [self._alert(kind, step, "train_loss", "warning")]
        return self._stop(kind, step, "train_loss")

    def _feed(self, role: str, step: int, value: float) -> list[dict]:
        if role != "train_loss":
            return []
        self._batch += 1
        current_step = self._batch
        out: list[dict] = []
        if len(self.loss_window) == self.window_size:
            if not self.window_size_set:
                self._set_window_size()
                if self.window_size > _MIN_WINDOW_SIZE:
                    self.loss_window.append(value)
                    return []
            if not self.loss_cap_set and current_step == self.window_size:
                self.loss_cap = min(max(self.loss_window), self.loss_cap)
                self.loss_cap_set = True
            avg = sum(self.loss_window) / len(self.loss_window)
            if self._detect_loss_spike(value, avg):
                out = self._report("spike", step)
            elif self._detect_high_losses(current_step):
                out = self._report("divergence", step)
            if self._run.stopped:
                return out
        self.loss_window.append(value)
        return out


# --------------------------------------------------------------------------------------------
# Suites
# --------------------------------------------------------------------------------------------


def _lightning() -> list[Peer]:
    run = _Run()
    return [LightningSpikeDetection(run=run), LightningEarlyStopping(run=run)]


def _keras() -> list[Peer]:
    run = _Run()
    return [KerasEarlyStopping(run=run), KerasTerminateOnNaN(run=run)]


def _olmo_core() -> list[Peer]:
    return [OLMoCoreSkipStep()]


def _llm_foundry(total_steps: int | None = None) -> list[Peer]:
    """KillLossSpike in its default log_only mode; pass the run's length to widen its window as it does."""
    return [LLMFoundryKillLossSpike(total_steps=total_steps)]


PEERS: dict[str, Callable[[], list[Peer]]] = {
    "lightning": _lightning,
    "keras": _keras,
    "olmo-core": _olmo_core,
    "llm-foundry": _llm_foundry,
}


def run_suite(peers: list[Peer], points) -> list[dict]:
    """Feed (role, step, value) points, in order, to every peer of a suite; all alerts, in order."""
    out: list[dict] = []
    for role, step, value in points:
        for p in peers:
            out += p.feed(role, step, value)
    for p in peers:
        out += p.finish()
    return out
