"""How long the training loop waits for its data: `timed_iter` times each `next()` on a loader.

The wait is summed into a `DataWait` (one float add per batch on the training thread); the system
sampler turns it into `sys/data_wait_percent`, the share of the wall time since its previous
sample spent in `next()`, beside `sys/step_time_ms`. Used by `lossmon run`'s capture around every
DataLoader the script iterates (capture/loaders.py), and meant for `run.batches(loader)`:

    for batch in timed_iter(loader, run.data_wait.add): ...
"""

from __future__ import annotations

import time
from typing import Any, Callable, Iterable, Iterator


class DataWait:
    """Seconds spent waiting for data so far. Written by the training thread, read by the sampler."""

    def __init__(self) -> None:
        self.total_s = 0.0
        self.batches = 0

    def add(self, seconds: float) -> None:
        self.total_s += seconds  # one writer; a reader sees the old or the new float, both fine
        self.batches += 1

    @property
    def seen(self) -> bool:
        return self.batches > 0


class TimedIterator:
    """An iterator that reports the time each `next()` took to `on_wait(seconds)`; everything else
    (len(), a DataLoader iterator's own attributes) is the wrapped iterator's."""

    __slots__ = ("_it", "_on_wait")

    def __init__(self, iterator: Iterator, on_wait: Callable[[float], Any]) -> None:
        self._it = iterator
        self._on_wait = on_wait

    def __iter__(self) -> "TimedIterator":
        return self

    def __next__(self) -> Any:
        t0 = time.perf_counter()
        try:
            return next(self._it)
        finally:  # StopIteration too: the last wait is a wait
            try:
                self._on_wait(time.perf_counter() - t0)
            except Exception:  # noqa: BLE001 - timing must never break the loop
                pass

    def __len__(self) -> int:
        return len(self._it)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._it, name)


def timed_iter(iterable: Iterable, on_wait: Callable[[float], Any]) -> TimedIterator:
    """`iter(iterable)` with the time of each `next()` reported to `on_wait(seconds)`."""
    return TimedIterator(iter(iterable), on_wait)
