"""Steps per second over the last few seconds, from (time, step) samples a view takes as it polls."""

from __future__ import annotations

from collections import deque


class RateMeter:
    """A sliding-window rate: robust to the store catching up in bursts (one pump tick at a time)."""

    def __init__(self, window_s: float = 5.0, min_span_s: float = 1.0) -> None:
        self.window_s = window_s
        self.min_span_s = min_span_s
        self._samples: deque[tuple[float, int]] = deque()

    def add(self, now: float, step: int) -> None:
        s = self._samples
        if s and step < s[-1][1]:  # the step went back (a resumed run, a new step=): start again
            s.clear()
        s.append((now, step))
        while len(s) > 2 and now - s[1][0] >= self.window_s:
            s.popleft()

    def rate(self) -> float | None:
        """Steps/s over the window, or None until it spans at least `min_span_s`."""
        s = self._samples
        if len(s) < 2:
            return None
        (t0, s0), (t1, s1) = s[0], s[-1]
        if t1 - t0 < self.min_span_s:
            return None
        return (s1 - s0) / (t1 - t0)
