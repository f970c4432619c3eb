"""The system sampler: a daemon thread of the monitor that records the machine once a second.

Each sample is one row queued on the run at its current step (`Run.record_sample`), so it goes to
run.jsonl, the columns and the store as every metric does, and `lossmon watch` reads the same
series back. It never runs on, or waits for, the training thread: it reads the step counter and
the data-wait sum (training/data_wait.py) the training thread leaves behind. Names:
process.py, gpu.py, and `sys/step_time_ms` (wall time per step over the last interval; none while
no step is made) and `sys/data_wait_percent` (share of that time spent in a timed loader's next()).
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable

from lossmon.system.gpu import open_gpus
from lossmon.system.process import ProcessSampler

INTERVAL_S = 1.0


class SystemSampler:
    """Samples every `interval` seconds until `stop()`, or until `alive()` says training is over."""

    def __init__(self, run: Any, interval: float = INTERVAL_S, nvml: Any = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.run = run
        self.interval = interval
        self.clock = clock
        self.alive: Callable[[], bool] = lambda: True  # the view sets it: no samples after training ends
        self._nvml = nvml
        self._sources: list = []
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lossmon-system", daemon=True)
        self._said: set[str] = set()
        self._ref: tuple[float, int] | None = None  # (time, step) at the last step change
        self._wait_ref: tuple[float, float] | None = None  # (time, data-wait total) at the last sample

    def start(self) -> "SystemSampler":
        self._thread.start()
        return self

    def stop(self) -> None:
        self._halt.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        for src in self._sources:
            close = getattr(src, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:  # noqa: BLE001
                    pass

    def open(self) -> bool:
        """Find what there is to sample (on the sampler's thread: NVML's init never delays the caller)."""
        try:
            self._sources = [ProcessSampler(), open_gpus(self._nvml)]
            return True
        except Exception as e:  # noqa: BLE001 - the monitor must never take the run down
            self._say(f"system metrics are off: {type(e).__name__}: {e}")
            return False

    def _loop(self) -> None:
        if not self.open():
            return
        self._ref = (self.clock(), self.run.step)
        next_at = self.clock() + self.interval
        while not self._halt.wait(max(0.0, next_at - self.clock())):
            next_at = max(next_at + self.interval, self.clock())
            if not self.alive():
                return
            self.sample_once()

    def sample_once(self) -> dict[str, float]:
        """One row of every figure there is, queued on the run (returned for tests)."""
        values: dict[str, float] = {}
        for src in list(self._sources):
            try:
                values.update(src.sample())
            except Exception as e:  # noqa: BLE001 - one failing source: the others go on
                self._sources.remove(src)
                self._say(f"stopped sampling {type(src).__name__}: {type(e).__name__}: {e}")
        values.update(self._timing())
        if values:
            self.run.record_sample(values)
        return values

    def _timing(self) -> dict[str, float]:
        run, now, out = self.run, self.clock(), {}
        step = run.step
        if self._ref is None or getattr(run, "paused", False) or step < self._ref[1]:
            self._ref = (now, step)  # a pause (or a step= that went back) is not step time
        elif step > self._ref[1]:
            out["sys/step_time_ms"] = round(1000.0 * (now - self._ref[0]) / (step - self._ref[1]), 3)
            self._ref = (now, step)
        wait = getattr(run, "data_wait", None)
        if wait is not None and wait.seen:
            total = wait.total_s
            if self._wait_ref is not None and now > self._wait_ref[0]:
                share = 100.0 * (total - self._wait_ref[1]) / (now - self._wait_ref[0])
                out["sys/data_wait_percent"] = round(min(100.0, max(0.0, share)), 1)
            self._wait_ref = (now, total)
        return out

    def _say(self, message: str) -> None:
        if message not in self._said:
            self._said.add(message)
            print(f"lossmon: {message}", file=sys.stderr)
