"""Pause, stop and checkpoint requests: the one owner of what the training thread is asked to do.

Requests come from any thread -- a view's keys, the control socket, a signal, a diagnosis action,
the script itself -- and are served by the training thread at a step boundary: `Run.log()` (or
`step_boundary()`) in one process; under torch.distributed, the control exchange in the optimizer
step (distributed.py), so that every rank acts at the same step. Both use the same pause loop
(`hold`) and the same checkpoint call, so a pause means the same thing everywhere.

Nothing on the hot path takes a lock: `attention` is the one flag `log()` reads per call.
"""

from __future__ import annotations

import threading
from collections import deque
from typing import Any, Callable

from lossmon import events

PAUSE_POLL_S = 0.1  # a paused trainer re-checks stop this often

Emit = Callable[..., None]


class StopTraining(KeyboardInterrupt):
    """Raised in a script run under `lossmon run` at its next optimizer step after a stop was asked
    for, when the script never asks `lossmon.should_stop()` itself. A KeyboardInterrupt, because
    that is what training scripts already catch to save and finish (the run then ends `stopped`)."""


class Steering:
    """The pause/stop/checkpoint state of one run. `emit(kind, **fields)` records an event."""

    def __init__(self, emit: Emit) -> None:
        self._emit = emit
        self.stop_requested = False  # asked for, on this rank
        self.stopped = False  # what should_stop reports (under DDP: only once every rank agrees)
        self.pause_requested = False
        self.pause_source = "api"
        self.resume_source = "api"
        self.paused = False  # the training thread is blocked in a pause right now
        self.attention = False  # a request log() must serve at the next step boundary
        self.distributed = False  # requests are served by the DDP exchange, not by log()
        self.checkpoint_fn: Callable[[], Any] | None = None
        self.boundary: Callable[[], None] | None = None  # snapshots and rollbacks (rollback.py), after the rest
        self._checkpoints: deque[str] = deque()  # sources of the checkpoints asked for
        self._resume = threading.Event()

    # ---- requests (any thread) ------------------------------------------------------------------

    def request_stop(self, source: str) -> None:
        """Ask training to finish; a pause is released. Under DDP the exchange makes it `stopped`
        on every rank at the same step (`agree_stop`)."""
        if self.stop_requested:
            return
        self.stop_requested = True
        self._emit(events.STOP, source=source)
        if not self.distributed:
            self.agree_stop()

    def request_pause(self, source: str) -> None:
        if self.pause_requested:
            return
        self._resume.clear()
        self.pause_requested = True
        self.pause_source = source
        self.attention = not self.distributed

    def request_resume(self, source: str) -> None:
        self.resume_source = source
        self.pause_requested = False
        self._resume.set()

    def request_checkpoint(self, source: str) -> None:
        if self.checkpoint_fn is None:
            self._emit(events.CHECKPOINT, source=source, ok=False,
                       error="no checkpoint function registered: call run.on_checkpoint(fn)")
            return
        self._checkpoints.append(source)
        self.attention = not self.distributed

    @property
    def has_checkpoint(self) -> bool:
        """A checkpoint function is registered (run.on_checkpoint)."""
        return self.checkpoint_fn is not None

    @property
    def checkpoints_pending(self) -> bool:
        return bool(self._checkpoints)

    def take_checkpoint_requests(self) -> list[str]:
        """The sources of the checkpoints asked for since the last call (the DDP leader hands
        them to every rank through the exchange)."""
        q = self._checkpoints
        return [q.popleft() for _ in range(len(q))]

    # ---- serving (training thread, at a step boundary) ------------------------------------------

    def agree_stop(self) -> None:
        """Stop now on this rank: `should_stop` turns True and a pause is released."""
        self.stopped = True
        self._resume.set()

    def serve(self) -> None:
        """One process: run the checkpoints asked for, then hold while a pause is requested; then
        a snapshot or rollback due at this boundary."""
        self.attention = False
        if not self.distributed:  # under DDP the exchange serves these; only the boundary is left here
            self.run_checkpoints()
            if self.pause_requested and not self.stopped:
                self.hold(self._wait_for_resume, lambda: self.pause_requested)
        if self.boundary is not None:
            self.boundary()

    def _wait_for_resume(self) -> None:
        self._resume.wait(PAUSE_POLL_S)
        self.run_checkpoints()  # a checkpoint may be taken while paused

    def wait_for_resume(self, timeout: float) -> None:
        """Sleep until a resume or stop, at most `timeout` seconds."""
        self._resume.wait(timeout)

    def hold(self, wait: Callable[[], None], keep_paused: Callable[[], bool]) -> None:
        """The pause: `pause` event, then `wait()` until a stop or until `keep_paused()` is False,
        then `resume` (its source "stop" when a stop ended it)."""
        self.paused = True
        self._emit(events.PAUSE, source=self.pause_source)
        try:
            while not self.stopped and keep_paused():
                wait()
        finally:
            self.paused = False
        self._emit(events.RESUME, source="stop" if self.stopped else self.resume_source)

    def run_checkpoints(self) -> None:
        """Every request pending now is served by one checkpoint: fifty requests between two
        steps must not hold training for fifty saves of the same weights."""
        sources = self.take_checkpoint_requests()
        if sources:
            self.run_checkpoint(sources[0], requests=len(sources))

    def run_checkpoint(self, source: str, requests: int = 1) -> None:
        """Call the checkpoint function once for `requests` requests (the first from `source`)
        and record how it went; a failure is an event, never fatal to training."""
        if self.checkpoint_fn is None:
            return
        try:
            result = self.checkpoint_fn()
        except Exception as e:  # noqa: BLE001
            self._emit(events.CHECKPOINT, source=source, ok=False, error=f"{type(e).__name__}: {e}",
                       requests=requests)
        else:
            self._emit(events.CHECKPOINT, source=source, ok=True, requests=requests,
                       **({"result": str(result)} if result is not None else {}))
