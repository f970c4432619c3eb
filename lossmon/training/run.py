"""`Run`: the object a training function talks to.

The training thread calls `log()` every step; it must stay cheap (about 1 us for a float), so it
only validates, counts the step and appends its keyword dict to a deque. The pump thread drains
that deque (`drain()`) into the store and the run log. Control calls (`pause`, `stop`, `scale_lr`,
...) may come from any thread -- the keys of a view, a control socket, the script itself -- and are
applied by the training thread at its next step boundary: `log()` for pause and checkpoint
(steering.py owns those requests), the optimizer step for the learning rate (lr.py). Nothing on
the hot path takes a lock.
"""

from __future__ import annotations

import numbers
import os
import sys
import threading
import time
import weakref
from collections import deque
from pathlib import Path
from typing import Any, Callable

from lossmon import events, names
from lossmon.recording.store import MetricStore
from lossmon.training.data_wait import DataWait
from lossmon.training.lr import LRControl
from lossmon.training.rollback import Recovery, check_request
from lossmon.training.steering import Steering

# Back-pressure by age, not by rows (100k rows of 60 metrics were seconds of data): log() waits
# while the oldest point not yet handed to run.jsonl is older than HOLD_S, so what a SIGKILL can
# lose stays under the README's 0.5 s at any logging rate and width (see _wait_for_pump).
HOLD_S = 0.15
WRITE_BUDGET_S = 0.1  # ... or while the queue would take the pump longer than this to write
GIVE_UP_S = 1.0  # the longest log() waits for a pump that does not move


_recorded_runs: "weakref.WeakSet[Run]" = weakref.WeakSet()  # runs a pump drains now (see _forked)


def _forked() -> None:
    """In a forked child (a DataLoader worker) no pump thread exists: what it logs would queue
    for nobody (and log() waited for it), so those runs record nothing there, and say so."""
    for run in list(_recorded_runs):
        run.consumer_gone("fork")


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forked)


