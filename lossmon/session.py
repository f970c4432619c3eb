"""`lossmon.run()`: open a run directory, start the pump, run the training function under a view.

The session is the glue every view shares: it owns the Run, the run log writer, the pump and the
control socket, and records how the run ended in meta.json. Views (plain printer now, the TUI later) only decide how to
show the store and where the training function's thread comes from.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from lossmon.training import distributed
from lossmon.rundir.columns import ColumnWriter
from lossmon.control_socket import SOCKET, ControlServer
from lossmon.diagnosis import DiagnosisConfig, Diagnoser
from lossmon.diagnosis.config import ConfigError, coerce
from lossmon.diagnosis.live import TickBuffer
from lossmon.recording.pump import Pump
from lossmon.rundir.layout import RunDirError, create_run_dir
from lossmon.rundir.meta import initial_meta, write_meta
from lossmon.training.run import Run
from lossmon.rundir.runlog import RUN_LOG, RunLogWriter
from lossmon.training.signals import SignalStop

UI_MODES = ("auto", "tui", "plain")


@dataclass
class Outcome:
    """How the training function ended: state is finished, stopped, failed or interrupted (it
    raised KeyboardInterrupt); `exit_code` is the process status that ending calls for."""

    state: str
    error: BaseException | None = None
    traceback: str | None = None
    exit_code: int = 0


def call_training(train_fn: Callable[[Run], Any], run: Run) -> Outcome:
    """Run the training function to its end and record an exception as an `error` event.

    `sys.exit()` inside it ends training the way returning would (a non-zero status is a failure
    with that status); KeyboardInterrupt, which code that catches Ctrl+C itself may re-raise, is an
    interrupted run (exit 130), not a crash."""
    try:
        run.result = train_fn(run)
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return Outcome("stopped" if run.should_stop else "finished")
        status = code if isinstance(code, int) and 0 < code < 256 else 1
        said = None if isinstance(code, int) else f"{code}\n"  # sys.exit("why") prints why, once
        run.record("error", message=f"SystemExit: {code}", traceback=said)
        return Outcome("failed", e, said, exit_code=status)
    except KeyboardInterrupt as e:
        run.record("stop", source="KeyboardInterrupt")
        return Outcome("interrupted", e, None, exit_code=130)
    except BaseException as e:  # noqa: BLE001 - the caller decides what a failure means
        tb = traceback.format_exc()
        run.record("error", message=f"{type(e).__name__}: {e}", traceback=tb)
        return Outcome("failed", e, tb, exit_code=1)
    return Outcome("stopped" if run.should_stop else "finished")


class TrainerThread:
    """The training function on a daemon thread (a stuck trainer never keeps the process alive)."""

    def __init__(self, train_fn: Callable[[Run], Any], run: Run) -> None:
        self.outcome: Outcome | None = None
        self._thread = threading.Thread(target=self._target, args=(train_fn, run),
                                        name="lossmon-train", daemon=True)

    def _target(self, train_fn: Callable[[Run], Any], run: Run) -> None:
        self.outcome = call_training(train_fn, run)

    def start(self) -> "TrainerThread":
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)


class Session:
    """A run directory with its Run, run log writer, pump and metadata."""

    def __init__(self, name: str, run_dir: str | os.PathLike | None = None,
                 config: DiagnosisConfig | None = None) -> None:
        self.dir: Path = create_run_dir(name, run_dir)
        self.run = Run(name, self.dir)
        self.meta = initial_meta(name)
        self.writer = None
        try:
            self.writer = RunLogWriter(self.dir / RUN_LOG)
            write_meta(self.dir, self.meta)
        except OSError as e:
            if self.writer is not None:
                self.writer.close()
            raise RunDirError(f"cannot write in run directory {self.dir}: {e.strerror or e}") from None
        self.pump = Pump(self.run, self.writer, columns=ColumnWriter(self.dir))
        self.diagnoser = Diagnoser(config, sink=self._alert, act=self._act)
        feed = TickBuffer(self.diagnoser)
        self.pump.subscribers.append(feed)
        self.pump.flushers.append(feed.flush)
        self.started = time.monotonic()
        self.pump.start()
        self._closed = False
        self.control = ControlServer(self.run, self.dir / SOCKET)
        if not self.control.start():
            print(f"lossmon: no control channel for this run ({self.control.error})", file=sys.stderr)

    def _alert(self, alert: dict) -> None:
        """Alerts travel like every other event: queued on the run, logged and shown next tick."""
        fields = {k: v for k, v in alert.items() if k != "event"}
        self.run.record("alert", **fields)

    def _act(self, action: str, alert: dict) -> None:
        """A configured action (DiagnosisConfig: action = "pause" or "stop"; early stopping)."""
        source = "early_stopping" if alert["kind"] == "early_stopping" else f"diagnosis:{alert['kind']}"
        if action == "stop":
            self.run.stop(source=source)
        elif action == "pause":
            self.run.pause(source=source)

    def close(self, state: str, exit_code: int, error: str | None = None) -> None:
        """Flush and fsync the run log and record the final state. Safe to call twice."""
        if self._closed:
            return
        self._closed = True
        self.control.close()  # no command can arrive for a run that is ending
        self.pump.stop()
        if self.writer.unwritten_bytes:
            print(f"lossmon: {self.writer.unwritten_bytes} bytes of the run log could not be written"
                  f" ({self.writer.error})", file=sys.stderr)
            error = error or self.writer.error
        self.meta.update(state=state, exit_code=exit_code, end_time=time.time(),
                         steps=self.run.step, duration_s=round(time.monotonic() - self.started, 3))
        if error:
            self.meta["error"] = error
        try:
            write_meta(self.dir, self.meta)
        except OSError as e:
            print(f"lossmon: could not update {self.dir / 'meta.json'}: {e}", file=sys.stderr)


def has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def tui_available() -> bool:
    try:
        import lossmon.views.tui  # noqa: F401
    except ImportError:
        return False
    return True


def choose_ui(ui: str) -> str:
    """'plain' when asked or when stdin/stdout is not a terminal (nohup, CI, a pipe)."""
    if ui not in UI_MODES:
        raise ValueError(f"ui must be one of {', '.join(UI_MODES)}; got {ui!r}")
    if ui == "plain" or not has_terminal():
        return "plain"
    if tui_available():
        return "tui"
    if ui == "tui":
        raise ValueError("ui='tui': the live terminal UI cannot be loaded (is textual installed?)")
    return "plain"


def _run_follower(train_fn: Callable[[Run], Any], name: str) -> Run:
    """A rank other than 0 of a torch.distributed job: no view, no run log; training runs right
    here, and rank 0's control reaches it through the exchange in its optimizer steps."""
    run = Run(name)
    run.join_distributed()

    def force() -> None:
        raise KeyboardInterrupt

    signals = SignalStop(run, on_second=force).install()
    try:
        run.result = train_fn(run)
    finally:
        signals.restore()
    if signals.signum is not None:
        raise SystemExit(signals.exit_code)
    return run


