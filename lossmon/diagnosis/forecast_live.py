"""The forecast in a live run: train and val loss extrapolated to `total_steps`, refitted every few
seconds off the training thread.

A pump subscriber (or a watcher's reader) hands each tick's points here; they go into a
BlockHistory per series (block means, O(1) memory, O(new points) per tick), and at most every
`interval` seconds each series' Forecaster is updated from those means (at most a few hundred:
a fit costs a few ms, see benchmarks/bench_forecast.py). An LR change by hand starts each series
over: the curve after it is another curve (an LR probe's short x2 window does not). `latest` is replaced whole,
so a view reads it from any thread without a lock.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from lossmon import names
from lossmon.diagnosis.blocks import BlockHistory
from lossmon.diagnosis.forecast import Forecast, Forecaster
from lossmon.events import LR_CHANGE
from lossmon.recording.branches import fork_at, rollback_target

ROLES = (names.TRAIN_LOSS, names.VAL_LOSS)
BLOCKS = 512
# A stable forecast is shown only while its interval is within +-SHOWN of its value: "1.6 ± 0.7"
# (seen on an overfitting val curve, which no saturating family fits) tells a person nothing.
SHOWN = 0.25


class _Track:
    def __init__(self, name: str) -> None:
        self.name = name
        self.blocks = BlockHistory(BLOCKS)
        self.forecaster = Forecaster()
        self.first_step: int | None = None  # of the stretch since the last reset
        self.last_step: int | None = None  # the latest point seen
        self.changed = False

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        ok = np.isfinite(values)
        steps, values = steps[ok], values[ok]
        if len(values):
            if self.first_step is None:
                self.first_step = int(steps[0])
            self.last_step = int(steps[-1])
            self.blocks.extend(steps, values)
            self.changed = True

    def reset(self, step: int) -> None:
        self.blocks.clear()
        self.forecaster.reset(step)
        self.first_step = self.last_step = None
        self.changed = False

    def means(self) -> tuple[np.ndarray, np.ndarray]:
        """Block means at each block's middle step (its last step would bias the fit by half a block)."""
        k = self.blocks.count
        last = self.blocks.last[:k].astype(np.float64)
        prev = np.concatenate(([float(self.first_step) - 1.0], last[:-1])) if k else last
        return (prev + last + 1.0) / 2.0, self.blocks.means()


class LiveForecast:
    """Forecasts by role (names.TRAIN_LOSS, names.VAL_LOSS) for one live run."""

    def __init__(self, total_steps: Callable[[], int | None], interval: float = 3.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.total_steps = total_steps
        self.interval = interval
        self.clock = clock
        self.latest: dict[str, Forecast] = {}
        self.failed: str | None = None
        self._tracks: dict[str, _Track] = {}  # role -> the first series seen with it
        self._forks: dict[str, int] = {}  # role -> the target of a rollback its points have yet to show
        self._last = -float("inf")

    def __call__(self, points: dict, events: list) -> None:
        """The pump's subscriber signature. Never raises: the run goes on without a forecast."""
        if self.failed:
            return
        try:
            with np.errstate(all="ignore"):
                self._feed(points, events)
        except Exception as e:  # noqa: BLE001 - the monitor must never take the run down
            self.failed = f"{type(e).__name__}: {e}"
            self.latest = {}

    def _feed(self, points: dict, events: list) -> None:
        cuts = [ev["step"] for ev in events if ev.get("event") == LR_CHANGE and ev.get("applied", True)
                and not ev.get("probe") and isinstance(ev.get("step"), int)]  # a probe's x2 window is no new curve
        cut = max(cuts) if cuts else None
        after: list[tuple[_Track, np.ndarray, np.ndarray]] = []
        for ev in events:
            to = rollback_target(ev)
            if to is not None:
                self._forks = {role: to for role in self._tracks}
        for name, (steps, values) in points.items():
            track = self._track(name)
            if track is None:
                continue
            st = np.asarray(steps, dtype=np.int64)
            va = np.asarray(values, dtype=np.float64)
            role = names.role(name)
            if role in self._forks:  # a rollback: the new branch is a new curve, from its target on
                k = fork_at(st, self._forks[role], track.last_step)
                if k is not None:
                    track.extend(st[:k], va[:k])
                    track.reset(self._forks.pop(role) + 1)
                    self.latest.pop(role, None)
                    st, va = st[k:], va[k:]
            if cut is not None:  # the points up to the change end the old curve; the rest start the new one
                keep = st > cut
                after.append((track, st[keep], va[keep]))
                st, va = st[~keep], va[~keep]
            track.extend(st, va)
        if cut is not None:
            for track in self._tracks.values():
                track.reset(cut + 1)
            self.latest = {}
            for track, st, va in after:
                track.extend(st, va)
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self.refit()

    def _track(self, name: str) -> _Track | None:
        """The series' track when it is the first train or val loss seen, else None."""
        role = names.role(name)
        if role not in ROLES:
            return None
        track = self._tracks.get(role)
        if track is None:
            track = self._tracks[role] = _Track(name)
        return track if track.name == name else None

    def refit(self) -> None:
        """Update every series' forecast now (the subscriber calls this every `interval`)."""
        target = self.total_steps()
        if not isinstance(target, int) or target <= 0:  # unknown: nothing to forecast to
            self.latest = {}
            return
        latest = dict(self.latest)
        for role, track in self._tracks.items():
            if not track.changed:
                continue
            track.changed = False
            steps, values = track.means()
            fc = track.forecaster.update(steps, values, target) if len(values) else None
            if fc is None or fc.half_width > SHOWN * abs(fc.value) or (track.last_step or 0) >= target:
                latest.pop(role, None)
            else:
                latest[role] = fc
        self.latest = latest
