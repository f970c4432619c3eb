"""A run's life under a view: start the training thread, follow it, conclude.

Both views end the same way (`conclude`): the state and exit status are decided here, the run log
is closed, and the summary is printed. Plain mode prints while training runs. The live UI starts
training once it is up (`LocalJob.start`), leaves as soon as the user quits or a signal arrives so
the terminal is restored at once; a trainer still finishing its step is then followed here with
plain status lines, and a second signal gives up on it. If the UI itself fails, training is not
lost: it carries on under plain output, and the run log is closed as usual.

The main thread owns the signals: the first SIGINT/SIGTERM/SIGHUP asks training to stop at its
next step (the run log is then flushed and closed, exit 128+signal); a second one stops waiting
for a trainer that does not return.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections import deque
from typing import IO, Any, Callable

from lossmon import names, notify, states
from lossmon.rundir.layout import OUTPUT_LOG, RUN_LOG
from lossmon.session.session import Session
from lossmon.session.streams import PlainStreams
from lossmon.training.run import Run
from lossmon.training.signals import SignalStop
from lossmon.training.thread import TrainerThread
from lossmon.views.plain import PlainPrinter
from lossmon.views.text import alert_summary


class LocalJob:
    """The training thread of this process as a view sees it (views/protocol.py: JobView): it
    starts when the view is ready, and its state is the trainer's."""

    in_process = True
    read_only = False
    leave_when_empty = False  # `lossmon run` sets it: a script's --help needs no UI left open
    loaded = True
    malformed = 0
    error = None
    detail = ""
    generation = 0
    source_label = None

    def __init__(self, run: Run, train_fn: Callable[[Run], Any]) -> None:
        self.run = run
        self.train_fn = train_fn
        self.trainer: TrainerThread | None = None
        self.notices: deque[tuple[str, str]] = deque()
        self.last_data = time.monotonic()

    def start(self) -> None:
        if self.trainer is None:
            self.trainer = TrainerThread(self.train_fn, self.run).start()

    @property
    def steerable(self) -> bool:
        return self.trainer is not None and self.trainer.is_alive()

    @property
    def state(self) -> str:
        if self.trainer is None or self.trainer.is_alive():
            return states.RUNNING
        outcome = self.trainer.outcome
        return outcome.state if outcome is not None else states.FAILED

    @property
    def failure(self) -> tuple[str, str | None] | None:
        """(message, traceback) once training has failed, else None."""
        if self.state != states.FAILED:
            return None
        outcome = self.trainer.outcome if self.trainer is not None else None
        if outcome is None or outcome.error is None:
            return "unknown error", None
        return f"{type(outcome.error).__name__}: {outcome.error}", outcome.traceback


def follow(trainer: TrainerThread, printer: PlainPrinter, signals: SignalStop) -> SignalStop:
    """Print status and events until training returns, or until a second signal gives up on it."""
    try:
        while trainer.is_alive() and not signals.forced:
            trainer.join(0.2)
            printer.poll()
    finally:
        signals.restore()
    return signals


def conclude(session: Session, trainer: TrainerThread, printer: PlainPrinter, *, signum: int | None,
             forced: bool, forced_code: int = 130, discard_empty: bool = False) -> int:
    """Record how the run ended, close the run log, print the summary; returns the exit code.
    With `discard_empty`, a run that logged nothing (a script's --help) leaves no run directory
    and prints no summary: only what the script itself printed (what the live UI captured of it
    is written to the terminal now; in plain mode it went there already)."""
    run = session.run
    outcome = trainer.outcome
    if forced and trainer.is_alive():
        state, code = states.INTERRUPTED, (128 + signum) if signum else forced_code
        printer.emit("lossmon: training did not stop in time; leaving it behind")
    elif outcome is None:
        state, code = states.FAILED, 1
    elif outcome.state in (states.FAILED, states.INTERRUPTED):
        state, code = outcome.state, outcome.exit_code
    elif signum is not None:
        state, code = states.INTERRUPTED, 128 + signum
    else:
        state, code = outcome.state, 0
    error = None
    if outcome is not None and outcome.error is not None:
        error = f"{type(outcome.error).__name__}: {outcome.error}"
    duration = training_duration(session, trainer)
    state, code = session.close(state, code, error, duration_s=duration)  # a run log that lost bytes makes it failed
    empty = discard_empty and is_empty(run)
    if not empty:
        printer.poll(final=True)
    else:
        replay = _read_output(session)
        if replay:
            out = sys.stdout if code == 0 else sys.stderr
            out.write(replay)
            out.flush()
    if outcome is not None and outcome.traceback:
        sys.stderr.write(outcome.traceback)
        sys.stderr.flush()
    if empty:
        session.discard()
        return code
    printer.emit(f"lossmon: {state} at step {run.step} after {duration:.1f}s; run log: {session.dir / RUN_LOG}")
    summary = alert_summary(run.store.events)
    if summary:
        printer.emit(f"lossmon: {summary}")
    return code


def bell_severity(session: Session) -> str | None:
    """The least severe alert that rings the terminal bell ([notify] on/bell), None: never."""
    return notify.bell_severity(session.diagnoser.cfg.notify)


