"""Plain mode's view: status lines and events on stdout, for nohup, CI, pipes and scheduler logs.

It only prints: the session decides when a run starts and ends (session/lifecycle.py), and the
words come from views/text.py, as the live view's do.
"""

from __future__ import annotations

import sys
import time
from typing import IO

from lossmon import names
from lossmon.notify import rings
from lossmon.formatting import fmt_duration, printable
from lossmon.views.protocol import RunView
from lossmon.views.rate import RateMeter
from lossmon.views.text import Status, describe, plain_status

STATUS_EVERY_S = 3.0


class PlainPrinter:
    """Prints a compact status line every few seconds and every event as it arrives."""

    def __init__(self, run: RunView, out: IO[str] | None = None, every: float = STATUS_EVERY_S,
                 started: float | None = None) -> None:
        self.run = run
        self.out = out if out is not None else sys.stdout
        self.every = every
        self._events_seen = 0
        self._last_status = 0.0
        self._rate = RateMeter(window_s=every)  # the rate since the previous status line
        self._printed_first = False
        self._last_line = ""
        self.rates = True  # steps/s and ETA (off while a watcher catches up on a recorded run)
        self.header: str | None = None  # printed before the first line, if there ever is one
        self.started = time.monotonic() if started is None else started
        self.bell_on: str | None = None  # ring the terminal bell for alerts this severe (notify.rings)

    def skip_seen_events(self) -> None:
        """Start from the events already in the store (another view has shown them)."""
        self._events_seen = len(self.run.store.events)

    def emit(self, text: str) -> None:
        if self.header is not None:
            text, self.header = f"{self.header}\n{text}", None
        try:
            print(printable(text), file=self.out, flush=True)  # a log's lone surrogates as escapes
        except (OSError, ValueError):  # a closed pipe must never stop training
            pass

    def bell(self) -> None:
        """BEL, only to a terminal (never into a log file or a pipe)."""
        try:
            if self.out.isatty():
                self.out.write("\a")
                self.out.flush()
        except (OSError, ValueError, AttributeError):
            pass

    def poll(self, final: bool = False) -> None:
        store = self.run.store
        events = store.events
        while self._events_seen < len(events):
            ev = events[self._events_seen]
            self._events_seen += 1
            self.emit(f"[{self.run.name}] step {ev.get('step', '?')}: {describe(ev)}")
            if self.bell_on and ev.get("event") == "alert" and rings(ev, self.bell_on):
                self.bell()
        now = time.monotonic()
        has_data = any(names.role(n) != names.SYSTEM for n in store.names())  # system samples alone: no status yet
        due = now - self._last_status >= self.every
        if has_data and (final or due or not self._printed_first):
            self._printed_first = True
            self._last_status = now
            line = self.status_line(now, final)
            if not (final and line == self._last_line):  # a watcher that read a finished run at once
                self.emit(line)
            self._last_line = line

    def status_line(self, now: float | None = None, final: bool = False) -> str:
        now = time.monotonic() if now is None else now
        status = Status.of(self.run)
        rates = self._rate_parts(now, status, final) if self.rates else []
        return plain_status(status, rates)

    def _rate_parts(self, now: float, status: Status, final: bool) -> list[str]:
        step = status.step
        if final:  # the store caught up all at once at the end: a whole-run average says more
            return [f"{step / (now - self.started):.1f} steps/s"] if now > self.started else []
        self._rate.add(now, step)
        rate = self._rate.rate()  # None until the window spans 1 s: the store lags by a pump tick
        if rate is None:
            return []
        parts = [f"{rate:.1f} steps/s"]
        eta = status.eta_s(rate)
        if eta is not None:
            parts.append(f"ETA {fmt_duration(eta)}")
        return parts
