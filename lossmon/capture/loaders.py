"""`lossmon run`'s view of the data loading: every torch DataLoader the script iterates is timed
(training/data_wait.py), so the system panel shows the share of each step spent waiting for data."""

from __future__ import annotations

import functools
from typing import Any, Callable

from lossmon.training.data_wait import timed_iter


class LoaderTiming:
    """Wraps `DataLoader.__iter__` while installed; each `next()` adds its wait to `on_wait`."""

    def __init__(self, on_wait: Callable[[float], Any]) -> None:
        self.on_wait = on_wait
        self._orig: Any = None

    def install(self) -> "LoaderTiming":
        from torch.utils.data import DataLoader

        if self._orig is not None:
            return self
        self._orig = original = DataLoader.__dict__["__iter__"]
        on_wait = self.on_wait

        @functools.wraps(original)
        def __iter__(loader):
            return timed_iter(original(loader), on_wait)

        DataLoader.__iter__ = __iter__
        return self

    def uninstall(self) -> None:
        if self._orig is None:
            return
        from torch.utils.data import DataLoader

        DataLoader.__iter__ = self._orig
        self._orig = None
