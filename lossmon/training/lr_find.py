"""The LR range test ("LR finder"): train a few steps with the LR growing exponentially, watch the
smoothed loss, stop when it blows up, and suggest a starting LR from the curve.

Everything here follows two reference implementations, cited where each rule comes from:

- Lightning's Tuner, `lightning/pytorch/tuner/lr_finder.py` (Lightning 2.6): `_ExponentialLR` (the
  ramp), `_LRCallback` (smoothing with beta 0.98 and the early stop at 4x the best smoothed loss),
  `_LRFinder.suggestion()` (the steepest descent of loss against LR, `skip_begin=10, skip_end=1`).
- fastai's `Learner.lr_find`, `fastai/callback/schedule.py` (fastai 2.8): `LRFinder` (the stop at 4x
  the best smoothed loss), `Recorder`'s `AvgSmoothLoss` (bias-corrected moving average, beta 0.98)
  and the `valley` suggestion (its default since fastai 2.5), on the curve less its first
  num_it//10 and last 5 points, cut at the first NaN.

The LR is applied through lossmon's LR multiplier (training/lr.py): a step pre-hook makes the first
param group's LR the ramp's value for that step and the post-hook puts the optimizer's own value
back, so no param group is written for good, whatever scheduler runs. Other param groups keep their
ratio to the first (as `Run.set_lr` does), so a suggested LR means the same thing when you set it.

`lr_find(train_step, optimizer)` runs the test on a step function and puts everything back
afterwards (parameters, buffers, gradients, optimizer state and param groups, schedulers, RNGs);
`lossmon lr-find train.py` runs it on an unmodified script (session/lr_find.py). No UI import here:
`LRFindResult.plot()` draws with braille characters itself.
"""

from __future__ import annotations

import copy
import math
import random
import sys
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

import numpy as np

from lossmon.training.lr import LRControl, check_positive

START_LR, END_LR, NUM_STEPS, STOP_FACTOR, BETA = 1e-7, 10.0, 100, 4.0, 0.98

COMPLETED, DIVERGED, NONFINITE = "completed", "diverged", "nonfinite"


def ramp_lrs(start_lr: float = START_LR, end_lr: float = END_LR, num_steps: int = NUM_STEPS) -> list[float]:
    """The LR of each step of the exponential ramp, the values Lightning's `_ExponentialLR` gives
    (`base_lr * (end_lr / base_lr) ** r` with r = (last_epoch + 1) / num_iter, and the base LR itself
    while last_epoch is 0): step 0 at start_lr, step k >= 1 at start_lr * (end_lr/start_lr)**((k+1)/n),
    so the last step is at end_lr and the exponent 1/n is skipped. (fastai's `LRFinder` uses
    start_lr * (end_lr/start_lr)**(k/n), k = 0..n-1, and never reaches end_lr.)"""
    start, end, n = _check_ramp(start_lr, end_lr, num_steps)
    return [start if k == 0 else start * (end / start) ** ((k + 1) / n) for k in range(n)]


def _check_ramp(start_lr: Any, end_lr: Any, num_steps: Any) -> tuple[float, float, int]:
    start = check_positive(start_lr, "start_lr")
    end = check_positive(end_lr, "end_lr")
    if end <= start:
        raise ValueError(f"end_lr ({end:g}) must be above start_lr ({start:g})")
    if isinstance(num_steps, bool) or not isinstance(num_steps, int) or num_steps < 2:
        raise ValueError(f"num_steps must be a whole number >= 2, got {num_steps!r}")
    return start, end, num_steps