class Run:
    """One training run: metrics in, control out. Handed to the training function by `lossmon.run`."""

    def __init__(self, name: str = "run", run_dir: Path | None = None, update_ratio: bool = True) -> None:
        self.name = name
        self.dir = Path(run_dir) if run_dir is not None else None
        self.store = MetricStore()
        self.result: Any = None  # what the training function returned
        self.total_steps: int | None = None  # set it and the views show an ETA
        self._pending: deque = deque()  # rows ({name: value, "step": n}) and events ({"event": ...})
        self._step = 0
        self._advances: dict[str, bool] = {}
        self._lr = LRControl(self.record, update_ratio=bool(update_ratio))  # the ratio: update_ratio.py
        self.steering = Steering(self.record)  # pause, stop and checkpoint requests
        self._recovery = Recovery(self, self._lr)  # snapshots, data position, rollbacks (rollback.py)
        self._sync: Any = None  # lossmon.training.distributed.ControlSync under torch.distributed
        self._follower = False  # a rank other than 0: records nothing
        self._training_thread: int | None = None  # where checkpoint functions may run outside log()
        self.stop_polled = False  # the script asks lossmon.should_stop() (or an integration does): it stops itself
        self.capture: Any = None  # lossmon.capture.Capture under `lossmon run` (what the script does not log)
        self.forecast: Any = None  # lossmon.diagnosis.forecast_live.LiveForecast, set by the session
        self._consumed = False  # a pump drains the queue now (log() may wait for it)
        self._wake_pump: Callable[[], None] = lambda: None  # ask the pump for a tick now
        self._behind: Callable[[], bool] = lambda: False  # the pump's analysis lags far behind
        self._drained_at = time.monotonic()  # the last drain began: everything queued is newer
        self._inflight_since: float | None = None  # a drained batch not yet written holds points from then on
        self._stuck_at: float | None = None  # _drained_at when log() last gave up waiting
        self.write_rate = 0.0  # values a second the pump writes to the run log (measured; 0: not yet)
        self._nowhere: str | None = None  # why nothing records here any more: "ended" or "fork"
        self._nowhere_said = False
        self.data_wait = DataWait()  # seconds in a timed loader's next() (training/data_wait.py)
        self.config_values: dict[str, Any] = {}  # hyperparameters (rundir/configvalues.py), in meta.json
        self.on_config: Callable[[dict], None] = lambda values: None  # the session writes them to meta.json

    def set_config(self, values: Any) -> dict:
        """Record the run's configuration (a dict, or an argparse Namespace): merged into what is
        recorded already, made JSON-safe, written to meta.json; returns the whole of it."""
        from lossmon.rundir.configvalues import safe_config

        merged = {**self.config_values, **safe_config(values)}
        if merged == self.config_values:
            return self.config_values  # called every step with the same values: no rewrite of meta.json
        self.config_values = merged
        try:
            self.on_config(dict(self.config_values))
        except Exception:  # noqa: BLE001 - recording the config never fails the run
            pass
        return self.config_values

    # ---- logging (training thread) ------------------------------------------------------------

    def log(self, step: int | None = None, **metrics: Any) -> None:
        """Record named scalars. A call with a training-side metric starts a new step; a call with
        only validation metrics (val_*, eval_*, ...) or `epoch` belongs to the current step; an
        explicit `step=` wins. Blocks here while the run is paused."""
        advance = False
        known = self._advances
        for k, v in metrics.items():
            a = known.get(k)
            if a is None:
                a = self._learn_name(k)
            if a:
                advance = True
            if type(v) is not float:
                metrics[k] = _coerce(k, v)
        if step is not None:
            self._step = _check_step(step)
        elif advance:
            self._step += 1
        if advance:
            lr = self._lr.pending_metrics
            if lr is not None:
                for k, v in lr.items():
                    metrics.setdefault(k, v)  # a value the user logged under the same name wins
                self._lr.pending_metrics = None
        metrics["step"] = self._step  # the row is the kwargs dict itself: no tuple, nothing for the GC to track
        self._pending.append(metrics)
        if self.steering.attention:
            self.steering.serve()
        if not len(self._pending) & 255:  # every 256 queued items: is the backlog too old, or too big?
            self._wait_for_pump(len(metrics))

    def consumer_started(self, wake: Callable[[], None] | None = None,
                         behind: Callable[[], bool] | None = None) -> None:
        """The pump drains this run from now on (Pump.start); `wake` asks it for a tick at once,
        `behind` says its analysis (store, detectors) is too far behind the run log."""
        if wake is not None:
            self._wake_pump = wake
        if behind is not None:
            self._behind = behind
        self._drained_at = time.monotonic()
        self._consumed = True
        _recorded_runs.add(self)

    def consumer_gone(self, why: str) -> None:
        """Nothing will drain this run again ("ended": its pump stopped; "fork": this is a forked
        child): log() becomes a no-op that says so once, instead of queueing for nobody and
        waiting for a pump that will not come. The pump still moves what was queued before."""
        self._consumed = False
        _recorded_runs.discard(self)
        if self._nowhere is not None:
            return
        self._nowhere = why
        self.log = self._log_nowhere  # type: ignore[method-assign]
        if why == "fork":
            self._pending = deque()  # the parent records those; nothing here would

    def _log_nowhere(self, step: int | None = None, **metrics: Any) -> None:
        """log() where nothing records: costs nothing, says so once."""
        if self._nowhere_said:
            return
        self._nowhere_said = True
        if self._nowhere == "fork":
            msg = (f"lossmon: log() in a forked process (pid {os.getpid()}, a DataLoader worker?) records nothing;"
                   f" only the process running '{self.name}' records: log there")
        else:
            msg = f"lossmon: run '{self.name}' has ended: log() records nothing now"
        print(msg, file=sys.stderr, flush=True)

    def _unwritten_age(self) -> float:
        """Seconds since the oldest point not yet handed to the run log was queued (at most)."""
        since = self._inflight_since
        return time.monotonic() - (self._drained_at if since is None else since)

    def _too_much(self, width: int) -> bool:
        """The queue is older than HOLD_S, would take the pump over WRITE_BUDGET_S to write (rows
        of this width at its measured rate), or its analysis lags far behind."""
        if self._unwritten_age() >= HOLD_S or self._behind():
            return True
        rate = self.write_rate
        return rate > 0 and len(self._pending) * width > rate * WRITE_BUDGET_S

    def _wait_for_pump(self, width: int = 1) -> None:
        """Back-pressure for a loop that logs faster than the pump records: while the backlog is
        too old or too big (_too_much), wake the pump and yield the GIL until it has written it,
        so what a crash loses, and the memory held, stay bounded in time whatever the rate or the
        row width. A pump that does not move for GIVE_UP_S is not waited for again until it
        drains (training must never stall on the monitor); with no pump there is nothing to wait for."""
        if not self._consumed or self._stuck_at == self._drained_at or not self._too_much(width):
            return
        self._wake_pump()
        deadline = time.monotonic() + GIVE_UP_S
        while self._too_much(width):
            if time.monotonic() > deadline:
                self._stuck_at = self._drained_at
                return
            time.sleep(0.0005)

    def _learn_name(self, name: Any) -> bool:
        self._training_thread = threading.get_ident()  # the thread that logs (once per new name)
        if not isinstance(name, str):
            raise TypeError(f"metric names must be strings, got {name!r}")
        if not name.strip():
            raise ValueError("metric names must not be empty")
        if name in names.RESERVED:
            raise ValueError(f"{name!r} is reserved in the run log; log this metric under another name")
        a = self._advances[name] = names.advances_step(name)
        return a

    @property
    def step(self) -> int:
        """The current step: the number of training-side log calls so far (or the last `step=`)."""
        return self._step

    # ---- control (any thread) -----------------------------------------------------------------

    @property
    def should_stop(self) -> bool:
        """True once a stop was requested; check it every step and return from training.

        Under torch.distributed it turns True on every rank after the same optimizer step (the
        exchange runs in the watched optimizer's step; with none watched, rank 0 stops alone)."""
        steering = self.steering
        if self._sync is not None and not self._lr.watched:
            return steering.stop_requested
        if steering.stopped and steering.checkpoints_pending and not steering.distributed \
                and threading.get_ident() == self._training_thread:
            steering.run_checkpoints()  # asked for just before the stop: taken before training returns
        return steering.stopped

    @property
    def stop_requested(self) -> bool:
        """True once a stop was asked for here (`should_stop` may follow a step later under DDP)."""
        return self.steering.stop_requested

    def stop(self, *, source: str = "api") -> None:
        """Ask the training function to finish: `should_stop` turns True and a pause is released."""
        self.steering.request_stop(source)

    def pause(self, *, source: str = "api") -> None:
        """Block the training thread in its next `log()` until `resume()` (or `stop()`)."""
        self.steering.request_pause(source)

    def resume(self, *, source: str = "api") -> None:
        self.steering.request_resume(source)

    @property
    def paused(self) -> bool:
        """True while the training thread is actually blocked in a pause."""
        return self.steering.paused

    @property
    def pause_requested(self) -> bool:
        return self.steering.pause_requested

    def on_checkpoint(self, fn: Callable[[], Any]) -> Callable[[], Any]:
        """Register the function that saves a checkpoint (usable as a decorator). It runs in the
        training thread at the step boundary after `checkpoint()` is called; what it returns (a path,
        say) is recorded in the event."""
        if not callable(fn):
            raise TypeError("on_checkpoint() needs a callable")
        self.steering.checkpoint_fn = fn
        return fn

    @property
    def has_checkpoint(self) -> bool:
        """True once a checkpoint function is registered with `on_checkpoint`."""
        return self.steering.has_checkpoint

    def checkpoint(self, *, source: str = "api") -> None:
        """Ask for a checkpoint at the next step boundary (the function from `on_checkpoint`)."""
        self.steering.request_checkpoint(source)

    def watch(self, optimizer: Any, scheduler: Any = None) -> None:
        """Log the effective LR of this optimizer every step (and its update-to-weight ratio every
        few steps, unless `update_ratio` is off) and let LR control act on it.

        Wrapped optimizers (Accelerate, Lightning) are unwrapped. Pass the LR scheduler(s) too if you
        want `commit_lr()` to bake a manual change into them."""
        if scheduler is None:
            schedulers = []
        elif isinstance(scheduler, (list, tuple)):
            schedulers = list(scheduler)
        else:
            schedulers = [scheduler]
        self._lr.watch(optimizer, schedulers)

    def scale_lr(self, factor: float, *, source: str = "api") -> None:
        """Multiply the LR by `factor` from the next optimizer step on, whatever the scheduler does."""
        self._lr.request_scale(factor, source)

    def set_lr(self, value: float, *, source: str = "api") -> None:
        """Make the effective LR of the first param group `value` at the next optimizer step (other
        groups keep their ratios to it); the scheduler keeps shaping it from there."""
        self._lr.request_set(value, source)

    def probe_lr(self, factor: float = 2.0, steps: int = 200, *, source: str = "api") -> None:
        """Try the LR x`factor` for `steps` optimizer steps, then put the multiplier back exactly as
        it was. Diagnosis compares the loss slope in the window with the trend before it and says
        in an `lr_probe` alert whether the LR was too small ("keep it") or not. A manual LR change
        during the probe ends it first; under torch.distributed every rank starts and ends it at
        the same step."""
        self._lr.request_probe(factor, steps, source)

    @property
    def lr_probing(self) -> bool:
        """True while an LR probe runs."""
        return self._lr.probe is not None

    def set_lr_bounds(self, min_lr: float | None = None, max_lr: float | None = None) -> None:
        """Clamp manual LR changes so the first param group's effective LR stays in [min_lr, max_lr]."""
        self._lr.set_bounds(min_lr, max_lr)

    def commit_lr(self, *, source: str = "api") -> None:
        """At the next optimizer step, bake the multiplier into the optimizers' LRs and the watched
        schedulers' base values (base_lrs, eta_min, OneCycle max/min, cyclic bounds, nested
        schedulers), then reset it to 1. An `lr_commit` event says what could not be baked exactly."""
        self._lr.request_commit(source)

    def reset_lr(self, *, source: str = "api") -> None:
        """Put the LR multiplier back to 1 at the next optimizer step: the schedule's own LR again."""
        self._lr.request_reset(source)

    def manual_lr(self, base_lr: float) -> float:
        """For updates written by hand: `base_lr` times the multiplier, with the LR requests made
        since the last call applied first (see `lossmon.lr`). Training thread."""
        return self._lr.manual(base_lr)

    @property
    def update_ratio(self) -> bool:
        """Whether optimizers watched from now on log `update_ratio` (log10 of ||dw||/||w|| per
        param group, every few steps); `lossmon.run(..., update_ratio=False)` turns it off."""
        return self._lr.update_ratio

    @property
    def lr_watched(self) -> bool:
        """True once an optimizer is watched, i.e. LR control can act."""
        return self._lr.watched

    @property
    def lr_change_pending(self) -> bool:
        """True while an LR request waits for the next optimizer step."""
        return self._lr.pending

    @property
    def lr_scale(self) -> float:
        """The manual LR multiplier (1.0 until the LR is changed by hand)."""
        return self._lr.scale

    @property
    def upcoming_lr_scale(self) -> float:
        """The multiplier the next optimizer step will apply to the LR the optimizers hold now:
        `lr_scale` with any pending request resolved as that step will resolve it. For code that
        reports the LR between steps (the param groups then hold the schedule's value): the next
        step's effective LR is param_groups[i]["lr"] times this. Training thread."""
        return self._lr.upcoming_scale()

    @property
    def effective_lr(self) -> float | None:
        """The LR the last update of the first watched param group used (the schedule's value
        times the multiplier: what the `lr` metric logs); before the first step, the one it will
        use; None before an optimizer is watched. Reading it may sync with the GPU when the LR is a
        tensor: call it at logging time, not every step."""
        return self._lr.last_lr()

    def lr_find(self, train_step: Callable[[], Any], optimizer: Any = None, **options: Any) -> Any:
        """`lossmon.lr_find` in this run, before training: the LR range test on `train_step`, with
        everything it changes put back afterwards (see lossmon.training.lr_find.lr_find for the
        options). `optimizer` defaults to the first one watched. The test's steps are not the
        run's: nothing is logged (under `lossmon run`, capture looks away), and the run's step, LR
        multiplier and logged LR are as they were. Returns an LRFindResult; set its LR with
        `set_lr(result.suggested_lr)` if you like it. Training thread."""
        from lossmon.training.lr_find import lr_find

        lrc = self._lr
        if optimizer is None:
            if not lrc.optimizers:
                raise ValueError("run.lr_find(): no optimizer given and none watched; pass the one train_step steps")
            optimizer = lrc.optimizers[0]
        kept = lrc.pending_metrics, lrc.last_effective
        try:
            if self.capture is None:
                return lr_find(train_step, optimizer, **options)
            with self.capture.suspend():
                return lr_find(train_step, optimizer, **options)
        finally:
            lrc.pending_metrics, lrc.last_effective = kept

    @property
    def forecasts(self) -> dict:
        """The stable forecasts of where the train and val loss end at `total_steps`, by role
        (names.TRAIN_LOSS, names.VAL_LOSS -> lossmon.diagnosis.forecast.Forecast); empty until a
        fit is stable, or when `total_steps` is not known."""
        return self.forecast.latest if self.forecast is not None else {}

    def step_boundary(self) -> None:
        """Serve pause and checkpoint requests here without logging anything: for loops that do
        not call log() every step (framework callbacks call it at each optimizer step)."""
        if self.steering.attention:
            self.steering.serve()
        elif self._recovery.snaps is not None and not self._lr.optimizers:
            self._recovery.at_step_boundary()

    # ---- snapshots and rollback (rollback.py says where they happen) ----------------------------

    def snapshot_every(self, n_steps: int, keep: int = 3, modules: Any = None, on_disk: bool = False,
                       scaler: Any = None) -> None:
        """Keep the last `keep` snapshots, one every `n_steps` optimizer steps of the first watched
        optimizer (the run's steps when none is watched), for `rollback()`. `modules`: the models
        to restore (default: the nn.Modules whose parameters the watched optimizers update, found
        by parameter identity; snapshots.py). `scaler`: an AMP GradScaler to restore too. In host
        memory, or files in the run directory with `on_disk=True`. Call it after `watch()`."""
        from lossmon.training.snapshot import Snapshots

        snaps = Snapshots(n_steps, keep, modules, on_disk, self.dir, scaler)
        snaps.on_error = lambda message: self.record(events.CAPTURE, what="snapshot", message=message)
        rec = self._recovery
        rec.snaps = snaps
        self._lr.on_step = rec.after_opt_step
        self.steering.boundary = rec.at_log

    @property
    def snapshotting(self) -> bool:
        """True once snapshot_every() was called (and snapshots were not turned off)."""
        snaps = self._recovery.snaps
        return snaps is not None and not snaps.failed

    def wait_for_snapshots(self, timeout: float | None = None) -> bool:
        """Until the snapshot being written to disk (on_disk=True) is complete in its file; True when
        none is left. The process waits for it at exit anyway; this is for a script that copies them."""
        snaps = self._recovery.snaps
        return snaps.wait_written(timeout) if snaps is not None else True

    def snapshots(self) -> list[dict]:
        """The snapshots kept, oldest first: {"step", "batch" (data position, or None), "time",
        "where" ("memory" or the file)}. Any thread."""
        snaps = self._recovery.snaps
        return snaps.infos() if snaps is not None else []

    @property
    def snapshot_cost(self) -> tuple[int, float]:
        """(snapshots taken, training-thread seconds spent taking them)."""
        snaps = self._recovery.snaps
        return (snaps.taken, snaps.seconds) if snaps is not None else (0, 0.0)

    def batches(self, iterable: Any) -> Any:
        """`for batch in run.batches(loader)`: the batches of one pass over `iterable`, counted
        across calls (call it again each epoch), so snapshots know the data position and a
        rollback can skip the batches after it. Its next() is the step boundary where snapshots
        and rollbacks are served, and its wait for the next batch is the system panel's data wait."""
        from lossmon.training.data_wait import TimedIterator

        rec = self._recovery
        rec.batches_used = True
        it = iter(iterable)
        if not isinstance(it, TimedIterator):  # (under `lossmon run` every DataLoader is timed already)
            it = TimedIterator(it, self.data_wait.add)  # the wait for data: sys/data_wait_percent
        while True:
            rec.at_batch()
            if not rec.skip_and_restore_rng(it):
                return
            try:
                batch = next(it)
            except StopIteration:
                return
            rec.data_pos += 1
            yield batch

    @property
    def optimizer_steps(self) -> int:
        """Steps of the first watched optimizer (set back by a rollback). Under torch.distributed
        `step` counts on rank 0 only (the other ranks log nothing): end loops by this there."""
        return self._lr.opt_steps

    @property
    def data_position(self) -> int:
        """Batches consumed through run.batches so far (skipped ones included)."""
        return self._recovery.data_pos

    def rollback(self, to_step: int | None = None, skip_batches: int = 200, lr_scale: float | None = None,
                 *, source: str = "api") -> None:
        """Go back to the newest snapshot at or before `to_step` (None: the newest), never replay the
        batches seen since it and skip `skip_batches` from its data position, and multiply the LR by
        `lr_scale`; a `rollback` event says what was done. A request from any thread, served by the
        training thread at the next step boundary (under DDP, on every rank at the same step).
        Bad arguments raise ValueError here; no snapshot to go to is a refused event, not an error."""
        to_step, skip, scale = check_request(to_step, skip_batches, lr_scale)
        self._recovery.ask(to_step, skip, scale, source)

    @property
    def rollback_pending(self) -> bool:
        """True from a rollback request until the training thread has served it."""
        return self._recovery.pending

    # ---- persistence --------------------------------------------------------------------------

    def state_dict(self) -> dict:
        """What a resumed run needs to continue as this one: the step and the LR multiplier.
        Save it next to the model and optimizer (optimizer checkpoints hold the scheduler's LR,
        not lossmon's multiplier). During an LR probe, the multiplier it will restore."""
        return {"version": 1, "step": self._step, "lr_scale": self._lr.settled_scale}

    def load_state_dict(self, state: dict) -> None:
        if not isinstance(state, dict):
            raise TypeError("load_state_dict() needs the dict returned by state_dict()")
        if "lr_scale" in state:
            self._lr.set_scale(state["lr_scale"])
        if "step" in state:
            self._step = _check_step(state["step"])

    # ---- the recording side ---------------------------------------------------------------------

    def record(self, event: str, **fields: Any) -> None:
        """Queue an event (lossmon.events names the kinds) for the store and the run log, at the
        current step. Any thread; deque.append is atomic."""
        if self._follower or self._nowhere == "fork":
            return
        self._pending.append({"event": event, "step": self._step, "time": time.time(), **fields})

    def record_sample(self, values: dict) -> None:
        """Queue a row of system metrics (floats) at the current step without counting a step:
        the system sampler's (lossmon/system). Any thread; deque.append is atomic."""
        if self._follower or self._nowhere is not None:
            return
        row = dict(values)
        row["step"] = self._step
        self._pending.append(row)

    def drain(self) -> list:
        """Everything queued since the last drain, rows and events, in order. The pump's only."""
        now = time.monotonic()
        self._inflight_since = self._drained_at  # first: log() must never see the drained points as written
        q = self._pending
        items = [q.popleft() for _ in range(len(q))]
        self._drained_at = now
        return items

    def mark_written(self) -> None:
        """The pump has handed the last drained batch to the run log (or could not, and keeps it)."""
        self._inflight_since = None

    @property
    def backlog(self) -> int:
        """Rows and events queued and not yet drained."""
        return len(self._pending)

    def join_distributed(self) -> None:
        """Take part in the control exchange of a torch.distributed job (every rank calls this,
        together). Ranks other than 0 become followers: their log() does nothing and their own
        control calls are ignored -- rank 0's decide for all."""
        from lossmon.training.distributed import ControlSync

        self._sync = ControlSync(self.steering, self._lr)
        self._sync.recovery = self._recovery
        self.steering.distributed = True
        self._lr.sync = self._sync
        if not self._sync.leader:
            self._follower = True
            self._lr.follower = True
            self._recovery.follower = True
            steering = self.steering

            def log(step: Any = None, **metrics: Any) -> None:  # records nothing; serves a rollback
                if steering.attention:
                    steering.serve()

            self.log = log  # type: ignore[method-assign]

    @property
    def distributed_sync(self) -> Any:
        """The control exchange under torch.distributed (lossmon.training.distributed.ControlSync),
        else None."""
        return self._sync


