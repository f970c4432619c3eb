"""The training function on lossmon's own thread, and how it ended (an `Outcome`).

A daemon thread rather than a Textual worker: Textual's thread workers live on asyncio's default
executor, which the interpreter joins at exit, so a trainer that never returns would hang the
process after quitting; with a daemon thread a second `q` (or Ctrl+C) always gets out.
"""

from __future__ import annotations

import os
import threading
import time
import traceback
from pathlib import Path
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Callable

from lossmon import events, states

if TYPE_CHECKING:  # pragma: no cover
    from lossmon.training.run import Run


@dataclass
class Outcome:
    """How the training function ended: state is finished, stopped, failed or interrupted (it
    raised KeyboardInterrupt); `exit_code` is the process status that ending calls for."""

    state: str
    error: BaseException | None = None
    traceback: str | None = None
    exit_code: int = 0


def call_training(train_fn: Callable[["Run"], Any], run: "Run") -> Outcome:
    """Run the training function to its end and record an exception as an `error` event.

    `sys.exit()` inside it ends training the way returning would (a non-zero status is a failure
    with that status); KeyboardInterrupt, which code that catches Ctrl+C itself may re-raise, is an
    interrupted run (exit 130), not a crash."""
    try:
        run.result = train_fn(run)
    except SystemExit as e:
        code = e.code
        if code is None or code == 0:
            return Outcome(states.STOPPED if run.should_stop else states.FINISHED)
        status = code if isinstance(code, int) and 0 < code < 256 else 1
        said = None if isinstance(code, int) else f"{code}\n"  # sys.exit("why") prints why, once
        run.record(events.ERROR, message=f"SystemExit: {code}", traceback=said)
        return Outcome(states.FAILED, e, said, exit_code=status)
    except KeyboardInterrupt as e:
        if run.stop_requested:  # lossmon's own stop, raised at a step boundary (StopTraining)
            return Outcome(states.STOPPED)
        run.record(events.STOP, source="KeyboardInterrupt")
        return Outcome(states.INTERRUPTED, e, None, exit_code=130)
    except BaseException as e:  # noqa: BLE001 - the caller decides what a failure means
        tb = "".join(traceback.format_exception(type(e), e, _user_frames(e.__traceback__)))
        run.record(events.ERROR, message=f"{type(e).__name__}: {e}", traceback=tb)
        return Outcome(states.FAILED, e, tb, exit_code=1)
    return Outcome(states.STOPPED if run.should_stop else states.FINISHED)


_PACKAGE = str(Path(__file__).resolve().parent.parent) + os.sep


def _ours(filename: str) -> bool:
    return filename.startswith(_PACKAGE) or filename == "<frozen runpy>" or filename.endswith(os.sep + "runpy.py")


def _user_frames(tb: Any) -> Any:
    """The traceback from the first frame of the user's code: lossmon's and runpy's frames above it
    (how the training function or script was called) say nothing to the user. All of it if the
    error is lossmon's own."""
    first = tb
    while first is not None and _ours(first.tb_frame.f_code.co_filename):
        first = first.tb_next
    return first if first is not None else tb


class TrainerThread:
    """The training function on a daemon thread (a stuck trainer never keeps the process alive)."""

    def __init__(self, train_fn: Callable[["Run"], Any], run: "Run") -> None:
        self.outcome: Outcome | None = None
        self.duration_s: float | None = None  # the training function's own run time, once it returned
        self._thread = threading.Thread(target=self._target, args=(train_fn, run),
                                        name="lossmon-train", daemon=True)

    def _target(self, train_fn: Callable[["Run"], Any], run: "Run") -> None:
        began = time.monotonic()
        try:
            self.outcome = call_training(train_fn, run)
        finally:
            self.duration_s = time.monotonic() - began

    def start(self) -> "TrainerThread":
        self._thread.start()
        return self

    def is_alive(self) -> bool:
        return self._thread.is_alive()

    def join(self, timeout: float | None = None) -> None:
        self._thread.join(timeout)