class RangeTest:
    """The ramp's bookkeeping, one optimizer step at a time: `lr` is the LR the next step should
    use; `feed(loss, lr)` records that step and says whether to go on.

    Smoothing: avg = beta*avg + (1-beta)*loss, smoothed = avg / (1 - beta**k) after the k-th step
    (k = 1, 2, ...): fastai's AvgSmoothLoss. Lightning's `_LRCallback` divides by
    1 - beta**(global_step + 1) with global_step already counting the step, i.e. beta**(k+1): its
    first smoothed values are biased low (the first is 0.505x the loss), which also lowers the best
    loss its early stop compares with; lossmon does not copy that.

    Stop: after the k-th step (k >= 2), when smoothed > stop_factor * the best smoothed loss before
    it (Lightning's and fastai's rule; that step is kept in the curve). A NaN or inf loss stops the
    ramp at once (it is kept too, with a NaN smoothed value). The rule needs a positive best loss: it
    is not applied while the best smoothed loss is <= 0. `stop_factor=None` turns it off."""

    def __init__(self, start_lr: float = START_LR, end_lr: float = END_LR, num_steps: int = NUM_STEPS,
                 stop_factor: float | None = STOP_FACTOR, beta: float = BETA) -> None:
        self.start_lr, self.end_lr, self.num_steps = _check_ramp(start_lr, end_lr, num_steps)
        self.stop_factor = None if stop_factor is None else check_positive(stop_factor, "stop_factor")
        if isinstance(beta, bool) or not isinstance(beta, (int, float)) or not 0 <= beta < 1:
            raise ValueError(f"beta must be in [0, 1), got {beta!r}")
        self.beta = float(beta)
        self.schedule = ramp_lrs(self.start_lr, self.end_lr, self.num_steps)
        self.lrs: list[float] = []
        self.losses: list[float] = []
        self.smoothed: list[float] = []
        self.best = math.inf
        self.reason: str | None = None  # COMPLETED, DIVERGED or NONFINITE once done
        self._avg = 0.0

    @property
    def done(self) -> bool:
        return self.reason is not None

    @property
    def lr(self) -> float:
        """The LR the next step should use."""
        return self.schedule[min(len(self.lrs), self.num_steps - 1)]

    def feed(self, loss: Any, lr: float | None = None) -> bool:
        """Record one step's loss (and the LR it really used; default: the schedule's). True while
        the ramp goes on."""
        if self.done:
            raise RuntimeError("the range test is over")
        value = _loss_value(loss)
        self.lrs.append(float(self.lr if lr is None else lr))
        self.losses.append(value)
        if not math.isfinite(value):
            self.smoothed.append(math.nan)
            self.reason = NONFINITE
            return False
        k = len(self.losses)
        self._avg = self.beta * self._avg + (1 - self.beta) * value
        smooth = self._avg / (1 - self.beta ** k)
        self.smoothed.append(smooth)
        if self.stop_factor is not None and k >= 2 and self.best > 0 and smooth > self.stop_factor * self.best:
            self.reason = DIVERGED
            return False
        self.best = min(self.best, smooth)
        if k >= self.num_steps:
            self.reason = COMPLETED
            return False
        return True

    def result(self, base_lr: float | None = None, note: str | None = None) -> "LRFindResult":
        return LRFindResult(lrs=list(self.lrs), losses=list(self.losses), smoothed=list(self.smoothed),
                            start_lr=self.start_lr, end_lr=self.end_lr, num_steps=self.num_steps,
                            stop_factor=self.stop_factor, reason=self.reason, base_lr=base_lr, note=note)


def _loss_value(loss: Any) -> float:
    if isinstance(loss, bool) or loss is None:
        raise TypeError(f"the step must return its loss (a number or a one-element tensor), got {loss!r}")
    try:
        return float(loss.detach().float().item() if hasattr(loss, "detach") else loss)
    except (TypeError, ValueError, RuntimeError):
        raise TypeError(f"the step must return its loss (a number or a one-element tensor), got {loss!r}") from None


# ---- suggestions ---------------------------------------------------------------------------------


def steepest(lrs: Iterable[float], losses: Iterable[float], skip_begin: int = 10, skip_end: int = 1) -> int | None:
    """Lightning's suggestion (`_LRFinder.suggestion()`, lightning/pytorch/tuner/lr_finder.py): the
    point of most negative gradient of loss with respect to the LR itself (not its log), over the
    curve less its first `skip_begin` and last `skip_end` points, non-finite losses dropped; the
    gradient is `torch.gradient`'s (second-order central differences on the uneven LR spacing,
    one-sided at the ends), on float32 values as Lightning's `torch.tensor(list)` makes them.
    The index into `lrs`, or None with fewer than 2 points left."""
    lrs = list(lrs)
    losses = list(losses)
    if skip_end < 1 or skip_begin < 0:
        raise ValueError("steepest() needs skip_begin >= 0 and skip_end >= 1")
    idx = np.arange(len(losses))[skip_begin:-skip_end]
    y = np.asarray(losses, dtype=np.float32)[skip_begin:-skip_end]
    x = np.asarray(lrs, dtype=np.float32)[skip_begin:-skip_end]
    finite = np.isfinite(y)
    y, x, idx = y[finite], x[finite], idx[finite]
    if len(y) < 2:
        return None
    with np.errstate(all="ignore"):
        grad = np.gradient(y, x)
    return int(idx[int(np.argmin(grad))])


