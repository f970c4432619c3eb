"""A test double for the Run side of the rollback contract (issue 22: Run.snapshotting,
snapshots(), rollback_pending, rollback()), so the views, the socket and `lossmon ctl` are tested
against the contract alone; the real Run's side has its own tests."""

from __future__ import annotations

import time

from lossmon.training.run import Run


class SnapshotRun(Run):
    """A Run whose snapshots are a given list and whose rollbacks are only recorded."""

    def __init__(self, steps=(), name: str = "snap", now: float | None = None) -> None:
        super().__init__(name)
        now = time.time() if now is None else now
        self._snaps = [{"step": s, "batch": s, "time": now - 10.0 * (len(steps) - i), "where": "memory"}
                       for i, s in enumerate(steps)]
        self.on = bool(steps)  # snapshotting: as Run, True once snapshot_every() was called
        self.requests: list[tuple] = []

    @property
    def snapshotting(self) -> bool:
        return self.on

    @property
    def rollback_pending(self) -> bool:
        return bool(self.requests)

    def snapshots(self) -> list[dict]:
        return [dict(s) for s in self._snaps]

    def rollback(self, to_step=None, skip_batches=200, lr_scale=None, *, source="api") -> None:
        if to_step is not None and (isinstance(to_step, bool) or not isinstance(to_step, int) or to_step < 0):
            raise ValueError(f"to_step must be a step >= 0, got {to_step!r}")
        if isinstance(skip_batches, bool) or not isinstance(skip_batches, int) or skip_batches < 0:
            raise ValueError(f"skip_batches must be a whole number >= 0, got {skip_batches!r}")
        if lr_scale is not None and not (isinstance(lr_scale, (int, float)) and 0 < lr_scale < float("inf")):
            raise ValueError(f"lr_scale must be a finite number > 0, got {lr_scale!r}")
        if to_step is not None and not any(s["step"] <= to_step for s in self._snaps):
            raise ValueError(f"no snapshot at or before step {to_step}")
        self.requests.append((to_step, skip_batches, lr_scale, source))
