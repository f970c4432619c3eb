"""The run a plain `python train.py` starts with its first `lossmon.log()` (or other module call).

Training stays on the script's own thread; lossmon adds the session's threads (pump, control
socket) and one printing status lines on stderr. `lossmon watch` from another terminal shows the
run live and steers it. The run ends with the interpreter (atexit), recording how: finished, or
failed / interrupted when an exception ended the script (sys.excepthook), or interrupted by
SIGTERM/SIGHUP -- which first ask for a stop, and when the script never asks
`lossmon.should_stop()`, end it there with SystemExit(128+signal) so the run log is still closed.
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
import traceback
from pathlib import Path
from typing import Any

from lossmon import events, states
from lossmon.rundir.layout import RunDirError
from lossmon.session.lifecycle import conclude
from lossmon.session.session import Session
from lossmon.training import distributed
from lossmon.training.run import Run
from lossmon.training.thread import Outcome
from lossmon.views.plain import PlainPrinter

PRINT_EVERY_S = 0.2


def script_name() -> str:
    main = sys.argv[0] if sys.argv and sys.argv[0] not in ("", "-c", "-m") else ""
    return Path(main).stem or "run"


class _Ended:
    """What conclude() needs of a trainer: this one is the script itself, and it has ended."""

    duration_s = None  # the script ran from the session's start: lifecycle.training_duration counts that

    def __init__(self, outcome: Outcome) -> None:
        self.outcome = outcome

    def is_alive(self) -> bool:
        return False


class ImplicitRun:
    """A session around the script that is running now, ended at interpreter exit."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.run = session.run
        self.printer = PlainPrinter(self.run, out=sys.stderr, started=session.started)
        self.exception: BaseException | None = None
        self.signum: int | None = None
        self.ended_by_signal = False  # the handler ended the script (SystemExit(128+signal))
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._print, name="lossmon-status", daemon=True)
        self._old_hook = sys.excepthook
        self._old_signals: dict[int, Any] = {}
        self._ended = False

    def start(self) -> "ImplicitRun":
        d = self.session.dir
        self.printer.emit(f"lossmon: recording '{self.run.name}' -> {d} (`lossmon watch {d}` shows it live and steers it)")
        self._thread.start()
        sys.excepthook = self._excepthook
        if threading.current_thread() is threading.main_thread():
            for name in ("SIGTERM", "SIGHUP"):
                sig = getattr(signal, name, None)
                if sig is not None and signal.getsignal(sig) is signal.SIG_DFL:
                    self._old_signals[sig] = signal.signal(sig, self._on_signal)
        atexit.register(self.end)
        return self

    def _print(self) -> None:
        while not self._done.wait(PRINT_EVERY_S):
            try:
                self.printer.poll()
            except Exception:  # noqa: BLE001 - status lines must never end the script
                pass

    def _excepthook(self, kind: type, value: BaseException, tb: Any) -> None:
        self.exception = value
        if not isinstance(value, KeyboardInterrupt):
            text = "".join(traceback.format_exception(kind, value, tb))
            self.run.record(events.ERROR, message=f"{kind.__name__}: {value}", traceback=text)
        self._old_hook(kind, value, tb)

    def _on_signal(self, signum: int, frame: Any) -> None:
        first = self.signum is None
        if first:
            self.signum = signum
            self.run.stop(source=signal.Signals(signum).name)
        if not first or not self.run.stop_polled:
            self.ended_by_signal = True
            raise SystemExit(128 + signum)

    def end(self) -> None:
        """Close the run log and say how the run ended (atexit; safe to call twice)."""
        if self._ended:
            return
        self._ended = True
        self._done.set()
        self._thread.join(1.0)
        for sig, old in self._old_signals.items():
            try:
                signal.signal(sig, old)
            except (ValueError, OSError):
                pass
        if sys.excepthook is self._excepthook:
            sys.excepthook = self._old_hook
        e = self.exception
        if isinstance(e, KeyboardInterrupt):
            outcome = Outcome(states.INTERRUPTED, e, None, exit_code=130)
        elif e is not None:
            outcome = Outcome(states.FAILED, e, None, exit_code=1)  # the traceback is printed already
        else:  # it returned: after a signal, because it asked should_stop() and stopped itself
            outcome = Outcome(states.STOPPED if self.run.should_stop else states.FINISHED)
        signum = self.signum if e is not None or self.ended_by_signal else None  # as the process exits
        conclude(self.session, _Ended(outcome), self.printer, signum=signum, forced=False)


def start_implicit() -> Run:
    """Start the run of the script that is running now (rank 0's; other ranks follow it)."""
    name = script_name()
    ranks = distributed.world()
    if ranks is not None and ranks[0] != 0:
        run = Run(name)
        run.join_distributed()
        return run  # api.current() makes it the active run
    try:
        session = Session(name)
    except RunDirError as e:
        print(f"lossmon: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if ranks is not None:
        session.run.join_distributed()
    ImplicitRun(session).start()
    return session.run