def valley(lrs: Iterable[float], losses: Iterable[float], num_steps: int | None = None) -> int | None:
    """fastai's default suggestion (`valley` and `Learner.lr_find`, fastai/callback/schedule.py):
    the curve less its first num_steps//10 and last 5 points (num_steps: the ramp's length asked for,
    default the curve's), cut at its first NaN; there, the longest strictly decreasing run of losses
    (a longest decreasing subsequence), and the point 1/3 + 1/6 (rounded down, each) of the way from
    its start to its end. fastai's quirks are kept, so the index is the one it would pick: the start
    is end - length (one before the subsequence's first point), and it is taken when a point first
    beats the longest length so far, not updated when that point's length grows further. Compared in
    float32, as fastai's tensors are. The index into `lrs`, or None when nothing is left."""
    losses = list(losses)
    n_all = len(losses)
    begin = (n_all if num_steps is None else num_steps) // 10
    ys = np.asarray(losses, dtype=np.float32)[begin:n_all - 5 if n_all > 5 else 0]
    nan = np.flatnonzero(np.isnan(ys))
    if len(nan):
        ys = ys[:nan[0]]
    n = len(ys)
    if n == 0:
        return None
    longest = [1] * n  # longest[i]: the longest decreasing subsequence that ends at i
    best_end, best_start = 0, 0
    for i in range(1, n):
        for j in range(i):
            if ys[i] < ys[j] and longest[j] + 1 > longest[i]:
                longest[i] = longest[j] + 1
                if longest[i] > longest[best_end]:
                    best_end, best_start = i, i - longest[i]
    third = (best_end - best_start) / 3
    return begin + best_start + int(third) + int(third / 2)


STEEPEST, VALLEY = "steepest", "valley"
METHOD_WORDS = {STEEPEST: "steepest descent, Lightning's rule", VALLEY: "valley, fastai's rule"}


@dataclass
class Suggestion:
    method: str  # STEEPEST or VALLEY
    index: int  # into LRFindResult.lrs
    lr: float


