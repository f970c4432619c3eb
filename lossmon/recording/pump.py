"""The pump: one background thread that moves what the trainer logged into the store and run log.

Every `interval` seconds it drains the run's queue, copies device tensors to the host in one batch
per device (so the training thread never waits for the GPU) and writes the batch to run.jsonl as
one write; a second thread then appends its points to the columns and the store and feeds the
subscribers (detectors, forecast), so their cost never delays the run log. Views poll the store;
nothing here posts a message per step.
"""

from __future__ import annotations

import sys
import threading
import time
from collections import deque
from typing import Any, Callable

from lossmon.rundir.columns import ColumnWriter
from lossmon.rundir.runlog import RunLogWriter, encode_event, encode_rows
from lossmon.training.run import Run

Subscriber = Callable[[dict, list], None]
ANALYSIS_BEHIND = 20  # batches written but not yet analysed past which log() waits (memory stays bounded)


def resolve_device_values(rows: list[dict]) -> None:
    """Replace device tensors in rows by floats, with one host copy per (device, dtype) group."""
    pending: dict[tuple, list[tuple[dict, str, Any]]] = {}
    for metrics in rows:
        for k, v in metrics.items():
            if type(v) is not float and k != "step":
                pending.setdefault((str(v.device), v.dtype), []).append((metrics, k, v))
    if not pending:
        return
    import torch

    for group in pending.values():
        try:
            host = torch.stack([v.reshape(()) for _, _, v in group]).cpu().double().tolist()
        except Exception:  # one bad tensor must not lose the others
            host = []
            for _, _, v in group:
                try:
                    host.append(float(v.item()))
                except Exception:
                    host.append(float("nan"))
        for (metrics, k, _), x in zip(group, host):
            metrics[k] = x


