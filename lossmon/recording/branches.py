"""Where a rollback shows in a series, from its steps alone.

After `run.rollback()` the run log keeps every point: those logged before it with steps above the
snapshot's step `to` are the abandoned stretch, and the points logged after it start again from
`to`+1. Points and events reach readers in separate lists (a pump batch, a columns file beside
the event lines), so which points came after the event is told by the steps: the new branch
begins at the first point above `to` that is at or below the point before it (the steps went
back), or -- where the series had nothing above `to` yet, or the abandoned points were dropped
already (`lossmon check` reads the live branch) -- at the first point that crosses `to`.
"""

from __future__ import annotations

import numpy as np

from lossmon import events

_LOW = np.iinfo(np.int64).min


def rollback_target(ev: dict) -> int | None:
    """The snapshot step an applied rollback event went back to; None for anything else."""
    if ev.get("event") != events.ROLLBACK or not ev.get("applied", True):
        return None
    to = ev.get("to", ev.get("step"))
    return int(to) if isinstance(to, int) and not isinstance(to, bool) else None


def fork_at(steps: np.ndarray, to: int, prev: int | None = None, *, cross: bool = True) -> int | None:
    """Index of the first point of the new branch in `steps` (after `prev`, the series' last step
    before them), or None when no point here starts it. The steps going back above `to` is the
    sure sign; with `cross`, failing that, the first point that crosses `to` upwards."""
    if not len(steps):
        return None
    steps = np.asarray(steps, dtype=np.int64)
    before = np.empty(len(steps), dtype=np.int64)
    before[0] = _LOW if prev is None else prev
    before[1:] = steps[:-1]
    above = steps > to
    idx = np.flatnonzero(above & (before > to) & (steps <= before))
    if not len(idx) and cross:
        idx = np.flatnonzero(above & (before <= to))
    return int(idx[0]) if len(idx) else None


def live_branch(steps: np.ndarray, values: np.ndarray, targets: list[int]
                ) -> tuple[np.ndarray, np.ndarray, list[tuple[int, np.ndarray, np.ndarray]]]:
    """A series read whole in log order, with the rollbacks' targets in event order: (steps,
    values) of the live branch, and the abandoned stretches as (to, steps, values)."""
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    keep = np.ones(len(steps), dtype=bool)
    start, prev = 0, None  # the search goes on after the last fork's first point
    abandoned = []
    for to in targets:
        k = fork_at(steps[start:], to, prev, cross=False)
        if k is None:
            continue
        k += start
        drop = keep[:k] & (steps[:k] > to)
        if drop.any():
            abandoned.append((to, steps[:k][drop], values[:k][drop]))
            keep[:k] &= ~drop
        start, prev = k + 1, int(steps[k])
    if not abandoned:
        return steps, values, []
    return steps[keep], values[keep], abandoned