def training_duration(session: Session, trainer: TrainerThread) -> float:
    """How long the training function ran: not the time the live UI stayed open after it. A
    trainer left behind (or never run) counts from the session's start until now."""
    if trainer.duration_s is None or trainer.is_alive():
        return time.monotonic() - session.started
    return trainer.duration_s


def is_empty(run: Run) -> bool:
    """The run logged no metric at all (once the run log is closed, so nothing is still queued);
    the system sampler's rows are not the script's."""
    return run.step == 0 and all(names.role(n) == names.SYSTEM for n in run.store.names())


def run_plain(session: Session, train_fn: Callable[[Run], Any], out: IO[str] | None = None, *,
              script: bool = False) -> int:
    """Run training with plain output; returns the process exit code. For a script (`lossmon
    run`), lossmon's first line waits for its first output, and a run that logged nothing leaves
    nothing behind."""
    run = session.run
    header = f"lossmon: run '{run.name}' -> {session.dir} (plain output; Ctrl+C stops training)"
    with PlainStreams() as streams:  # our lines never glue onto a progress bar's unfinished line
        printer = PlainPrinter(run, streams.status_stream(out))
        printer.bell_on = bell_severity(session)
        if script:
            printer.header = header
        else:
            printer.emit(header)
        signals = SignalStop(run).install()  # before training starts: no moment without the handlers
        trainer = TrainerThread(train_fn, run).start()
        if session.sampler is not None:  # no system samples once training has returned
            session.sampler.alive = trainer.is_alive
        signals = follow(trainer, printer, signals)
        return conclude(session, trainer, printer, signum=signals.signum, forced=signals.forced,
                        discard_empty=script)


def run_tui(session: Session, train_fn: Callable[[Run], Any], *, fps: float = 10.0, plot_hz: float = 4.0,
            script: bool = False) -> int:
    """Run training under the live UI; returns the process exit code. For a script that logged
    nothing (its --help, a usage error), the UI closes at once and what it printed is written to
    the terminal."""
    from lossmon.views.tui.app import (
        LossmonApp,  # textual loads only when the live UI is used
    )

    run = session.run
    job = LocalJob(run, train_fn)
    job.leave_when_empty = script
    if session.sampler is not None:  # no system samples once training has returned (the UI may stay)
        session.sampler.alive = lambda: job.trainer is None or job.trainer.is_alive()
    app = LossmonApp(run, job, fps=fps, plot_hz=plot_hz, handle_signals=True, started=session.started)
    app.bell_on = bell_severity(session)
    ui_failed = False
    tty = _tty_settings()
    try:
        app.run()
    except Exception as e:  # noqa: BLE001 - the monitor must never take training down with it
        ui_failed = True
        print(f"lossmon: the live UI failed ({type(e).__name__}: {e})", file=sys.stderr)
    finally:
        _restore_tty(tty)  # whatever the UI left, the terminal is as it was found
        if app.capture is not None:
            app.capture.restore()
    if app.return_code not in (None, 0):
        ui_failed = True
    printer = PlainPrinter(run, started=session.started)
    printer.skip_seen_events()
    if job.trainer is None:  # the app failed before it could start training: run it now, plainly
        printer.emit("lossmon: starting training with plain output instead")
        job.start()
    trainer = job.trainer
    signum, forced = app.signum, app.forced
    if trainer.is_alive() and not forced:
        if ui_failed:
            printer.emit("lossmon: training continues with plain output (Ctrl+C stops it)")
        else:
            printer.emit("lossmon: waiting for training to stop at its next step (Ctrl+C again leaves it behind)")
        signals = SignalStop(run).install()
        signals.signum = signum  # a signal already received: the next one is the second
        signals = follow(trainer, printer, signals)
        signum = signals.signum
        forced = signals.forced
    code = conclude(session, trainer, printer, signum=signum, forced=forced, discard_empty=script)
    if script and not session.dir.exists():  # discarded: the script's own words were all there was
        return code
    if app.capture is not None and app.capture.total_lines:
        printer.emit(f"lossmon: training output ({app.capture.total_lines} lines): {session.dir / OUTPUT_LOG}")
    if ui_failed and code == 0:
        code = 1
    if app.signum == getattr(signal, "SIGQUIT", None):  # the run is closed: now SIGQUIT does what it asks
        sys.stdout.flush()
        sys.stderr.flush()
        signal.signal(signal.SIGQUIT, signal.SIG_DFL)
        os.kill(os.getpid(), signal.SIGQUIT)
    return code


def _tty_settings() -> tuple[int, list] | None:
    """The terminal's settings before the UI takes it (None: no terminal, or no termios)."""
    try:
        import termios

        fd = sys.stdin.fileno()
        return fd, termios.tcgetattr(fd)
    except (ImportError, OSError, ValueError, AttributeError):
        return None


def _restore_tty(saved: tuple[int, list] | None) -> None:
    if saved is None:
        return
    try:
        import termios

        termios.tcsetattr(saved[0], termios.TCSANOW, saved[1])
    except (ImportError, OSError, ValueError):
        pass


def _read_output(session: Session) -> str:
    """What the live UI captured of the training code's output (nothing in plain mode)."""
    try:
        return (session.dir / OUTPUT_LOG).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return ""
