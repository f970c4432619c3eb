"""`run_tui`: the app's lifecycle around one training run, and what happens after it.

The app leaves as soon as the user quits or a signal arrives, so the terminal is restored at once;
a trainer that is still finishing its step is then waited for here, with plain status lines, and a
second signal gives up on it. If the UI itself fails, training is not lost: it carries on under
plain output, and the run log is closed as usual.
"""

from __future__ import annotations

import sys
from typing import Any, Callable

from lossmon.views.plain import PlainPrinter, conclude, follow
from lossmon.training.run import Run
from lossmon.session import Session, TrainerThread
from lossmon.watch import WatchedRun
from lossmon.views.tui.app import LossmonApp


def run_tui(session: Session, train_fn: Callable[[Run], Any], *, fps: float = 10.0, plot_hz: float = 4.0) -> int:
    """Run training under the live UI; returns the process exit code."""
    run = session.run
    app = LossmonApp(run, train_fn, fps=fps, plot_hz=plot_hz, handle_signals=True, started=session.started)
    ui_failed = False
    try:
        app.run()
    except Exception as e:  # noqa: BLE001 - the monitor must never take training down with it
        ui_failed = True
        print(f"lossmon: the live UI failed ({type(e).__name__}: {e})", file=sys.stderr)
    finally:
        if app.capture is not None:
            app.capture.restore()
    if app.return_code not in (None, 0):
        ui_failed = True
    printer = PlainPrinter(run, started=session.started)
    printer.skip_seen_events()
    trainer = app.trainer
    if trainer is None:  # the app failed before it could start training: run it now, plainly
        printer.emit("lossmon: starting training with plain output instead")
        trainer = TrainerThread(train_fn, run).start()
    signum, forced = app.signum, app.forced
    if trainer.is_alive() and not forced:
        if ui_failed:
            printer.emit("lossmon: training continues with plain output (Ctrl+C stops it)")
        else:
            printer.emit("lossmon: waiting for training to stop at its next step (Ctrl+C again leaves it behind)")
        signals = follow(run, trainer, printer, signum)
        signum = signals.signum
        forced = signals.forced
    code = conclude(session, trainer, printer, signum=signum, forced=forced)
    if app.capture is not None and app.capture.total_lines:
        printer.emit(f"lossmon: training output ({app.capture.total_lines} lines): {session.dir / 'output.log'}")
    if ui_failed and code == 0:
        code = 1
    return code


WATCH_UI_BUDGET = 0.1


def run_watch_tui(watched: WatchedRun, *, fps: float = 10.0, plot_hz: float = 4.0) -> int:
    """Show a run started elsewhere until the user quits; the job itself is never touched by
    quitting (q, Ctrl+C or a signal only close this view)."""
    # the view has its own process here, not the trainer's: a bigger share of a core keeps it prompt
    app = LossmonApp(watched, fps=fps, plot_hz=plot_hz, handle_signals=True, capture_output=False,
                     ui_budget=WATCH_UI_BUDGET)
    watched.start()
    try:
        app.run()
    finally:
        watched.close()
    return 128 + app.signum if app.signum else 0
