"""A gate on terminal keys, in the driver's input thread: a person types at most ~15 keys a
second (a held key repeats at ~30), but an unbracketed paste delivers thousands at once, each one
a message the app would handle in turn -- minutes of a frozen UI, its signals and the training
thread starved. Past a burst, keys beyond the rate are dropped before they reach the app."""

from __future__ import annotations

import threading
import time
from typing import Callable

BURST = 40  # keys let through at once
RATE = 30.0  # keys a second after that


class KeyGate:
    """A token bucket: `admit()` says whether a key goes on; `take_dropped()` how many did not
    since it was last asked (for one notice per flood)."""

    def __init__(self, burst: int = BURST, rate: float = RATE, clock: Callable[[], float] = time.monotonic) -> None:
        self.burst, self.rate, self.clock = burst, rate, clock
        self._tokens = float(burst)
        self._last = clock()
        self._dropped = 0
        self._lock = threading.Lock()

    def admit(self) -> bool:
        now = self.clock()
        with self._lock:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
            self._last = now
            if self._tokens >= 1.0:
                self._tokens -= 1.0
                return True
            self._dropped += 1
            return False

    def take_dropped(self) -> int:
        with self._lock:
            n, self._dropped = self._dropped, 0
            return n
