"""Control under torch.distributed: every rank applies a change at the same optimizer step.

DDP replicas must stay identical, so a key pressed on rank 0 (LR, pause, stop, checkpoint) cannot
act there alone. At agreed optimizer steps every rank joins one small all_reduce (MAX) on a gloo
group of its own -- CPU tensors, so a NCCL job gets no extra GPU sync. Rank 0 contributes the control
state, the other ranks zeros (and their own stop request, so a signal to any rank stops them all at
the same step). The payload also carries how many steps until the next exchange: rank 0 sizes it so
the exchange costs about 1 % of the step time, and every rank follows the same schedule.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from lossmon.training.steering import PAUSE_POLL_S

if TYPE_CHECKING:  # pragma: no cover
    from lossmon.training.lr import LRControl
    from lossmon.training.steering import Steering

# payload slots
_SCALE, _STOP, _PAUSE, _CKPT, _COMMIT_SEQ, _COMMIT_FACTOR, _NEXT, _RB_SEQ, _RB_CLOCK, _RB_SKIP, _RB_SCALE = range(11)
_SLOTS = 11
MAX_INTERVAL = 64  # steps between exchanges at most (also capped to ~0.5 s of training)
TARGET_COST = 0.01  # fraction of the step time the exchange may take


def world() -> tuple[int, int] | None:
    """(rank, world size) when torch.distributed runs with more than one process, else None."""
    import sys

    torch = sys.modules.get("torch")
    if torch is None:
        return None
    dist = torch.distributed
    if not (dist.is_available() and dist.is_initialized()):
        return None
    size = dist.get_world_size()
    return (dist.get_rank(), size) if size > 1 else None


class ControlSync:
    """The per-rank end of the control exchange; its hooks run inside optimizer 0's step. It
    serves the run's steering requests and LR requests, as `Run.log()` does in one process."""

    def __init__(self, steering: "Steering", lr: "LRControl") -> None:
        import torch
        import torch.distributed as dist

        self.steering = steering
        self.lr = lr
        self.rank = dist.get_rank()
        self.leader = self.rank == 0
        self._dist = dist
        self._group = dist.new_group(backend="gloo")  # collective: every rank creates it together
        self._buf = torch.zeros(_SLOTS, dtype=torch.float64)
        self.recovery: Any = None  # lossmon.training.rollback.Recovery: rollbacks agreed here (run.py sets it)
        self._rb_last = (0, 0, 0, 0.0)  # leader: the last rollback handed out (seq, clock, skip, lr_scale)
        self._rb_seen = 0
        self._countdown = 1  # exchange at the very first step
        self.interval = 1
        self.exchanges = 0
        self._ckpt_issued = 0  # leader: checkpoint requests handed out so far
        self._ckpt_done = 0
        self._ckpt_due = 0
        self._ckpt_source = "sync"
        self._commit_seen = 0
        self._pause_due = False
        self._last_step_t: float | None = None
        self._step_s = 0.0  # EMA of the wall time between optimizer steps
        self.exchange_s = 0.0  # EMA of the exchange's own time

    # ---- the exchange ---------------------------------------------------------------------------

    def _payload(self) -> None:
        steering, b = self.steering, self._buf
        b.zero_()
        b[_STOP] = float(steering.stop_requested)
        if not self.leader:
            return
        sources = steering.take_checkpoint_requests()
        if sources and self._ckpt_issued == self._ckpt_done:
            self._ckpt_source = sources[0]  # the first request of those the next checkpoint serves
        self._ckpt_issued += len(sources)
        lr = self.lr
        b[_SCALE] = lr.scale
        b[_PAUSE] = float(steering.pause_requested)
        b[_CKPT] = self._ckpt_issued
        b[_COMMIT_SEQ] = lr.commit_seq
        b[_COMMIT_FACTOR] = lr.commit_factor
        b[_NEXT] = self._next_interval()
        rec = self.recovery
        if rec is not None and rec.request is not None:
            job = rec.take_for_exchange()
            if job is not None:
                self._rb_last = job
        b[_RB_SEQ], b[_RB_CLOCK], b[_RB_SKIP], b[_RB_SCALE] = self._rb_last

    def _next_interval(self) -> int:
        if self._step_s <= 0 or self.exchange_s <= 0:
            return 1
        k = math.ceil(self.exchange_s / (TARGET_COST * self._step_s))
        k = min(k, MAX_INTERVAL, max(1, int(0.5 / self._step_s)))
        left = self.lr.probe_steps_left()
        if left:  # the next exchange lands on the step where the probe ends: every rank restores there
            k = min(k, left)
        return max(1, k)

    def _exchange(self) -> list[float]:
        self._payload()
        t0 = time.perf_counter()
        self._dist.all_reduce(self._buf, op=self._dist.ReduceOp.MAX, group=self._group)
        took = time.perf_counter() - t0
        self.exchange_s = took if self.exchange_s == 0 else 0.8 * self.exchange_s + 0.2 * took
        self.exchanges += 1
        return self._buf.tolist()

    def _apply(self, v: list[float]) -> None:
        if not self.leader:
            if v[_COMMIT_SEQ] > self._commit_seen:
                self.lr.bake(v[_COMMIT_FACTOR])
            self.lr.scale = v[_SCALE]
        self._commit_seen = int(v[_COMMIT_SEQ])
        if v[_STOP]:
            self.steering.agree_stop()
        self._pause_due = bool(v[_PAUSE])
        if v[_CKPT] > self._ckpt_done:
            self._ckpt_due = int(v[_CKPT])
        if v[_RB_SEQ] > self._rb_seen and self.recovery is not None:
            self._rb_seen = int(v[_RB_SEQ])
            self.recovery.agree(int(v[_RB_CLOCK]), int(v[_RB_SKIP]), v[_RB_SCALE])

    # ---- hooks (optimizer 0, every rank, the same step) -----------------------------------------

    def pre_step(self) -> None:
        now = time.perf_counter()
        if self._last_step_t is not None:
            dt = now - self._last_step_t
            self._step_s = dt if self._step_s == 0 else 0.9 * self._step_s + 0.1 * dt
        self._last_step_t = now
        self._countdown -= 1
        if self._countdown > 0:
            return
        if self.leader:
            self.lr.end_probe_if_due()
            if self.lr.pending:
                self.lr.apply_requests()  # resolved now, so every rank applies it at this very step
        v = self._exchange()
        self._apply(v)
        self.interval = self._countdown = max(1, int(v[_NEXT]))

    def post_step(self) -> None:
        """Checkpoints and pauses agreed at this step's exchange, after the update (all ranks)."""
        self._checkpoint_if_due()
        if self._pause_due and not self.steering.stopped:
            self.steering.hold(self._paused_poll, lambda: self._pause_due)
            self._last_step_t = None  # the pause is not a slow step

    def _paused_poll(self) -> None:
        """One look while paused: every rank exchanges in lockstep (rank 0 wakes early on a resume)."""
        if self.leader:
            self.steering.wait_for_resume(PAUSE_POLL_S)
        else:
            time.sleep(PAUSE_POLL_S)
        self._apply(self._exchange())
        self._checkpoint_if_due()

    def _checkpoint_if_due(self) -> None:
        if self._ckpt_due > self._ckpt_done:  # one checkpoint for every request since the last
            n, self._ckpt_done = self._ckpt_due - self._ckpt_done, self._ckpt_due
            self.steering.run_checkpoint(self._ckpt_source, requests=n)


def follower_log(step: Any = None, **metrics: Any) -> None:
    """log() on ranks other than 0: only rank 0 records, so this does nothing, fast."""
