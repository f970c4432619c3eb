"""Learning-rate control by a multiplier applied only inside the optimizer step.

Writing `param_groups[i]["lr"]` by hand is lost or compounded by most schedulers. Instead a step
pre-hook saves the scheduler-owned value u and sets u*s; a post-hook puts u back. Between steps the
optimizer holds the scheduler's own value, so every scheduler evolves as if lossmon were absent,
while every update uses u*s.

Requests (scale by f, set to x) may come from any thread; they are queued and resolved by the
training thread in the next pre-hook, where u is known exactly ("set to x" means s := x / u then).
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from typing import Any, Callable

from lossmon import events
from lossmon.training.update_ratio import RatioMeter


def check_positive(value: Any, what: str) -> float:
    """`value` as a finite float > 0, or ValueError naming `what`."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a finite number > 0, got {value!r}")
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be a finite number > 0, got {value!r}") from None
    if not math.isfinite(x) or x <= 0:
        raise ValueError(f"{what} must be a finite number > 0, got {value!r}")
    return x


MAX_PROBE_STEPS = 1_000_000


def check_steps(value: Any, what: str = "steps") -> int:
    """`value` as an int in 1..MAX_PROBE_STEPS, or ValueError naming `what`."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value != int(value) \
            or not 1 <= value <= MAX_PROBE_STEPS:
        raise ValueError(f"{what} must be a whole number from 1 to {MAX_PROBE_STEPS:,}, got {value!r}")
    return int(value)


@dataclass
class Probe:
    """An LR probe under way: `factor` on the multiplier for `steps` optimizer steps, then the
    multiplier it had before (`before`) comes back exactly -- not `scale / factor`, which a clamp
    or float rounding would leave slightly off."""

    factor: float
    steps: int
    before: float
    source: str
    remaining: int  # probed steps still to take

    @property
    def request(self) -> str:
        return f"probe x{self.factor:g} for {self.steps} steps"


def _as_float(lr: Any) -> float:
    return float(lr.item()) if hasattr(lr, "item") else float(lr)


def _is_tensor(lr: Any) -> bool:
    return hasattr(lr, "mul_") and hasattr(lr, "copy_")


class LRControl:
    """The LR multiplier of one run and the hooks that apply it to every watched optimizer."""

    def __init__(self, emit: Callable[..., None], update_ratio: bool = True) -> None:
        self.scale = 1.0
        self._emit = emit
        self._optimizers: list[Any] = []
        self._schedulers: list[Any] = []
        self._handles: list[Any] = []
        self.min_lr: float | None = None  # optional bounds for manual changes (first param group)
        self.max_lr: float | None = None
        self._requests: deque[tuple[str, Any, str]] = deque()
        self.probe: Probe | None = None  # an LR probe under way (rank 0 only under DDP)
        self._saved: dict[int, list[Any]] = {}
        # Effective LR of the last optimizer step, for the next logged step (set by the pre-hook).
        self.pending_metrics: dict[str, Any] | None = None
        self.last_effective: Any = None  # the first group's LR in the last step (float or 0-d tensor)
        self.sync: Any = None  # lossmon.training.distributed.ControlSync under torch.distributed
        self.follower = False  # a rank other than 0: follows rank 0's multiplier, ignores requests
        self.commit_seq = 0  # commits so far, and the last factor baked (for the other ranks)
        self.commit_factor = 1.0
        self.manual_base: float | None = None  # the script's own LR, for updates with no optimizer (manual())
        self.update_ratio = update_ratio  # measure log10(||dw||/||w||) per group (update_ratio.py)
        self.ratio_clock: Callable[[], float] | None = None  # the meters' clock (tests pass a fake one)
        self.opt_steps = 0  # steps of the first watched optimizer (the snapshot clock; a rollback sets it back)
        self.on_step: Callable[[], None] | None = None  # after each step of the first optimizer (snapshots)

    # ---- any thread ---------------------------------------------------------------------------

    def request_scale(self, factor: Any, source: str) -> None:
        self._request("scale", check_positive(factor, "LR factor"), source)

    def request_set(self, value: Any, source: str) -> None:
        self._request("set", check_positive(value, "learning rate"), source)

    def request_reset(self, source: str) -> None:
        self._request("reset", 1.0, source)

    def request_commit(self, source: str) -> None:
        self._request("commit", 1.0, source)

    def request_probe(self, factor: Any, steps: Any, source: str) -> None:
        self._request("probe", (check_positive(factor, "probe factor"), check_steps(steps, "probe steps")), source)

    def _request(self, kind: str, value: Any, source: str) -> None:
        if not self.follower:  # under DDP rank 0's requests reach every rank through the exchange
            self._requests.append((kind, value, source))

    def set_bounds(self, min_lr: Any = None, max_lr: Any = None) -> None:
        lo = None if min_lr is None else check_positive(min_lr, "min_lr")
        hi = None if max_lr is None else check_positive(max_lr, "max_lr")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"min_lr {lo:g} is above max_lr {hi:g}")
        self.min_lr, self.max_lr = lo, hi

    def set_scale(self, scale: Any) -> None:
        """Restore a saved multiplier (from a checkpoint): no event, takes effect at the next step."""
        self.scale = check_positive(scale, "LR multiplier")

    @property
    def settled_scale(self) -> float:
        """The multiplier without a probe under way: what a checkpoint should keep."""
        return self.probe.before if self.probe is not None else self.scale

    def probe_steps_left(self) -> int:
        """Probed steps still to take (0 when no probe runs, or when it ends at the next step)."""
        return max(0, self.probe.remaining) if self.probe is not None else 0

    @property
    def pending(self) -> bool:
        """True while a request waits for the next optimizer step."""
        return bool(self._requests)

    @property
    def optimizers(self) -> list[Any]:
        """The watched optimizers (unwrapped), in the order they were watched."""
        return list(self._optimizers)

    @property
    def schedulers(self) -> list[Any]:
        """The watched schedulers, in the order given."""
        return list(self._schedulers)

    @property
    def watched(self) -> bool:
        return bool(self._optimizers) or self.manual_base is not None

    def last_lr(self) -> float | None:
        """The first group's LR in the last step (before any step: the one it will use)."""
        if self.last_effective is not None:
            return _as_float(self.last_effective)
        lrs = self.effective_lrs() if self.watched else []
        return lrs[0] if lrs else None

    def effective_lrs(self) -> list[float]:
        """Effective LR per param group of every watched optimizer (u*s), as floats; with none, the
        script's own LR times the multiplier (manual())."""
        if not self._optimizers:
            return [] if self.manual_base is None else [self.manual_base * self.scale]
        return [_as_float(g["lr"]) * self.scale for opt in self._optimizers for g in opt.param_groups]

    def _base_lr(self) -> float:
        """u: the first group's LR as the schedule set it (or the script's own LR, manual())."""
        if self._optimizers:
            return _as_float(self._optimizers[0].param_groups[0]["lr"])
        return self.manual_base if self.manual_base is not None else float("nan")

    def manual(self, base: Any) -> float:
        """For updates written by hand (`p.data.add_(p.grad, alpha=-lr)`, no torch optimizer): the
        LR to use now, base x multiplier, with the requests made since the last call applied first.
        Training thread; each call is a step boundary for the LR and logs `lr` with the next row."""
        if isinstance(base, bool):
            raise TypeError("lossmon.lr() needs the base learning rate, a number")
        try:
            u = float(base)
        except (TypeError, ValueError):
            raise TypeError(f"lossmon.lr() needs the base learning rate, a number; got {base!r}") from None
        if not math.isfinite(u) or u < 0:
            raise ValueError(f"lossmon.lr(): the base learning rate must be finite and >= 0, got {base!r}")
        self.manual_base = u
        if self.sync is None and not self._optimizers:
            self.end_probe_if_due()
        if self._requests and self.sync is None:
            self.apply_requests()
        if not self._optimizers:
            self._probe_step()
        lr = u * self.scale
        if not self._optimizers:
            self._record_effective(0, [lr])
        return lr

    # ---- training thread ----------------------------------------------------------------------

    def watch(self, optimizer: Any, schedulers: list[Any] | None = None) -> None:
        optimizer = unwrap_optimizer(optimizer)
        if not hasattr(optimizer, "register_step_pre_hook") or not hasattr(optimizer, "param_groups"):
            raise TypeError(
                f"watch() needs a torch.optim.Optimizer, got {type(optimizer).__name__}"
            )
        for sched in schedulers or []:
            if not hasattr(sched, "optimizer"):
                raise TypeError(f"watch(scheduler=...) needs a torch LR scheduler, got {type(sched).__name__}")
            self._schedulers.append(sched)
        if any(o is optimizer for o in self._optimizers):
            return
        index = len(self._optimizers)
        self._optimizers.append(optimizer)
        meter = RatioMeter(index, self.ratio_clock, self._ratio_off) if self.update_ratio else None
        self._handles.append(optimizer.register_step_pre_hook(lambda opt, a, k: self._pre(opt, index, meter)))
        self._handles.append(optimizer.register_step_post_hook(lambda opt, a, k: self._after(opt, index, meter)))

    def unwatch_all(self) -> None:
        for opt in self._optimizers:
            self._post(opt)
        for h in self._handles:
            h.remove()
        self._handles.clear()
        self._optimizers.clear()

    def _pre(self, opt: Any, index: int, meter: RatioMeter | None = None) -> None:
        if self._saved:
            self._post(opt)  # a step that raised never ran its post-hook: restore before scaling again
        if self.sync is None:
            if index == 0:
                self.end_probe_if_due()
            if self._requests:
                self.apply_requests()
        elif index == 0:
            self.sync.pre_step()  # under DDP requests are resolved only at the agreed exchange steps
        if index == 0:
            self._probe_step()
        s = self.scale
        groups = opt.param_groups
        if meter is not None and not self.follower:  # other ranks log nothing: no need to measure there
            meter.pre(groups)
        if s == 1.0:  # nothing to change: only note the LR this step uses
            self._record_effective(index, [u if type(u) is float else u.detach().clone()
                                           for u in (g["lr"] for g in groups)])
            return
        saved: list[Any] = []
        effective: list[Any] = []
        for g in groups:
            u = g["lr"]
            if type(u) is float or not _is_tensor(u):
                saved.append(u)
                g["lr"] = u * s
                effective.append(u * s)
            else:
                saved.append(u.detach().clone())
                u.mul_(s)  # in place: fused/capturable optimizers hold on to this tensor
                effective.append(u.detach().clone())
        self._saved[id(opt)] = saved
        self._record_effective(index, effective)

    def _after(self, opt: Any, index: int, meter: RatioMeter | None = None) -> None:
        if self._saved:
            self._post(opt)
        if meter is not None and meter.measuring:
            self._record_ratio(meter)
        if index == 0:
            self.opt_steps += 1
            if self.on_step is not None:
                self.on_step()
            if self.sync is not None:
                self.sync.post_step()

    def _post(self, opt: Any) -> None:
        saved = self._saved.pop(id(opt), None)
        if saved is None:
            return
        for g, u in zip(opt.param_groups, saved):
            if _is_tensor(g["lr"]):
                g["lr"].copy_(u)
            else:
                g["lr"] = u

    def _record_effective(self, index: int, effective: list[Any]) -> None:
        """Keep this step's effective LR per param group for the next logged row: `lr` is the first
        optimizer's first group, `lr/<optimizer>.<group>` every other one."""
        metrics = self.pending_metrics if self.pending_metrics is not None else {}
        if index == 0 and effective:
            self.last_effective = effective[0]
        for gi, v in enumerate(effective):
            metrics["lr" if index == 0 and gi == 0 else f"lr/{index}.{gi}"] = v
        self.pending_metrics = metrics

    def _record_ratio(self, meter: RatioMeter) -> None:
        """This step's update-to-weight ratios (0-d device tensors) for the next logged row."""
        metrics = self.pending_metrics if self.pending_metrics is not None else {}
        meter.post(metrics)
        self.pending_metrics = metrics

    def _ratio_off(self, meter: RatioMeter) -> None:
        """A measurement raised (out of memory, say): that optimizer's ratio stops, once, in words."""
        self._emit(events.CAPTURE, what="update_ratio",
                   message=f"update_ratio of optimizer {meter.index} turned off: {meter.disabled}")

    def apply_requests(self) -> None:
        """Resolve the queued requests now (training thread, inside the optimizer step)."""
        while self._requests:
            kind, value, source = self._requests.popleft()
            try:
                if kind == "probe":
                    self._start_probe(value[0], value[1], source)
                    continue
                if self.probe is not None:  # a change by hand ends the probe first: it is relative to the LR before it
                    self._end_probe("cancelled")
                if kind == "commit":
                    self._commit(source)
                else:
                    self._change(kind, value, source)
            except Exception as e:  # a request must never raise in the training thread
                self._emit(events.LR_CHANGE, source=source, applied=False, reason=f"{type(e).__name__}: {e}")

    def upcoming_scale(self) -> float:
        """The multiplier the next optimizer step will use, relative to the LR the optimizers hold
        now: `scale` with the queued requests resolved against the current LR, as the next step's
        pre-hook will resolve them (exact unless the LR is changed before that step). Consumes
        nothing. Under torch.distributed requests wait for an agreed step: there, `scale`."""
        if self.sync is not None or not self._requests or not self._optimizers:
            return self.scale
        try:
            queued = list(self._requests)
            u0 = self._base_lr()
        except (RuntimeError, IndexError):  # the deque changed under us: the next call sees it
            return self.scale
        baked, s = 1.0, self.scale
        before = self.probe.before if self.probe is not None else None  # the multiplier a probe restores
        for kind, value, _ in queued:
            if kind == "probe":
                if before is None:
                    new_scale, _, rejected = self._resolve("scale", value[0], s, u0)
                    if rejected is None:
                        before, s = s, new_scale
                continue
            if before is not None:  # a change by hand ends the probe first
                s, before = before, None
            if kind == "commit":  # the multiplier goes into the LR the optimizers hold
                baked, u0, s = baked * s, u0 * s, 1.0
            else:
                new_scale, _, rejected = self._resolve(kind, value, s, u0)
                if rejected is None:
                    s = new_scale
        return baked * s

    def _resolve(self, kind: str, value: float, scale: float, u0: float) -> tuple[float, str | None, str | None]:
        """(new multiplier, the bound it was clamped to or None, why it cannot apply or None) for one
        request, given the multiplier before it and the first group's scheduler LR u0."""
        if kind == "scale":
            new_scale = scale * value
        elif kind == "reset":
            new_scale = 1.0
        elif not (math.isfinite(u0) and u0 > 0):
            return scale, None, f"the scheduler's LR is {u0:g} at this step; cannot set an exact LR now"
        else:
            new_scale = value / u0
        clamped = None
        if u0 > 0 and self.max_lr is not None and u0 * new_scale > self.max_lr:
            new_scale, clamped = self.max_lr / u0, f"max_lr {self.max_lr:g}"
        if u0 > 0 and self.min_lr is not None and u0 * new_scale < self.min_lr:
            new_scale, clamped = self.min_lr / u0, f"min_lr {self.min_lr:g}"
        if not (math.isfinite(new_scale) and new_scale > 0):
            return scale, None, f"the LR multiplier would become {new_scale:g}"
        return new_scale, clamped, None

    def _change(self, kind: str, value: float, source: str) -> None:
        old = self.effective_lrs()
        u0 = self._base_lr()
        request = {"scale": f"x{value:g}", "reset": "reset"}.get(kind, f"set {value:g}")
        new_scale, clamped, rejected = self._resolve(kind, value, self.scale, u0)
        if rejected is not None:
            self._emit(events.LR_CHANGE, source=source, request=request, applied=False, reason=rejected)
            return
        self.scale = new_scale
        extra = {"clamped": clamped} if clamped else {}
        self._emit(events.LR_CHANGE, source=source, request=request, applied=True,
                   old=old, new=self.effective_lrs(), scale=new_scale, **extra)

    def scale_now(self, factor: float, source: str) -> None:
        """Multiply the LR by `factor` at once, between steps (a rollback's lr_scale): the same
        resolution, bounds and event as a queued x`factor`, on every rank alike under DDP."""
        if self.probe is not None:
            self._end_probe("cancelled")
        try:
            self._change("scale", check_positive(factor, "LR factor"), source)
        except Exception as e:  # noqa: BLE001 - never raise in the training thread
            self._emit(events.LR_CHANGE, source=source, applied=False, reason=f"{type(e).__name__}: {e}")

    def drop_probe(self) -> None:
        """A rollback ends a probe under way (the multiplier comes from the snapshot)."""
        if self.probe is not None:
            self._end_probe("cancelled")

    # ---- the LR probe (training thread) -----------------------------------------------------------

    def _start_probe(self, factor: float, steps: int, source: str) -> None:
        request = f"probe x{factor:g} for {steps} steps"
        if self.probe is not None:
            self._emit(events.LR_CHANGE, source=source, request=request, applied=False,
                       reason=f"an LR probe ({self.probe.request}) is still running")
            return
        old = self.effective_lrs()
        new_scale, clamped, rejected = self._resolve("scale", factor, self.scale, self._base_lr())
        if rejected is not None:
            self._emit(events.LR_CHANGE, source=source, request=request, applied=False, reason=rejected)
            return
        self.probe = Probe(factor, steps, self.scale, source, steps)
        self.scale = new_scale
        extra = {"clamped": clamped} if clamped else {}
        self._emit(events.LR_CHANGE, source=source, request=request, applied=True, old=old,
                   new=self.effective_lrs(), scale=new_scale, probe="start", probe_factor=factor,
                   probe_steps=steps, **extra)

    def end_probe_if_due(self) -> None:
        """End the probe at the step boundary after its last probed step (the DDP leader calls
        this at exchange steps only, which it schedules to land exactly there)."""
        if self.probe is not None and self.probe.remaining <= 0:
            self._end_probe("end")

    def _probe_step(self) -> None:
        """One optimizer step taken at the probed LR."""
        if self.probe is not None:
            self.probe.remaining -= 1

    def _end_probe(self, how: str) -> None:
        p, self.probe = self.probe, None
        if p is None:
            return
        old = self.effective_lrs()
        self.scale = p.before
        self._emit(events.LR_CHANGE, source="probe", request="probe end", applied=True, old=old,
                   new=self.effective_lrs(), scale=p.before, probe=how, probe_factor=p.factor,
                   probe_steps=p.steps - max(0, p.remaining))

    def _commit(self, source: str) -> None:
        """Bake the multiplier into the optimizers and schedulers, so s can go back to 1."""
        s = self.scale
        if s == 1.0:
            self._emit(events.LR_COMMIT, source=source, applied=False, reason="the multiplier is already 1")
            return
        if not self._optimizers:
            self._emit(events.LR_COMMIT, source=source, applied=False,
                       reason="the LR is the script's own variable (lossmon.lr): there is no optimizer to bake it into")
            return
        notes = self.bake(s)
        self.commit_seq += 1
        self.commit_factor = s
        self._emit(events.LR_COMMIT, source=source, applied=True, baked=s, notes=notes)

    def bake(self, s: float) -> list[str]:
        """Multiply every LR the optimizers and watched schedulers own by s; reset the multiplier."""
        notes: list[str] = []
        for opt in self._optimizers:
            for g in opt.param_groups:
                for key in ("lr", "initial_lr", "max_lr", "min_lr"):  # max/min_lr: OneCycleLR's
                    if key in g:
                        if _is_tensor(g[key]):
                            g[key].mul_(s)
                        else:
                            g[key] = g[key] * s
        for sched in self._schedulers:
            bake_scheduler(sched, s, notes)
        if not self._schedulers:
            notes.append("no scheduler was given to watch(): baked into the optimizers' LR only")
        self.scale = 1.0
        return notes


