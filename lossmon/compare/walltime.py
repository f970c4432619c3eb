"""Seconds since a run's start at each step, for the wall-time x axis of a comparison.

The metric columns hold (step, value) only; the wall time of each step is in run.jsonl, whose
metric lines lossmon writes as `{"step":N,"time":T,...` (rundir/runlog.py); a JSONL log from another
tool may hold "time" anywhere in the line. The log is read only once the wall-time axis is asked
for, then as it grows. A long stretch of new bytes (a finished run opened, 1M lines) is sampled --
SAMPLES lines spread evenly over it, each found by a seek -- rather than parsed whole: a plot a few
hundred columns wide needs no more, and opening a 60 MB log then costs milliseconds, not seconds
on the UI's thread. Between known steps the time is interpolated.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np

_STEP = re.compile(rb'"step":\s*(\d{1,18})\b')
_TIME = re.compile(rb'"(?:time|timestamp|wall_time)":\s*(-?[0-9]+(?:\.[0-9]*)?(?:[eE][+-]?[0-9]+)?)')
SAMPLE_ABOVE = 1 << 20  # new bytes past this are sampled, not read whole
SAMPLES = 4096
_MAX_LINE = 1 << 16  # a sampled line longer than this is skipped


def _pair(line: bytes) -> tuple[int, float] | None:
    s, t = _STEP.search(line), _TIME.search(line)
    if not (s and t) or line.startswith(b'{"event"'):
        return None
    try:
        v = float(t.group(1))
    except ValueError:
        return None
    return (int(s.group(1)), v) if np.isfinite(v) else None


class StepClock:
    """step -> seconds since the first record, read from a JSONL run log as it grows."""

    def __init__(self, log: Path | None) -> None:
        self.log = log
        self.offset = 0  # where the next unread line starts
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
                size = os.fstat(f.fileno()).st_size
                if size < self.offset:  # truncated or replaced: start over
                    self.__init__(self.log)
                if size - self.offset > SAMPLE_ABOVE:
                    pairs, self.offset = _sampled(f, self.offset, size)
                else:
                    f.seek(self.offset)
                    data = f.read(size - self.offset)
                    complete, sep, _ = data.rpartition(b"\n")
                    if not sep:
                        return
                    self.offset += len(complete) + 1
                    pairs = [p for p in map(_pair, complete.split(b"\n")) if p is not None]
        except OSError:
            return
        self._add(pairs)

    def _add(self, pairs: list[tuple[int, float]]) -> None:
        if not pairs:
            return
        st = np.array([p[0] for p in pairs], np.int64)
        tm = np.array([p[1] for p in pairs], np.float64)
        if self.t0 is None:
            self.t0 = float(tm[0])
        if len(self.steps):  # only steps past the last one known: a step's first record is its time
            keep = st > self.steps[-1]
            st, tm = st[keep], tm[keep]
        if len(st):
            order = np.argsort(st, kind="stable")
            st, first = np.unique(st[order], return_index=True)
            self.steps = np.concatenate([self.steps, st])
            self.times = np.concatenate([self.times, tm[order][first] - self.t0])

    def seconds(self, steps: np.ndarray) -> np.ndarray:
        """Seconds since the start at these steps (interpolated between the known ones)."""
        if not self.known:
            return np.full(len(steps), np.nan)
        return np.interp(steps.astype(np.float64), self.steps.astype(np.float64), self.times)


def _sampled(f, start: int, size: int) -> tuple[list[tuple[int, float]], int]:
    """About SAMPLES (step, time) pairs from lines spread over [start, size), the first line and
    the last complete one among them; and where the line after the last complete one starts."""
    f.seek(max(start, size - _MAX_LINE))
    tail = f.read()
    cut = tail.rfind(b"\n")
    end = size - len(tail) + cut + 1 if cut >= 0 else start  # after the last complete line
    pairs = []
    for pos in np.linspace(start, end, SAMPLES, endpoint=False).astype(np.int64):
        f.seek(int(pos))
        if pos > start:
            f.readline(_MAX_LINE)  # the rest of the line the seek landed in
        line = f.readline(_MAX_LINE)
        if f.tell() > end or not line.endswith(b"\n"):
            continue
        p = _pair(line)
        if p is not None:
            pairs.append(p)
    f.seek(max(start, end - _MAX_LINE))
    for line in reversed(f.read(end - f.tell()).split(b"\n")[1:]):  # the last metric line (events aside)
        p = _pair(line)
        if p is not None:
            pairs.append(p)
            break
    return pairs, end
