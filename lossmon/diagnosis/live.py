"""Diagnosis inside a live run: pump ticks are batched before the detectors see them.

The pump ticks every 0.1 s; the detectors' cost is mostly per call, not per point, so handing them
a second at a time costs the training thread (which shares the GIL with the pump) a fraction as
much, for alerts that appear at most a second later -- about when a person watching would look.
"""

from __future__ import annotations

import time
from typing import Callable

from lossmon.diagnosis.engine import Diagnoser
from lossmon.events import LR_CHANGE


class TickBuffer:
    """A pump subscriber: collects ticks and feeds the diagnoser every `interval` seconds (or
    sooner past `max_points`); `flush()` hands over the rest (the session calls it at close)."""

    def __init__(self, diagnoser: Diagnoser, interval: float = 1.0, max_points: int = 65536,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.diagnoser = diagnoser
        self.interval = interval
        self.max_points = max_points
        self.clock = clock
        self._points: dict[str, tuple[list, list]] = {}
        self._events: list[dict] = []
        self._count = 0
        self._last = clock()

    def __call__(self, points: dict, events: list) -> None:
        for name, (steps, values) in points.items():
            held = self._points.get(name)
            if held is None:
                self._points[name] = (list(steps), list(values))
            else:
                held[0].extend(steps)
                held[1].extend(values)
            self._count += len(values)
        self._events.extend(ev for ev in events if ev.get("event") == LR_CHANGE)
        now = self.clock()
        if now - self._last >= self.interval or self._count >= self.max_points:
            self._last = now
            self.flush()

    def flush(self) -> None:
        if not self._points and not self._events:
            return
        points, events = self._points, self._events
        self._points, self._events, self._count = {}, [], 0
        self.diagnoser.feed(points, events)