@dataclass
class LRFindResult:
    """What the range test saw: per step the LR it used, its raw loss and the smoothed loss (the
    last step is the one that stopped it, NaN or 4x loss included), why it stopped, and the
    suggestions. `reason`: "completed" (all steps), "diverged" (stop rule), "nonfinite" (NaN/inf)."""

    lrs: list[float]
    losses: list[float]
    smoothed: list[float]
    start_lr: float = START_LR
    end_lr: float = END_LR
    num_steps: int = NUM_STEPS
    stop_factor: float | None = STOP_FACTOR
    reason: str | None = None
    base_lr: float | None = None  # the optimizer's own LR before the test (first param group)
    note: str | None = None
    suggestions: dict[str, Suggestion] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.suggestions:
            for method, idx in ((VALLEY, valley(self.lrs, self.smoothed, self.num_steps)),
                                (STEEPEST, steepest(self.lrs, self.smoothed))):
                if idx is not None and 0 <= idx < len(self.lrs):
                    self.suggestions[method] = Suggestion(method, idx, self.lrs[idx])

    @property
    def suggestion(self) -> Suggestion | None:
        """The valley suggestion (fastai's default since 2.5: it holds up on noisy curves, where the
        steepest gradient against the LR itself often lands in the noise at the low end), else the
        steepest one, else None (too few points)."""
        return self.suggestions.get(VALLEY) or self.suggestions.get(STEEPEST)

    @property
    def suggested_lr(self) -> float | None:
        s = self.suggestion
        return None if s is None else s.lr

    @property
    def steps(self) -> int:
        return len(self.lrs)

    def why(self) -> str:
        """Why the ramp ended, in words."""
        if not self.lrs:
            return "no step was taken"
        at = f"step {self.steps} (LR {_lr(self.lrs[-1])})"
        if self.reason == DIVERGED:
            return (f"stopped at {at}: the smoothed loss {self.smoothed[-1]:.4g} passed {self.stop_factor:g}x"
                    f" the best, {min(self.smoothed[:-1]):.4g}")
        if self.reason == NONFINITE:
            return f"stopped at {at}: the loss was {self.losses[-1]}"
        if self.reason == COMPLETED:
            return f"ran all {self.steps} steps, to LR {_lr(self.lrs[-1])}"
        return f"ended at {at}"

    def summary(self) -> str:
        """The suggestion in plain words: "suggested LR 3.2e-03 (steepest descent, ...); ..."."""
        lines = [self.why()]
        s = self.suggestion
        if s is None:
            lines.append("no suggestion: too few steps before the loss blew up (lower start_lr, or more steps)")
        else:
            own = f"; the run's own LR was {_lr(self.base_lr)}" if self.base_lr is not None else ""
            lines.append(f"suggested LR {_lr(s.lr)} ({METHOD_WORDS[s.method]}){own}")
            for other in self.suggestions.values():
                if other.method != s.method:
                    lines.append(f"also: {_lr(other.lr)} ({METHOD_WORDS[other.method]})")
        if self.note:
            lines.append(self.note)
        return "\n".join(lines)

    def plot(self, width: int = 72, height: int = 14) -> str:
        """The smoothed loss against log10 LR in braille, `width` columns in all (axis labels
        included), the suggestions marked under the x axis (S steepest, V valley) and on the curve."""
        return render_curve(self.lrs, self.smoothed, self.suggestions, width=width, height=height)

    def to_dict(self) -> dict:
        return {"lrs": self.lrs, "losses": self.losses, "smoothed": self.smoothed, "reason": self.reason,
                "start_lr": self.start_lr, "end_lr": self.end_lr, "num_steps": self.num_steps,
                "stop_factor": self.stop_factor, "base_lr": self.base_lr,
                "suggestions": {m: {"index": s.index, "lr": s.lr} for m, s in self.suggestions.items()}}


def _lr(x: float | None) -> str:
    return "?" if x is None else f"{x:.1e}" if x < 1e-2 or x >= 1e3 else f"{x:.3g}"


# ---- the text plot -------------------------------------------------------------------------------

_DOT = ((0x01, 0x08), (0x02, 0x10), (0x04, 0x20), (0x40, 0x80))  # [dot row][dot col] of a braille cell
_MARK = {STEEPEST: "S", VALLEY: "V"}


