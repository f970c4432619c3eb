"""The pump: one background thread that moves what the trainer logged into the store and run log.

Every `interval` seconds it drains the run's queue, copies device tensors to the host in one batch
per device (so the training thread never waits for the GPU), appends the points to the store in
columns, and writes the batch to run.jsonl as one write. Views poll the store; nothing here posts a
message per step.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import Any, Callable

from lossmon.rundir.columns import ColumnWriter
from lossmon.rundir.runlog import RunLogWriter, encode_event, encode_rows
from lossmon.training.run import Run

Subscriber = Callable[[dict, list], None]


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
        self._thread = threading.Thread(target=self._loop, name="lossmon-pump", daemon=True)
        self._lock = threading.Lock()  # tick() from the loop and from stop() never overlap

    def start(self) -> "Pump":
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, move what is left, let buffering subscribers finish (`flushers`: what
        they produce, alerts, is queued on the run) and move that too, then close the run log."""
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self.tick()
        if self.flushers:
            for flush in self.flushers:
                try:
                    flush()
                except Exception as e:  # noqa: BLE001
                    self._report(f"internal error while finishing: {type(e).__name__}: {e}")
            self.tick()
        if self.writer is not None:
            self.writer.close()
        if self.columns is not None:
            self.columns.close()

    def _loop(self) -> None:
        while not self._halt.wait(self.interval):
            if not self.tick():
                self._flush_idle()

    def _flush_idle(self) -> None:
        """Nothing new was logged: buffering subscribers hand over what they hold now (the last
        points of a run that has ended or paused), and what that queued is moved -- else alerts
        from a run's last second would wait for the session to close, after the view has gone."""
        with self._lock:
            for flush in self.flushers:
                try:
                    flush()
                except Exception as e:  # noqa: BLE001
                    self._report(f"internal error while recording metrics: {type(e).__name__}: {e}")
        self.tick()

    def tick(self) -> int:
        """Move everything queued so far; returns how many items moved."""
        with self._lock:
            items = self.run.drain()
            if not items:
                return 0
            try:
                self._move(items)
            except Exception as e:  # the monitor must never take the run down
                self._report(f"internal error while recording metrics: {type(e).__name__}: {e}")
            if self.writer is not None and self.writer.error:
                self._report(f"{self.writer.error}; {self.writer.unwritten_bytes} bytes kept to retry")
            return len(items)

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

    def _move(self, items: list) -> None:
        now = time.time()  # rows are stamped per batch: exact to within one pump interval
        rows = [it for it in items if "event" not in it]
        events = [it for it in items if "event" in it]
        resolve_device_values(rows)
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
            self.writer.write(self._encode(items, now))
        if self.columns is not None and points:  # an index of the run log, for fast attaching
            self.columns.write(points)
        store = self.run.store
        store.append_points(points)
        store.append_events(events)
        for sub in self.subscribers:
            sub(points, events)
