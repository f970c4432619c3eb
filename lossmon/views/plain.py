"""Plain mode: status lines and events on stdout, for nohup, CI, pipes and scheduler logs.

No Textual here. The training function runs on a thread; the main thread prints and owns the
signals: the first SIGINT/SIGTERM/SIGHUP asks training to stop at its next step (the run log is then
flushed and closed, exit 128+signal); a second one stops waiting for a trainer that does not return.
"""

from __future__ import annotations

import sys
import time
from typing import IO, Any, Callable

from lossmon import names
from lossmon.diagnosis.alerts import is_raised
from lossmon.views.text import describe, fmt_lr, fmt_value
from lossmon.views.rate import RateMeter
from lossmon.training.run import Run
from lossmon.session import Session, TrainerThread
from lossmon.training.signals import SignalStop

STATUS_EVERY_S = 3.0


def fmt_duration(seconds: float) -> str:
    """12s, 4m05s, 2h03m: short enough for a status line."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


class PlainPrinter:
    """Prints a compact status line every few seconds and every event as it arrives."""

    def __init__(self, run: Run, out: IO[str] | None = None, every: float = STATUS_EVERY_S,
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
        self.started = time.monotonic() if started is None else started

    def skip_seen_events(self) -> None:
        """Start from the events already in the store (another view has shown them)."""
        self._events_seen = len(self.run.store.events)

    def emit(self, text: str) -> None:
        try:
            print(text, file=self.out, flush=True)
        except (OSError, ValueError):  # a closed pipe must never stop training
            pass

    def poll(self, final: bool = False) -> None:
        store = self.run.store
        events = store.events
        while self._events_seen < len(events):
            ev = events[self._events_seen]
            self._events_seen += 1
            self.emit(f"[{self.run.name}] step {ev.get('step', '?')}: {describe(ev)}")
        now = time.monotonic()
        has_data = bool(store.names())
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
        store = self.run.store
        step = store.last_step
        parts = [f"[{self.run.name}] step {step}"]
        epoch = store.by_role(names.EPOCH)
        if epoch is not None and epoch.last() is not None:
            parts.append(f"epoch {fmt_value(epoch.last()[1])}")
        for label, role in (("loss", names.TRAIN_LOSS), ("val", names.VAL_LOSS)):
            s = store.by_role(role)
            if s is not None and s.last() is not None:
                parts.append(f"{label} {fmt_value(s.last()[1])}")
        lr = store.series("lr") or store.by_role(names.LR)
        if lr is not None and lr.last() is not None:
            scale = self.run.lr_scale
            parts.append(f"lr {fmt_lr(lr.last()[1])}" + (f" (x{scale:.3g})" if scale != 1.0 else ""))
        if self.rates:
            parts += self._rate_parts(now, step, final)
        if store.nonfinite:
            parts.append(f"{store.nonfinite} non-finite")
        if self.run.paused:
            parts.append("PAUSED")
        return " | ".join(parts)

    def _rate_parts(self, now: float, step: int, final: bool) -> list[str]:
        if final:  # the store caught up all at once at the end: a whole-run average says more
            return [f"{step / (now - self.started):.1f} steps/s"] if now > self.started else []
        self._rate.add(now, step)
        rate = self._rate.rate()  # None until the window spans 1 s: the store lags by a pump tick
        if rate is None:
            return []
        parts = [f"{rate:.1f} steps/s"]
        total = self.run.total_steps
        if total and rate > 0 and total > step:
            parts.append(f"ETA {fmt_duration((total - step) / rate)}")
        return parts


def alert_summary(events: list[dict]) -> str:
    """'2 warnings: overfitting (step 2 800), spike (step 120)' -- the last line of a scheduler's
    log should say whether anything went wrong; '' when no warning or critical alert was raised."""
    raised = [e for e in events if is_raised(e)]
    if not raised:
        return ""
    first: dict[str, int] = {}
    for e in raised:
        first.setdefault(str(e.get("kind")), int(e.get("step", 0) or 0))
    crit = sum(1 for e in raised if e["severity"] == "critical")
    head = f"{len(raised)} alert{'s' if len(raised) != 1 else ''}" + (f" ({crit} critical)" if crit else "")
    kinds = ", ".join(f"{k} (step {s:,})".replace(",", " ") for k, s in first.items())
    return f"{head}: {kinds}; see the run log or `lossmon check`"


def follow(run: Run, trainer: TrainerThread, printer: PlainPrinter, signum: int | None = None,
           signals: SignalStop | None = None) -> SignalStop:
    """Print status and events until training returns, or until a second signal gives up on it
    (`signum`: a signal already received, so the next one is the second; `signals`: handlers the
    caller installed already)."""
    if signals is None:
        signals = SignalStop(run).install()
        signals.signum = signum
    try:
        while trainer.is_alive() and not signals.forced:
            trainer.join(0.2)
            printer.poll()
    finally:
        signals.restore()
    return signals


def conclude(session: Session, trainer: TrainerThread, printer: PlainPrinter, *, signum: int | None,
             forced: bool, forced_code: int = 130) -> int:
    """Record how the run ended, close the run log, print the summary; returns the exit code."""
    run = session.run
    outcome = trainer.outcome
    if forced and trainer.is_alive():
        state, code = "interrupted", (128 + signum) if signum else forced_code
        printer.emit("lossmon: training did not stop in time; leaving it behind")
    elif outcome is None:
        state, code = "failed", 1
    elif outcome.state in ("failed", "interrupted"):
        state, code = outcome.state, outcome.exit_code
    elif signum is not None:
        state, code = "interrupted", 128 + signum
    else:
        state, code = outcome.state, 0
    error = None
    if outcome is not None and outcome.error is not None:
        error = f"{type(outcome.error).__name__}: {outcome.error}"
    session.close(state, code, error)
    printer.poll(final=True)
    if outcome is not None and outcome.traceback:
        sys.stderr.write(outcome.traceback)
        sys.stderr.flush()
    elapsed = time.monotonic() - session.started
    printer.emit(f"lossmon: {state} at step {run.step} after {elapsed:.1f}s; run log: {session.dir / 'run.jsonl'}")
    summary = alert_summary(run.store.events)
    if summary:
        printer.emit(f"lossmon: {summary}")
    return code


def run_plain(session: Session, train_fn: Callable[[Run], Any], out: IO[str] | None = None) -> int:
    """Run training with plain output; returns the process exit code."""
    run = session.run
    printer = PlainPrinter(run, out)
    printer.emit(f"lossmon: run '{run.name}' -> {session.dir} (plain output; Ctrl+C stops training)")
    signals = SignalStop(run).install()  # before training starts: no moment without the handlers
    trainer = TrainerThread(train_fn, run).start()
    signals = follow(run, trainer, printer, signals=signals)
    return conclude(session, trainer, printer, signum=signals.signum, forced=signals.forced)