def run(train_fn: Callable[[Run], Any], *, name: str | None = None,
        run_dir: str | os.PathLike | None = None, ui: str = "auto",
        fps: float = 10.0, plot_hz: float = 4.0, config: Any = None) -> Run:
    """Run `train_fn(run)` under the live monitor and return the Run when training ends.

    In a terminal the TUI shows the run; otherwise (nohup, CI, a pipe, or ui="plain") plain status
    lines are printed. The run log goes to `run_dir` (default ./lossmon_runs/<time>-<name>/).
    A training exception is printed once and the process exits 1; SIGINT/SIGTERM/SIGHUP stop
    training at the next step and exit 130/143/129 after the run log is closed.

    `config` sets the detectors: a `lossmon.DiagnosisConfig`, a dict of its sections, or the path
    of a TOML file; each detector's `action` ("alert", "pause" or "stop") says what an alert does.

    `fps` (numbers) and `plot_hz` (plot and sparklines) are the most often the TUI repaints; it
    repaints less often when that would take more than ~2 % of a core from training. Lower them on a
    slow SSH link.

    Under torch.distributed (initialise it first), call it on every rank: rank 0 shows the view and
    writes the run log; control from rank 0 takes effect on all ranks at the same optimizer step
    (watch the optimizer on every rank); log() on the other ranks does nothing.
    """
    if not callable(train_fn):
        raise TypeError("lossmon.run() needs the training function, called as train_fn(run)")
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    for label, rate in (("fps", fps), ("plot_hz", plot_hz)):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 60:
            raise ValueError(f"{label} must be a number in (0, 60], got {rate!r}")
    try:
        diag_config = coerce(config)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    mode = choose_ui(ui)
    name = name or getattr(train_fn, "__name__", None) or "run"
    if name == "<lambda>":
        name = "run"
    ranks = distributed.world()
    if ranks is not None and ranks[0] != 0:
        return _run_follower(train_fn, name)
    try:
        session = Session(name, run_dir, diag_config)
    except RunDirError as e:
        print(f"lossmon: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if ranks is not None:
        session.run.join_distributed()
    if mode == "plain":
        from lossmon.views.plain import run_plain

        code = run_plain(session, train_fn)
    else:
        from lossmon.views.tui import run_tui

        code = run_tui(session, train_fn, fps=fps, plot_hz=plot_hz)
    if code:
        raise SystemExit(code)
    return session.run