def _check_step(step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral):
        if hasattr(step, "item") and getattr(step, "ndim", 1) == 0:
            return _check_step(step.item())
        raise TypeError(f"step must be an int, got {type(step).__name__}")
    step = int(step)
    if not -(2**63) <= step < 2**63:  # the store and the columns hold int64 steps: refuse here, not in the pump
        raise ValueError(f"step {step} is outside the int64 range the run log stores")
    return step


def _coerce(name: str, v: Any) -> Any:
    """A logged value as a float, or a detached 0-d device tensor to be copied in a batch later.

    Raises TypeError/ValueError naming the metric for anything that is not one number.
    """
    if isinstance(v, float):
        return float(v)
    if isinstance(v, (bool, int)):
        try:
            return float(v)
        except OverflowError:
            raise ValueError(f"metric {name!r}: {v} is too large for a float") from None
    torch = sys.modules.get("torch")
    if torch is not None and isinstance(v, torch.Tensor):
        if v.is_cpu:  # the common case first: .item() alone checks the size
            try:
                x = v.item()
            except RuntimeError:
                x = None
            if isinstance(x, (float, int)):
                return float(x)
        if v.numel() != 1:
            raise ValueError(f"metric {name!r}: expected a single number, got a tensor of shape {tuple(v.shape)}")
        if v.is_complex():
            raise TypeError(f"metric {name!r}: complex values cannot be plotted")
        if v.is_meta:
            raise ValueError(f"metric {name!r}: a tensor on the meta device has no value")
        return v.detach()  # kept on the device; the pump copies a whole batch at once
    np = sys.modules.get("numpy")
    if np is not None and isinstance(v, (np.ndarray, np.generic)):
        if np.size(v) != 1:
            raise ValueError(f"metric {name!r}: expected a single number, got an array of shape {np.shape(v)}")
        item = v.item() if isinstance(v, np.ndarray) else v
        if np.iscomplexobj(item):
            raise TypeError(f"metric {name!r}: complex values cannot be plotted")
        if not isinstance(item, (np.number, np.bool_, int, float, bool)):
            raise TypeError(f"metric {name!r}: expected a number, got {type(item).__name__}")
        return float(item)
    if isinstance(v, numbers.Real) or (isinstance(v, numbers.Number) and not isinstance(v, numbers.Complex)):
        return float(v)  # Fraction, Decimal
    raise TypeError(f"metric {name!r}: expected a number or a one-element tensor, got {type(v).__name__}")
