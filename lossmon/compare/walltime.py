"""Seconds since a run's start at each step, for the wall-time x axis of a comparison.

The metric columns hold (step, value) only; the wall time of each step is in run.jsonl, whose
metric lines lossmon writes as `{"step":N,"time":T,...` (rundir/runlog.py). A JSONL log from another
tool may hold "time" anywhere in the line. The log is read incrementally, only once the wall-time
axis is asked for, and only the first time seen per step is kept.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

_LINE = re.compile(rb'^\{"step":\s*(\d+),\s*"time":\s*([0-9.eE+-]+)', re.M)  # lossmon's own lines
_STEP = re.compile(rb'"step":\s*(\d+)')
_TIME = re.compile(rb'"(?:time|timestamp|wall_time)":\s*([0-9.eE+-]+)')
CHUNK = 8 << 20


class StepClock:
    """step -> seconds since the first record, read from a JSONL run log as it grows."""

    def __init__(self, log: Path | None) -> None:
        self.log = log
        self.offset = 0
        self._partial = b""
        self.steps = np.zeros(0, np.int64)
        self.times = np.zeros(0, np.float64)
        self.t0: float | None = None

    @property
    def known(self) -> bool:
        return len(self.steps) > 0

    def poll(self) -> None:
        if self.log is None:
            return
        try:
            with open(self.log, "rb") as f:
                f.seek(self.offset)
                data = f.read(CHUNK)
        except OSError:
            return
        self.offset += len(data)
        data = self._partial + data
        complete, sep, self._partial = data.rpartition(b"\n")
        if not sep:
            self._partial = data
            return
        pairs = [(int(s), float(t)) for s, t in _LINE.findall(complete)]
        if not pairs:  # another tool's JSONL: "time" may be anywhere in the line
            for line in complete.split(b"\n"):
                s, t = _STEP.search(line), _TIME.search(line)
                if s and t:
                    pairs.append((int(s.group(1)), float(t.group(1))))
        if not pairs:
            return
        st = np.array([p[0] for p in pairs], np.int64)
        tm = np.array([p[1] for p in pairs], np.float64)
        ok = np.isfinite(tm)
        st, tm = st[ok], tm[ok]
        if not len(st):
            return
        if self.t0 is None:
            self.t0 = float(tm[0])
        if len(self.steps):  # only steps past the last one known: a step's first record is its time
            keep = st > self.steps[-1]
            st, tm = st[keep], tm[keep]
        if len(st):
            st, first = np.unique(st, return_index=True)
            self.steps = np.concatenate([self.steps, st])
            self.times = np.concatenate([self.times, tm[first] - self.t0])

    def seconds(self, steps: np.ndarray) -> np.ndarray:
        """Seconds since the start at these steps (interpolated between logged ones)."""
        if not self.known:
            return np.full(len(steps), np.nan)
        return np.interp(steps.astype(np.float64), self.steps.astype(np.float64), self.times)