def render_curve(lrs: list[float], losses: list[float], suggestions: dict[str, Suggestion] | None = None,
                 *, width: int = 72, height: int = 14) -> str:
    """Loss against log10 LR as lines of braille text, `width` columns wide (at least 30)."""
    width, height = max(30, int(width)), max(4, int(height))
    suggestions = suggestions or {}
    pts = [(math.log10(x), y) for x, y in zip(lrs, losses) if x > 0 and math.isfinite(y)]
    label_w = 9
    cols = width - label_w
    if len(pts) < 2:
        return "(too few finite points to plot)"
    x0, x1 = pts[0][0], pts[-1][0]
    x0, x1 = min(x0, min(p[0] for p in pts)), max(x1, max(p[0] for p in pts))
    y0, y1 = min(p[1] for p in pts), max(p[1] for p in pts)
    clipped = pts[0][1] > 0 and y1 > 1.5 * pts[0][1]
    if clipped:  # the blow-up that stopped the ramp would squash the part that matters
        y1 = 1.5 * pts[0][1]
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y1 = y0 + 1
    dw, dh = 2 * cols, 4 * height
    cells = [[0] * cols for _ in range(height)]

    def dot(xd: int, yd: int) -> None:
        if 0 <= xd < dw and 0 <= yd < dh:
            cells[yd // 4][xd // 2] |= _DOT[yd % 4][xd % 2]

    def to_dots(x: float, y: float) -> tuple[float, float]:
        return (x - x0) / (x1 - x0) * (dw - 1), min(dh - 1.0, max(0.0, (y1 - y) / (y1 - y0) * (dh - 1)))

    prev = None
    for x, y in pts:
        xd, yd = to_dots(x, y)
        if prev is None:
            dot(round(xd), round(yd))
        else:  # a line from the previous point: one dot per dot row and column crossed
            px, py = prev
            n = max(1, int(max(abs(xd - px), abs(yd - py))))
            for t in range(1, n + 1):  # (a vertical run fills the column: steep parts stay joined)
                dot(round(px + (xd - px) * t / n), round(py + (yd - py) * t / n))
        prev = (xd, yd)
    grid = [[chr(0x2800 + c) if c else " " for c in row] for row in cells]
    marks_row = [" "] * cols
    for method, s in suggestions.items():
        if 0 <= s.index < len(lrs) and lrs[s.index] > 0 and math.isfinite(losses[s.index]):
            xd, yd = to_dots(math.log10(lrs[s.index]), losses[s.index])
            c, r = min(cols - 1, int(round(xd)) // 2), min(height - 1, int(round(yd)) // 4)
            grid[r][c] = _MARK.get(method, "*")
            marks_row[c] = _MARK.get(method, "*") if marks_row[c] == " " else "*"
    lines = ["loss (smoothed) vs learning rate (log scale)" + (", clipped at 1.5x the first" if clipped else "")]
    for r, row in enumerate(grid):
        if r == 0:
            label = f"{y1:.3g}"
        elif r == height - 1:
            label = f"{y0:.3g}"
        elif r == height // 2:
            label = f"{(y0 + y1) / 2:.3g}"
        else:
            label = ""
        lines.append(f"{label:>{label_w - 2}} {'┤' if label else '│'}" + "".join(row))
    # x axis: a tick at every whole power of ten (every other one when crowded)
    decades = list(range(math.ceil(x0), math.floor(x1) + 1))
    step = 1
    while decades and len(decades[::step]) * 7 > cols:
        step += 1
    axis = ["─"] * cols
    labels = [" "] * (cols + 8)
    for d in decades[::step]:
        c = min(cols - 1, int(round((d - x0) / (x1 - x0) * (dw - 1))) // 2)
        axis[c] = "┬"
        text = f"1e{d:+03d}" if d else "1"
        start = max(0, c - len(text) // 2)
        if all(ch == " " for ch in labels[max(0, start - 1):start + len(text) + 1]):
            labels[start:start + len(text)] = list(text)
    lines.append(" " * (label_w - 1) + "└" + "".join(axis))
    lines.append(" " * label_w + "".join(labels).rstrip())
    if suggestions:
        lines.append(" " * label_w + "".join(marks_row).rstrip())
        lines.append(" " * label_w + "   ".join(f"{_MARK.get(m, '*')} {m} {_lr(s.lr)}" for m, s in suggestions.items()))
    return "\n".join(line.rstrip() for line in lines)


# ---- running it on a step function ---------------------------------------------------------------


def lr_find(train_step: Callable[[], Any], optimizer: Any, *, model: Any = None, schedulers: Any = None,
            start_lr: float = START_LR, end_lr: float = END_LR, num_steps: int = NUM_STEPS,
            stop_factor: float | None = STOP_FACTOR, beta: float = BETA) -> LRFindResult:
    """The LR range test on `train_step`, then everything put back as it was.

    `train_step()` does one training step -- take a batch, forward, backward, `optimizer.step()` --
    and returns its loss (a tensor or a number): the body of your loop, with your data, AMP and
    gradient accumulation, so the test trains exactly as the run will. `optimizer` is the one it
    steps: its first param group's LR follows the ramp (start_lr to end_lr over num_steps,
    exponentially; the other groups keep their ratios) through a step pre-hook, whatever scheduler
    it has. The ramp stops early when the smoothed loss passes stop_factor x its best, or at a NaN
    or inf loss (never raised; the stopping step is in the result).

    Restored afterwards, bit for bit, even when train_step raises: the parameters the optimizer
    updates and their gradients, `model`'s parameters and buffers when given (BatchNorm statistics:
    pass the model), the optimizer's state and param groups (the same dict and LR-tensor objects),
    the `schedulers`' state (one or a list), and the torch (CPU and, once initialised, CUDA), numpy
    and Python RNG states. Not restored: data iterators train_step draws from, and anything else it
    changes. Returns an LRFindResult (`.suggested_lr`, `.plot()`, `.summary()`)."""
    if not callable(train_step):
        raise TypeError("lr_find() needs train_step, a function that does one step and returns the loss")
    test = RangeTest(start_lr, end_lr, num_steps, stop_factor, beta)
    if schedulers is None:
        scheds = []
    elif isinstance(schedulers, (list, tuple)):
        scheds = list(schedulers)
    else:
        scheds = [schedulers]
    control = LRControl(lambda *a, **k: None, update_ratio=False)
    control.watch(optimizer)  # raises TypeError for anything but a torch optimizer
    opt = control.optimizers[0]
    base = control.effective_lrs()[0] if opt.param_groups else None
    saved = _State(opt, model, scheds)
    steps = [0]  # optimizer steps taken (a GradScaler may skip some)
    handle = opt.register_step_post_hook(lambda *a: steps.__setitem__(0, steps[0] + 1))
    try:
        while True:
            control.request_set(test.lr, "lr_find")
            before = steps[0]
            loss = train_step()
            used = control.last_lr() if steps[0] > before else test.lr
            if not test.feed(loss, used):
                break
    finally:
        handle.remove()
        control.unwatch_all()
        saved.restore()
    if not steps[0]:
        raise RuntimeError("train_step() never called optimizer.step() on the optimizer given to lr_find()")
    return test.result(base_lr=base)


class _State:
    """A copy of what a range test changes, and its restore (in place: the same tensors and dicts)."""

    def __init__(self, optimizer: Any, model: Any, schedulers: list[Any]) -> None:
        import torch

        self.torch = torch
        self.optimizer, self.model, self.schedulers = optimizer, model, schedulers
        params = [p for g in optimizer.param_groups for p in g["params"]]
        if model is not None:
            seen = {id(p) for p in params}
            params += [p for p in model.parameters() if id(p) not in seen]
        self.params = params
        with torch.no_grad():
            self.values = [p.detach().clone() for p in params]
            self.grads = [None if p.grad is None else p.grad.detach().clone() for p in params]
            self.buffers = [] if model is None else [(b, b.detach().clone()) for b in model.buffers()]
        self.opt_state = copy.deepcopy(optimizer.state_dict())
        self.group_list = optimizer.param_groups
        self.groups = list(self.group_list)
        self.group_values = [{k: _clone(v) for k, v in g.items() if k != "params"} for g in self.groups]
        self.sched_states = [copy.deepcopy(s.state_dict()) for s in schedulers]
        self.rng = torch.get_rng_state()
        cuda = getattr(torch, "cuda", None)
        self.cuda_rng = cuda.get_rng_state_all() if cuda is not None and cuda.is_initialized() else None
        self.py_rng = random.getstate()
        np_random = getattr(sys.modules.get("numpy"), "random", None)
        self.np_rng = np_random.get_state() if np_random is not None else None

    def restore(self) -> None:
        torch = self.torch
        with torch.no_grad():
            for p, v, g in zip(self.params, self.values, self.grads):
                p.copy_(v)
                if g is None:
                    p.grad = None
                elif p.grad is None:
                    p.grad = g.clone()
                else:
                    p.grad.copy_(g)
            for b, v in self.buffers:
                b.copy_(v)
        opt = self.optimizer
        opt.load_state_dict(self.opt_state)  # the state; it makes new group dicts: put the old ones back
        for g, values in zip(self.groups, self.group_values):
            for k in [k for k in g if k != "params" and k not in values]:
                del g[k]
            for k, v in values.items():
                cur = g.get(k)
                if _is_tensor(cur) and _is_tensor(v) and cur.shape == v.shape:
                    cur.copy_(v)
                else:
                    g[k] = _clone(v)
        self.group_list[:] = self.groups
        opt.param_groups = self.group_list
        for s, state in zip(self.schedulers, self.sched_states):
            s.load_state_dict(copy.deepcopy(state))
        torch.set_rng_state(self.rng)
        if self.cuda_rng is not None:
            torch.cuda.set_rng_state_all(self.cuda_rng)
        random.setstate(self.py_rng)
        if self.np_rng is not None:
            sys.modules["numpy"].random.set_state(self.np_rng)


def _is_tensor(v: Any) -> bool:
    return hasattr(v, "copy_") and hasattr(v, "detach")


def _clone(v: Any) -> Any:
    return v.detach().clone() if _is_tensor(v) else copy.deepcopy(v)