def unwrap_optimizer(optimizer: Any) -> Any:
    """The torch optimizer inside a wrapper (Accelerate's AcceleratedOptimizer, Lightning's
    LightningOptimizer): wrappers skip Optimizer.__init__, so hooks on them never fire."""
    seen = 0
    while seen < 8 and "_optimizer_step_pre_hooks" not in getattr(optimizer, "__dict__", {}):
        inner = getattr(optimizer, "optimizer", None) or getattr(optimizer, "_optimizer", None)
        if inner is None or inner is optimizer:
            break
        optimizer, seen = inner, seen + 1
    return optimizer


def bake_scheduler(sched: Any, s: float, notes: list[str]) -> None:
    """Scale a scheduler's own LR fields by s (the optimizer's param groups are done by the caller)."""
    name = type(sched).__name__
    for child in getattr(sched, "_schedulers", []) or []:  # SequentialLR, ChainedScheduler
        bake_scheduler(child, s, notes)
    for attr in ("base_lrs", "max_lrs", "min_lrs", "_last_lr"):
        if isinstance(getattr(sched, attr, None), list):
            setattr(sched, attr, [v * s for v in getattr(sched, attr)])
    if isinstance(getattr(sched, "eta_min", None), (int, float)):
        sched.eta_min = sched.eta_min * s
    if name == "ReduceLROnPlateau" and isinstance(getattr(sched, "eps", None), float):
        sched.eps = sched.eps * s  # its minimum LR change is in absolute LR units
    if name == "LambdaLR":
        notes.append("LambdaLR: base_lrs scaled; exact when the lambda returns a factor (as Hugging Face "
                     "schedules do), not when it returns an absolute LR")
    elif name not in _KNOWN_SCHEDULERS:
        notes.append(f"{name}: base_lrs scaled; check its other LR fields by hand")


_KNOWN_SCHEDULERS = {
    "StepLR", "MultiStepLR", "ExponentialLR", "LinearLR", "ConstantLR", "PolynomialLR", "CosineAnnealingLR",
    "MultiplicativeLR", "OneCycleLR", "CyclicLR", "CosineAnnealingWarmRestarts", "SequentialLR",
    "ChainedScheduler", "ReduceLROnPlateau", "LambdaLR",
}
