"""Synthetic training curves with known events, for testing and tuning the detectors.

The train loss follows a power law in *cumulative learning rate* (progress is what the LR has
paid for, so warm-up, step decay and cosine all shape the curve the way they do in practice),
decaying toward a noise floor that itself drops as the LR anneals, times multiplicative batch
noise. Validation is the same clean curve plus a generalisation gap and a little evaluation noise.
Events (overfitting, spikes, divergence, NaN, plateau, too-small LR, oscillation) are injected at
known steps, so tests can assert what is found, and when.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

SCHEDULES = ("constant", "warmup_cosine", "step", "warmup_linear")


def lr_schedule(kind: str, steps: int, peak: float = 1.0, warmup: float = 0.02) -> np.ndarray:
    t = np.arange(steps, dtype=np.float64)
    w = max(1, int(warmup * steps))
    if kind == "constant":
        return np.full(steps, peak)
    if kind == "step":  # x0.1 at 50 % and 75 % (the classic ResNet schedule)
        return peak * np.where(t < steps * 0.5, 1.0, np.where(t < steps * 0.75, 0.1, 0.01))
    ramp = np.minimum(1.0, (t + 1) / w)
    frac = np.clip((t - w) / max(1, steps - w), 0.0, 1.0)
    if kind == "warmup_cosine":
        return peak * ramp * (0.5 * (1 + np.cos(np.pi * frac)) * 0.99 + 0.01)
    if kind == "warmup_linear":
        return peak * ramp * (1 - frac * 0.99)
    raise ValueError(f"unknown schedule {kind!r}; one of {', '.join(SCHEDULES)}")


@dataclass
class Curve:
    """A generated run: per-step train loss, LR and grad norm; val at `val_steps`."""

    steps: np.ndarray
    train: np.ndarray
    lr: np.ndarray
    grad_norm: np.ndarray
    val_steps: np.ndarray
    val: np.ndarray
    events: dict = field(default_factory=dict)  # name -> the step it was injected at

    def points(self, scale: float = 1.0) -> dict:
        return {"loss": (self.steps, self.train * scale), "lr": (self.steps, self.lr),
                "grad_norm": (self.steps, self.grad_norm), "val_loss": (self.val_steps, self.val * scale)}

    def batches(self, size: int = 1000, scale: float = 1.0):
        """The run as the pump would hand it over: {name: (steps, values)} per `size` steps."""
        pts = self.points(scale)
        last = int(self.steps[-1]) if len(self.steps) else 0
        for lo in range(0, last + 1, size):
            out = {}
            for name, (st, va) in pts.items():
                a, b = np.searchsorted(st, lo), np.searchsorted(st, lo + size)
                if b > a:
                    out[name] = (st[a:b], va[a:b])
            yield out


def generate(steps: int = 100_000, seed: int = 0, *, schedule: str = "constant", noise: float = 0.2,
             initial: float = 4.0, floor: float = 0.5, alpha: float = 0.6, tau: float | None = None,
             eval_every: int = 1000, val_gap: float = 0.05, val_noise: float = 0.01, lr_peak: float = 1e-3,
             overfit_at: int | None = None, spike_at: int | None = None, spike_size: float = 4.0,
             diverge_at: int | None = None, nan_at: int | None = None, plateau_at: int | None = None,
             oscillate_at: int | None = None, lr_scale: float = 1.0) -> Curve:
    """One synthetic run. `lr_scale` < 1 makes the LR that much too small (progress slows by the
    same factor: the "LR too small" curve); every *_at injects that event at that step."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.int64)
    sched = lr_schedule(schedule, steps)
    tau = tau if tau is not None else max(10.0, steps / 200)
    lr_used = sched * lr_scale
    progress = np.cumsum(lr_used)  # in units of peak-LR steps
    if plateau_at is not None:
        progress[plateau_at:] = progress[plateau_at]
    clean_floor = floor * (0.7 + 0.3 * sched)  # the floor drops as the LR anneals
    clean = clean_floor + (initial - floor) * (1.0 + progress / tau) ** (-alpha)
    train = clean * np.exp(noise * rng.standard_normal(steps) - noise * noise / 2)
    grad = (0.5 + clean / initial) * np.exp(0.15 * rng.standard_normal(steps))
    events: dict = {}
    if oscillate_at is not None:
        k = t[oscillate_at:] - oscillate_at
        period = max(64, steps // 50)
        wave = np.exp(0.4 * np.sin(2 * np.pi * k / period))  # x/÷1.5 swings, 50 periods a run
        train[oscillate_at:] *= wave
        events["oscillation"] = oscillate_at
    if spike_at is not None:
        train[spike_at] = clean[spike_at] * (1 + spike_size)
        grad[spike_at] *= 1 + spike_size
        events["spike"] = spike_at
    if diverge_at is not None:
        k = (t[diverge_at:] - diverge_at).astype(np.float64)
        growth = np.exp(np.minimum(k / max(20.0, steps / 500), 50))
        train[diverge_at:] *= growth
        clean = clean.copy()
        clean[diverge_at:] *= growth
        events["divergence"] = diverge_at
    if nan_at is not None:
        train[nan_at:] = np.nan
        grad[nan_at:] = np.nan
        events["nonfinite"] = nan_at
    vs = np.arange(eval_every - 1, steps, eval_every, dtype=np.int64)
    vclean = clean[vs] * (1 + val_gap)
    if overfit_at is not None:
        # after the onset the gap widens: val climbs back up while train keeps falling
        rise = np.clip((vs - overfit_at) / max(1.0, steps - overfit_at), 0, None)
        vclean = vclean + clean[overfit_at] * 0.6 * rise
        events["overfitting"] = overfit_at
    val = vclean * (1 + val_noise * rng.standard_normal(len(vs)))
    if nan_at is not None:
        val[vs >= nan_at] = np.nan
    if plateau_at is not None:
        events["plateau"] = plateau_at
    if lr_scale < 1:
        events["lr_too_low"] = 0
    return Curve(t, train, lr_used * lr_peak, grad, vs, val, events)
