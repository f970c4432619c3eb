"""`lossmon watch`: a job started elsewhere (or a log another tool writes) under a view.

A watcher's signals end the watching, never the job. With no terminal it follows the run with
plain status lines until its job ends -- or, for files with no job to ask (TensorBoard, CSV...),
until Ctrl+C or SIGTERM, like `tail -f`.
"""

from __future__ import annotations

import sys
import time
from typing import IO

from lossmon import states
from lossmon.diagnosis.config import DiagnosisConfig
from lossmon.notify import bell_severity
from lossmon.sources import SourceError, no_records
from lossmon.training.signals import SignalStop
from lossmon.views.plain import PlainPrinter
from lossmon.watched import WatchedRun

WATCH_UI_BUDGET = 0.1  # the view has its own process here, not the trainer's: a bigger share of a core


def watch_plain(watched: WatchedRun, out: IO[str] | None = None, *, once: bool = False,
                err: IO[str] | None = None) -> int:
    """Follow a watched run with plain status lines (no terminal): until its job ends, or -- for
    files without a job to ask (TensorBoard, CSV...) -- until Ctrl+C or SIGTERM, like `tail -f`;
    with `once`, until what the files hold now is read. A signal ends the watching, never the
    job: exit 128+signal, as the live view. Input `lossmon check` calls unreadable (SourceError,
    or a file read to its end with no metric record in it) ends it with one line and exit 2."""
    err = err or sys.stderr
    printer = PlainPrinter(watched, out)
    printer.emit(f"lossmon: watching {watched.source.describe()} (Ctrl+C stops watching; the job goes on)")
    signals = SignalStop(None).install()
    watched.start()
    code = 0
    finishing = False
    try:
        while signals.signum is None:
            time.sleep(0.2)
            printer.rates = watched.loaded and watched.job == states.RUNNING
            printer.poll()
            while watched.notices:
                printer.emit(f"lossmon: {watched.notices.popleft()[1]}")
            if watched.error:
                code = 1
                if watched.unreadable:
                    print(f"lossmon watch: {watched.error}", file=err)
                    code = 2
                break
            if once and watched.loaded:
                finishing = True
                break
            if _nothing_readable(watched) and not watched.source.torn:  # a torn last line may be a record yet
                print(f"lossmon watch: {no_records(watched.source)}", file=err)  # as check says it
                code = 2
                break
            if watched.loaded and watched.job in states.ENDED:
                printer.rates = False
                printer.poll(final=True)
                detail = f" ({watched.job_detail})" if watched.job_detail else ""
                printer.emit(f"lossmon: the job is {watched.job}{detail}")
                break
    finally:
        watched.close()
        signals.restore()
    if finishing:  # the file is taken as finished: its last line counts without its newline, as in check
        try:
            watched.finish()
        except SourceError as e:  # a CSV whose only line, its header, names no step column
            print(f"lossmon watch: {e}", file=err)
            return 2
        if _nothing_readable(watched):
            print(f"lossmon watch: {no_records(watched.source)}", file=err)
            return 2
        printer.rates = False
        printer.poll(final=True)
    if signals.signum is not None and not code:  # one last read and status line, as things are now
        try:
            watched.poll()
        except Exception:  # noqa: BLE001 - the last look is a courtesy, the exit is what matters
            pass
        printer.rates = False
        printer.poll(final=True)
        code = signals.exit_code
    return code


def _nothing_readable(watched: WatchedRun) -> bool:
    """A file with no job, read to its end, in which no line was a metric record (check's exit 2)."""
    return watched.loaded and watched.run_dir is None and not watched.store.names() and bool(watched.source.malformed)


def watch_tui(watched: WatchedRun, *, fps: float = 10.0, plot_hz: float = 4.0) -> int:
    """Show a run started elsewhere until the user quits; quitting (q, Ctrl+C or a signal) only
    closes this view."""
    from lossmon.views.tui.app import (
        LossmonApp,  # textual loads only when the live UI is used
    )

    app = LossmonApp(watched, watched, fps=fps, plot_hz=plot_hz, handle_signals=True, capture_output=False,
                     ui_budget=WATCH_UI_BUDGET)
    app.bell_on = bell_severity((watched.config or DiagnosisConfig()).notify)  # [notify] of --config
    watched.start()
    try:
        app.run()
    finally:
        watched.close()
    return 128 + app.signum if app.signum else (app.return_code or 0)  # Textual's 1 after a crash
