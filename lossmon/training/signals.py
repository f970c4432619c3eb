"""SIGINT/SIGTERM/SIGHUP as a graceful stop: the first asks training to stop at its next step, a
second one forces (the caller decides what forcing means). Schedulers and `timeout` send SIGTERM;
nohup leaves SIGHUP ignored, and an ignored signal stays ignored."""

from __future__ import annotations

import signal
import threading
from typing import TYPE_CHECKING, Any, Callable

if TYPE_CHECKING:  # pragma: no cover
    from lossmon.training.run import Run

_SIGNALS = [s for s in ("SIGINT", "SIGTERM", "SIGHUP") if hasattr(signal, s)]


class SignalStop:
    """Turns SIGINT/SIGTERM/SIGHUP into a graceful stop; a second signal forces. With no run
    (a watcher: the job is not ours to stop) the first signal is only noted in `signum`."""

    def __init__(self, run: "Run | None", on_second: Callable[[], None] | None = None) -> None:
        self.run = run
        self._on_second = on_second
        self.signum: int | None = None
        self.forced = False
        self._old: dict[int, Any] = {}

    def install(self) -> "SignalStop":
        if threading.current_thread() is not threading.main_thread():
            return self  # signal handlers can only be set from the main thread
        for name in _SIGNALS:
            sig = getattr(signal, name)
            old = signal.getsignal(sig)
            if old is signal.SIG_IGN:  # nohup ignores SIGHUP: keep it ignored
                continue
            self._old[sig] = old
            signal.signal(sig, self._handle)
        return self

    def restore(self) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()

    def _handle(self, signum: int, frame: Any) -> None:
        if self.signum is None:
            self.signum = signum
            if self.run is not None:
                self.run.stop(source=signal.Signals(signum).name)
        else:
            self.forced = True
            if self._on_second is not None:
                self._on_second()

    @property
    def exit_code(self) -> int:
        return 128 + self.signum if self.signum is not None else 0