class Pump:
    """Drains `run` every `interval` seconds on its own thread; `stop()` does a final drain."""

    def __init__(self, run: Run, writer: RunLogWriter | None = None, interval: float = 0.1,
                 columns: ColumnWriter | None = None) -> None:
        self.run = run
        self.writer = writer
        self.columns = columns
        self.interval = interval
        self.subscribers: list[Subscriber] = []
        self.flushers: list[Callable[[], None]] = []
        self._reported: set[str] = set()
        self._halt = threading.Event()
        self._wake = threading.Event()  # set by log()'s back-pressure: tick now, not at the interval
        self._thread = threading.Thread(target=self._loop, name="lossmon-pump", daemon=True)
        self._lock = threading.Lock()  # recording from the loop and from stop() never overlap
        # The run log is written on this thread, the rest (columns, store, detectors) on another,
        # so a slow detector pass (0.66 s seen with 60 metrics) never holds up run.jsonl.
        self._analysis: deque = deque()  # (points, events) written to the run log, not yet analysed
        self._analysis_ready = threading.Event()
        self._analyzer = threading.Thread(target=self._analyze_loop, name="lossmon-analysis", daemon=True)
        self._alock = threading.Lock()
        self._idle = False  # the last tick found nothing new (set by the pump thread)

    def start(self) -> "Pump":
        self._thread.start()
        self._analyzer.start()
        self.run.consumer_started(self._wake.set, lambda: len(self._analysis) > ANALYSIS_BEHIND)
        return self

    def stop(self) -> None:
        """Stop the thread, move what is left, let buffering subscribers finish (`flushers`: what
        they produce, alerts, is queued on the run) and move that too, then close the run log."""
        self._halt.set()
        self._wake.set()
        self._analysis_ready.set()
        for thread in (self._thread, self._analyzer):
            if thread.is_alive():
                thread.join(timeout=10)
        if self._thread.ident is not None:  # this pump drained the run: nothing will from now on
            self.run.consumer_gone("ended")
        self.tick()
        if self.flushers:
            self._run_flushers("finishing")
            self.tick()
        if self.writer is not None:
            self.writer.close()
        if self.columns is not None:
            self.columns.close()

    def _loop(self) -> None:
        next_tick = time.monotonic() + self.interval
        while not self._halt.is_set():  # a tick every interval, not an interval after each tick
            self._wake.wait(max(0.0, next_tick - time.monotonic()))
            self._wake.clear()
            next_tick = max(next_tick + self.interval, time.monotonic())
            if not self._halt.is_set() and not self._record():  # the analysis thread takes it from here
                self._idle = True  # nothing new: buffering subscribers hand over what they hold
                self._analysis_ready.set()

    def _analyze_loop(self) -> None:
        while not self._halt.is_set():
            self._analysis_ready.wait(0.5)
            self._analysis_ready.clear()
            self._analyze_pending()
            if self._idle:
                self._idle = False
                self._flush_idle()

    def _flush_idle(self) -> None:
        """Nothing new was logged: buffering subscribers hand over what they hold now (the last
        points of a run that has ended or paused); what that queues (alerts) goes out with the next
        tick -- else alerts from a run's last second would wait for the session to close, after the
        view has gone. On the analysis thread, as the subscribers themselves."""
        with self._alock:
            self._run_flushers("recording metrics")

    def _run_flushers(self, doing: str) -> None:
        """Let each buffering subscriber hand over what it holds; a failure is reported, once."""
        for flush in self.flushers:
            try:
                flush()
            except Exception as e:  # noqa: BLE001
                self._report(f"internal error while {doing}: {type(e).__name__}: {e}")

    def tick(self) -> int:
        """Move everything queued so far into the run log, then the columns, store and
        subscribers; returns how many items moved."""
        n = self._record()
        self._analyze_pending()
        return n

    def _record(self) -> int:
        """Drain the run and write the batch to the run log; queue it for analysis."""
        with self._lock:
            items = self.run.drain()
            if not items:
                self.run.mark_written()
                return 0
            try:
                self._analysis.append(self._write(items))
            except Exception as e:  # the monitor must never take the run down
                self._report(f"internal error while recording metrics: {type(e).__name__}: {e}")
            self.run.mark_written()  # even after a failure: log() must not wait for this batch
            self._analysis_ready.set()
            if self.writer is not None and self.writer.escaped:
                self._report("text that is not valid Unicode (a lone surrogate, as from a non-UTF-8 file"
                             " name) is written to run.jsonl as \\uXXXX escapes")
            if self.writer is not None and self.writer.error:
                self._report(f"{self.writer.error}; {self.writer.unwritten_bytes} bytes kept to retry")
            return len(items)

    def _analyze_pending(self) -> None:
        """Columns, store and subscribers for every batch already written, in order."""
        with self._alock:
            while self._analysis:
                points, events = self._analysis.popleft()
                try:
                    self._analyze(points, events)
                except Exception as e:  # noqa: BLE001 - the monitor must never take the run down
                    self._report(f"internal error while recording metrics: {type(e).__name__}: {e}")

    def _report(self, message: str) -> None:
        """Say a problem once per kind of message, not once per tick."""
        key = message.split(";")[0][:80]
        if key in self._reported:
            return
        self._reported.add(key)
        print(f"lossmon: {message}", file=sys.stderr)

    @staticmethod
    def _encode(items: list, now: float) -> str:
        """Lines in the order things were logged: runs of rows, with events where they fell."""
        parts, rows = [], []
        for it in items:
            if "event" not in it:
                rows.append(it)
            else:
                if rows:
                    parts.append(encode_rows(rows, now))
                    rows = []
                parts.append(encode_event(it))
        if rows:
            parts.append(encode_rows(rows, now))
        return "".join(parts)

    def _write(self, items: list) -> tuple[dict, list]:
        """The batch into the run log; returns its points and events for _analyze."""
        now = time.time()  # rows are stamped per batch: exact to within one pump interval
        rows = [it for it in items if "event" not in it]
        events = [it for it in items if "event" in it]
        self._stage("copying device values", resolve_device_values, rows)
        points: dict[str, tuple[list[int], list[float]]] = {}
        for metrics in rows:
            step = metrics["step"]
            for k, v in metrics.items():
                if k == "step":
                    continue
                p = points.get(k)
                if p is None:
                    p = points[k] = ([], [])
                p[0].append(step)
                p[1].append(v)
        if self.writer is not None:  # the file first: it is the record that outlives the process
            t0 = time.perf_counter()
            self._stage("writing the run log", lambda: self.writer.write(self._encode_each(items, now)))
            took = time.perf_counter() - t0
            values = sum(len(it) for it in items)
            if took > 0.005:  # the rate log()'s back-pressure sizes the queue by (a mean of the last few)
                rate = values / took
                self.run.write_rate = rate if not self.run.write_rate else 0.5 * (self.run.write_rate + rate)
        return points, events

    def _analyze(self, points: dict, events: list) -> None:
        if self.columns is not None and points:  # an index of the run log, for fast attaching
            self._stage("writing the columns", self.columns.write, points)
        store = self.run.store
        for name, (steps, values) in points.items():  # a name at a time: nothing half-appended to retry
            if not self._stage(None, store.append_points, {name: (steps, values)}):
                for s, v in zip(steps, values):  # one bad point costs only itself
                    self._stage("storing metrics", store.append_points, {name: ([s], [v])})
        self._stage("storing events", store.append_events, events)
        for sub in self.subscribers:
            self._stage("feeding the detectors", sub, points, events)

    def _stage(self, what: str | None, fn: Callable, *args: Any) -> bool:
        """Run one stage of a tick; a failure is reported (once per kind) and costs only that stage,
        so one bad item never keeps its batch out of the others. `what=None`: fail silently."""
        try:
            fn(*args)
            return True
        except Exception as e:  # noqa: BLE001 - the monitor must never take the run down
            if what is not None:
                self._report(f"internal error while {what}: {type(e).__name__}: {e}")
            return False

    def _encode_each(self, items: list, now: float) -> str:
        """The batch's lines; if encoding the batch fails, item by item, so only the item that cannot
        be encoded is left out of the file (and said)."""
        try:
            return self._encode(items, now)
        except Exception:  # noqa: BLE001
            parts = []
            for it in items:
                try:
                    parts.append(self._encode([it], now))
                except Exception as e:  # noqa: BLE001
                    self._report(f"internal error while encoding a line of the run log: {type(e).__name__}: {e}")
            return "".join(parts)
