"""Rollback: put a run back to a snapshot and go on past the batches that followed it.

Where it happens. A restore must not land inside a step (half an accumulation, an optimizer step
whose scheduler step is still to come), so it is served at a step boundary, by the training
thread, the first one after an optimizer step of the first watched optimizer:

* with `for batch in run.batches(loader)`: the next `next()` -- the loop body before it is
  finished, whatever it does after `optimizer.step()` (scheduler, log, zero_grad). Under gradient
  accumulation that is the first batch of the next accumulation; snapshots are taken at the same
  point, so a restore resumes exactly where the snapshot left off.
* without it (plain loops, `lossmon run` capture): the first `log()` (or `step_boundary()`, or the
  capture's own log at the optimizer step) after an optimizer step. Snapshots are taken at the same
  point of the loop, so model, optimizer, scheduler, RNG and step come back exactly; but lossmon
  cannot see or skip the data: the loop goes on with its next batch (`skipped` is 0).

Data. Batches consumed through run.batches are counted across calls (one pass per call, like a
for loop: call it again each epoch). A rollback to a snapshot taken at data position P with
`skip_batches=k` never replays the batches seen since P: data resumes at P+k, skipping forward in
the live iterator (across epochs: the rest is skipped at the start of the next call). When P+k is
already behind the live position L, data resumes at L and `skipped` is L-P. The RNGs are restored
after the skip, so skipping does not change what the restored steps draw.

Under torch.distributed rank 0 resolves the request and hands the snapshot (by its optimizer-step
clock, the same on every rank) through the control exchange; every rank restores at the boundary
after that same optimizer step, each from its own snapshot and its own data position.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any

from lossmon import events
from lossmon.training.snapshot import Snapshots, SnapshotsOff, set_rng_state

if TYPE_CHECKING:  # pragma: no cover
    from lossmon.training.lr import LRControl
    from lossmon.training.run import Run

MAX_SKIP = 10**12


def check_request(to_step: Any, skip_batches: Any, lr_scale: Any) -> tuple[int | None, int, float | None]:
    """The arguments of Run.rollback checked, or ValueError with a one-line message."""
    if to_step is not None:
        if isinstance(to_step, bool) or not isinstance(to_step, numbers.Integral):
            raise ValueError(f"rollback(): to_step must be a whole number or None, got {to_step!r}")
        to_step = int(to_step)
        if to_step < 0:
            raise ValueError(f"rollback(): to_step is a step of the run (>= 0), got {to_step}")
    if isinstance(skip_batches, bool) or not isinstance(skip_batches, numbers.Integral) \
            or not 0 <= skip_batches <= MAX_SKIP:
        raise ValueError(f"rollback(): skip_batches must be a whole number >= 0, got {skip_batches!r}")
    if lr_scale is not None:
        if isinstance(lr_scale, bool) or not isinstance(lr_scale, numbers.Real) \
                or not math.isfinite(lr_scale) or lr_scale <= 0:
            raise ValueError(f"rollback(): lr_scale must be a finite number > 0 or None, got {lr_scale!r}")
        lr_scale = float(lr_scale)
    return to_step, int(skip_batches), lr_scale


class Recovery:
    """Snapshots, the data position and rollback requests of one run."""

    def __init__(self, run: "Run", lr: "LRControl") -> None:
        self.run = run
        self.lr = lr
        self.follower = False  # a rank other than 0 under DDP: asks nothing itself
        self.snaps: Snapshots | None = None
        self.request: tuple | None = None  # (to_step, skip, lr_scale, source), from any thread
        self.agreed: tuple | None = None  # under DDP: (clock, skip, lr_scale, source), every rank
        self.snap_due = False
        self.batches_used = False
        self.data_pos = 0  # batches consumed through run.batches, across calls
        self.skip_left = 0  # batches still to skip (a skip may cross into the next epoch)
        self.rng_after_skip: dict | None = None
        self._seen_steps: int | None = None  # opt_steps at the last batch boundary
        self.rb_seq = 0  # DDP: rollbacks handed out (leader) / seen (every rank)
        self._rb_source = "api"
        self.rollbacks = 0
        self.last: dict | None = None  # the last rollback applied here (every rank): its event's fields and clock

    # ---- any thread -----------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return self.request is not None or self.agreed is not None

    def ask(self, to_step: int | None, skip: int, scale: float | None, source: str) -> None:
        run = self.run
        if self.follower:
            return  # rank 0 decides for all
        if self.snaps is None:
            run.record(events.ROLLBACK, source=source, applied=False, **{"from": run.step},
                       reason="no snapshots are taken: call run.snapshot_every(n) (or lossmon run --snapshot-every N)")
            return
        self.request = (to_step, skip, scale, source)
        if not self.lr.optimizers:
            run.steering.attention = True  # no optimizer step to wait for: the next log() serves it

    # ---- training thread ------------------------------------------------------------------------

    def clock(self) -> int:
        lr = self.lr
        return lr.opt_steps if lr.optimizers else self.run.step

    def after_opt_step(self) -> None:
        """The first optimizer's post-hook: the next boundary is the one to serve at."""
        snaps = self.snaps
        if snaps is not None and snaps.due(self.lr.opt_steps):
            self.snap_due = True
        if self.snap_due or self.request is not None or self.agreed is not None:
            self.run.steering.attention = True

    def at_log(self) -> None:
        """A log() (or the capture's step) after an optimizer step; run.batches serves instead when used."""
        if not self.batches_used:
            self._serve()

    def at_step_boundary(self) -> None:
        if not self.batches_used:
            if self.snaps is not None and not self.lr.optimizers and self.snaps.due(self.clock()):
                self.snap_due = True
            self._serve()

    def at_batch(self) -> None:
        """The top of run.batches' next(): a boundary when an optimizer step came since the last one."""
        lr = self.lr
        steps = lr.opt_steps
        clean = self._seen_steps is None or steps != self._seen_steps or not lr.optimizers
        self._seen_steps = steps
        if not clean:
            return
        if self.snaps is not None and self.snaps.due(self.clock()):
            self.snap_due = True
        self._serve()

    def _serve(self) -> None:
        run = self.run
        job = self.agreed if run.distributed_sync is not None else self.request
        if job is not None:
            if run.distributed_sync is not None:
                self.agreed = None
            else:
                self.request = None
            self._rollback(job)
            return
        if self.snap_due and self.snaps is not None:
            self.snap_due = False
            self._snapshot()

    def _snapshot(self) -> None:
        run, snaps = self.run, self.snaps
        lr = self.lr
        if snaps.modules is None and not lr.optimizers:
            return  # nothing watched yet to find the modules by: the next boundary tries again
        try:
            snaps.take(run.step, self.clock(), self.data_pos if self.batches_used else None,
                       lr.optimizers, lr.schedulers, run.state_dict())
        except SnapshotsOff:  # a write failed on the writer thread, which said so: snapshots stop
            self.snaps = None
        except ValueError as e:  # no module found: said once, and snapshots stop
            self.snaps = None
            run.record(events.CAPTURE, what="snapshot", message=f"snapshots turned off: {e}")
        except Exception as e:  # noqa: BLE001 - out of memory, a full disk: never fatal to training
            self.snaps = None
            run.record(events.CAPTURE, what="snapshot",
                       message=f"snapshots turned off: taking one failed: {type(e).__name__}: {e}")

    # ---- DDP ------------------------------------------------------------------------------------

    def take_for_exchange(self) -> tuple[int, int, int, float] | None:
        """Leader: a new request as (seq, clock, skip, lr_scale or 0) for the payload, or None."""
        job, self.request = self.request, None
        if job is None or self.snaps is None:
            return None
        to_step, skip, scale, source = job
        snap = self.snaps.pick(to_step)
        if snap is None:
            self._refuse(source, to_step)
            return None
        self.rb_seq += 1
        self._rb_source = source
        return self.rb_seq, snap.clock, skip, scale or 0.0

    def agree(self, clock: int, skip: int, scale: float) -> None:
        """Every rank, at the exchange: a rollback to the snapshot at `clock`, served at the next boundary."""
        self.agreed = (clock, skip, scale if scale > 0 else None, self._rb_source)

    # ---- the rollback ---------------------------------------------------------------------------

    def _refuse(self, source: str, to_step: int | None, reason: str | None = None) -> None:
        snaps = self.snaps
        if reason is None:
            have = snaps.steps() if snaps is not None else []
            reason = ("no snapshot taken yet" if not have else
                      f"no snapshot at or before step {to_step} (the oldest kept is step {have[0]})")
        extra = {"to": to_step} if to_step is not None else {}
        self.run.record(events.ROLLBACK, source=source, applied=False, **{"from": self.run.step}, **extra,
                        reason=reason)

    def _rollback(self, job: tuple) -> None:
        run, snaps, lr = self.run, self.snaps, self.lr
        if snaps is None:
            return
        distributed = run.distributed_sync is not None
        if distributed:
            clock, skip, scale, source = job
            snap, to_step = snaps.by_clock(clock), None
        else:
            to_step, skip, scale, source = job
            snap = snaps.pick(to_step)
        if snap is None:
            self._refuse(source, to_step, None if not distributed else f"no snapshot at optimizer step {clock} here")
            return
        try:
            state = snaps.load(snap)
            snaps.restore(state, lr.optimizers, lr.schedulers)
        except Exception as e:  # noqa: BLE001 - never raise in the training thread
            self._refuse(source, snap.step, f"restoring the snapshot of step {snap.step} failed: {type(e).__name__}: {e}")
            return
        frm = run.step
        lr.drop_probe()
        lr.set_scale(state["run"]["lr_scale"])
        lr.pending_metrics = None  # the abandoned step's LR is not the next row's
        lr.opt_steps = snap.clock
        self._seen_steps = snap.clock
        run.load_state_dict({"step": state["run"]["step"]})
        skipped, batch = 0, None
        if self.batches_used and snap.batch is not None:
            live = self.data_pos + self.skip_left  # a skip still under way counts as consumed
            resume = max(snap.batch + skip, live)
            self.skip_left = resume - self.data_pos
            skipped, batch = resume - snap.batch, resume
            self.rng_after_skip = state["rng"]  # after the skip: skipping must not move the RNGs
        else:
            set_rng_state(state["rng"])
        snaps.drop_after(snap)
        snaps.last_clock = snap.clock
        self.snap_due = False
        self.rollbacks += 1
        extra = {"scale": scale} if scale is not None else {}
        self.last = {"from": frm, "to": snap.step, "clock": snap.clock, "skipped": skipped, "batch": batch, **extra}
        run.record(events.ROLLBACK, source=source, applied=True, **{"from": frm, "to": snap.step},
                   skipped=skipped, batch=batch, **extra)
        if scale is not None:
            lr.scale_now(scale, source)

    def skip_and_restore_rng(self, it: Any) -> bool:
        """In run.batches: skip what a rollback asked to skip; False when the iterator ended first."""
        while self.skip_left > 0:
            try:
                next(it)
            except StopIteration:
                return False
            self.skip_left -= 1
            self.data_pos += 1
        if self.rng_after_skip is not None:
            state, self.rng_after_skip = self.rng_after_skip, None
            set_rng_state(state)
        return True
