"""`lossmon run SCRIPT.py [ARGS]` / `lossmon run -m MODULE [ARGS]`: an unmodified script as the
training function.

The script runs as `python SCRIPT.py ARGS` would run it -- `__name__ == "__main__"`, its own
`sys.argv`, `__file__`, and its directory as `sys.path[0]` -- but on the monitor's training thread,
with capture (lossmon.capture) installed unless turned off. `sys.exit(n)` inside it is the
command's exit status.

Off the main thread, `signal.signal()` raises ValueError; a script that sets its own SIGTERM or
SIGINT handler would die of it. While the script runs, such a call from its thread is noted
(an event says so) and kept for `signal.getsignal()`, and lossmon goes on owning the signal: the
first one stops training at the next step, as it does for every script.
"""

from __future__ import annotations

import importlib.util
import os
import runpy
import signal
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from lossmon import events
from lossmon.training.run import Run


class ScriptError(Exception):
    """The script or module cannot be run (the message is one line for the user)."""


@dataclass
class Script:
    """What to run: a file (`path`) or a module (`module`), with its arguments."""

    path: Path | None = None
    module: str | None = None
    args: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.stem if self.path is not None else (self.module or "run").rsplit(".", 1)[-1]

    def check(self) -> "Script":
        """Fail early, in one line, for a file that is not there or a module that cannot be found."""
        if self.path is not None:
            if self.path.is_dir():
                if not (self.path / "__main__.py").is_file():
                    raise ScriptError(f"{self.path} is a directory with no __main__.py")
            elif not self.path.is_file():
                raise ScriptError(f"no such file: {self.path}")
            return self
        sys.path.insert(0, os.getcwd())  # where `python -m` looks first
        try:
            spec = importlib.util.find_spec(self.module)
        except (ImportError, ValueError) as e:
            raise ScriptError(f"cannot find module {self.module!r}: {e}") from None
        finally:
            sys.path.pop(0)
        if spec is None:
            raise ScriptError(f"no module named {self.module!r}")
        return self


def script_training(script: Script, *, capture: bool = True,
                    on_step: Callable[[Any, Any], None] | None = None,
                    total_steps: int | None = None) -> Callable[[Run], Any]:
    """The training function that runs `script` as __main__ on the training thread (`on_step`:
    see Capture; `total_steps`: the run's length, which a script cannot tell lossmon)."""

    def train(run: Run) -> Any:
        if total_steps is not None:
            run.total_steps = total_steps
        cap = None
        if capture:
            from lossmon.capture import Capture

            cap = run.capture = Capture(run, on_step=on_step).install()
        saved_argv, saved_path0 = sys.argv[:], sys.path[0] if sys.path else None
        from lossmon.capture.arguments import ArgsCapture

        args_capture = ArgsCapture(run).install()  # its argparse Namespace: the run's config
        signals = _ScriptSignals(run).install()
        try:
            if script.path is not None:
                path = script.path
                sys.argv = [str(path), *script.args]
                here = path if path.is_dir() else path.parent
                _set_path0(str(here.resolve()))
                runpy.run_path(str(path), run_name="__main__")
            else:
                sys.argv = [script.module, *script.args]  # run_module puts the module's file in argv[0]
                _set_path0(os.getcwd())
                runpy.run_module(script.module, run_name="__main__", alter_sys=True)
        finally:
            if cap is not None:
                try:
                    cap.finish()
                finally:
                    cap.uninstall()
            signals.uninstall()
            args_capture.uninstall()
            sys.argv = saved_argv
            if saved_path0 is not None:
                _set_path0(saved_path0)

    train.__name__ = script.name
    return train


def _set_path0(entry: str) -> None:
    if sys.path:
        sys.path[0] = entry
    else:
        sys.path.insert(0, entry)


class _ScriptSignals:
    """`signal.signal`/`getsignal` for the script's thread: noted and kept, not installed."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self.thread = threading.current_thread()
        self.kept: dict[int, Any] = {}
        self._signal = self._getsignal = None

    def install(self) -> "_ScriptSignals":
        if self.thread is threading.main_thread():
            return self  # a follower rank runs the script on the main thread: nothing to stand in for
        self._signal, self._getsignal = signal.signal, signal.getsignal
        real_signal, real_get, note = self._signal, self._getsignal, self._note
        mine = self.thread

        def signal_(signum, handler):
            if threading.current_thread() is not mine:
                return real_signal(signum, handler)
            return note(signum, handler)

        def getsignal(signum):
            if threading.current_thread() is mine and signum in self.kept:
                return self.kept[signum]
            return real_get(signum)

        signal.signal, signal.getsignal = signal_, getsignal
        return self

    def _note(self, signum: Any, handler: Any) -> Any:
        old = self.kept.get(signum, self._getsignal(signum))
        self.kept[signum] = handler
        try:
            name = signal.Signals(signum).name
        except ValueError:
            name = str(signum)
        self.run.record(events.CAPTURE, what="signal", message=f"the script's own {name} handler is kept but not"
                        " installed: lossmon owns the signals (the first stops training at the next step)")
        return old

    def uninstall(self) -> None:
        if self._signal is not None:
            signal.signal, signal.getsignal = self._signal, self._getsignal
            self._signal = self._getsignal = None
