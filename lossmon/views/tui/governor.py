"""Keeps the UI's own CPU use under a budget by stretching its repaint intervals.

Every repaint takes the GIL from the training thread, and a small model trained on the CPU feels
each one: here a 160x48 frame costs about 19 ms of UI-thread time (8 ms to draw the plot, 10 ms
for Textual to composite it), so four frames a second cost the demo model about a quarter of its
steps. The configured rates are maxima; the governor measures the UI thread's CPU time and slows
the plot first, then the numbers, until the UI stays within `budget` (a share of one core).
Keys still repaint at once: only the periodic work is spaced out.
"""

from __future__ import annotations

import time
from collections import deque

MAX_SLOWDOWN = 16.0
NUMBERS_MIN_HZ = 1.0  # the step counter never updates less than once a second
PLOT_MIN_HZ = 0.2


class Governor:
    """Decides when the numbers and the plot are due, from their maximum rates and the UI's load."""

    def __init__(self, fps: float, plot_hz: float, budget: float = 0.02, window_s: float = 3.0,
                 cpu_clock=time.thread_time, clock=time.monotonic) -> None:
        self.fps, self.plot_hz, self.budget = fps, plot_hz, budget
        self.window_s = window_s
        self.slowdown = 1.0  # 1 = the configured rates
        self._cpu, self._clock = cpu_clock, clock
        self._samples: deque[tuple[float, float]] = deque()
        now = clock()
        self._next_numbers = self._next_plot = now

    @property
    def numbers_interval(self) -> float:
        return min(1.0 / NUMBERS_MIN_HZ, self.slowdown ** 0.5 / self.fps)

    @property
    def plot_interval(self) -> float:
        return min(1.0 / PLOT_MIN_HZ, self.slowdown / self.plot_hz)

    def load(self) -> float | None:
        """UI-thread CPU seconds per second over the window (None until it spans a second)."""
        s = self._samples
        if len(s) < 2 or s[-1][0] - s[0][0] < 1.0:
            return None
        return (s[-1][1] - s[0][1]) / (s[-1][0] - s[0][0])

    def wait(self) -> float:
        """Seconds until the next piece of work is due (the app sleeps that long, no idle ticks)."""
        return max(0.01, min(self._next_numbers, self._next_plot) - self._clock())

    def due(self) -> tuple[bool, bool]:
        """(numbers due, plot due) now; call it from the UI thread's base timer."""
        now, cpu = self._clock(), self._cpu()
        s = self._samples
        s.append((now, cpu))
        while len(s) > 2 and now - s[1][0] >= self.window_s:
            s.popleft()
        load = self.load()
        if load is not None and self.budget > 0:
            if load > self.budget:
                self.slowdown = min(MAX_SLOWDOWN, self.slowdown * 1.15)
            elif load < 0.6 * self.budget:
                self.slowdown = max(1.0, self.slowdown / 1.05)
        numbers = now >= self._next_numbers
        plot = now >= self._next_plot
        if numbers:
            self._next_numbers = now + self.numbers_interval
        if plot:
            self._next_plot = now + self.plot_interval
        return numbers, plot
