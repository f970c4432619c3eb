"""Keep the training code's print() and logging output off the UI, and keep all of it.

While the app runs, sys.stdout/sys.stderr are replaced by a writer that reads what is written as a
terminal would show it (output_lines.py: a progress bar's `\r` updates and cursor moves rewrite
its row in place). Finished lines go to a queue and to `output.log` in the run directory, so
nothing printed is lost even past the pane's scrollback; the rows still live (a bar's current
state, a line not ended yet) are shown under them. The log pane takes both at the UI's own pace:
never a message per print. At restore the live rows become lines too.
Logging handlers that were created before the app, with the real terminal as their stream, would
write straight over the UI: their streams are pointed at the same writer and put back afterwards.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

from lossmon.output_lines import OutputLines
from lossmon.output_tap import publish

MAX_QUEUED = 10_000  # lines waiting for the pane; older ones are still in output.log


class _Stream(io.TextIOBase):
    def __init__(self, capture: "OutputCapture", name: str) -> None:
        self._capture = capture
        self.name = name

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self._capture.write(text)
        return len(text)

    def flush(self) -> None:
        self._capture.flush()

    def isatty(self) -> bool:
        return False


class OutputCapture:
    """Lines written by the training code, for the log pane and for `output.log`."""

    def __init__(self, path: Path | None = None) -> None:
        self.lines: deque[str] = deque(maxlen=MAX_QUEUED)
        self.path = path
        self.total_lines = 0
        self._file: IO[str] | None = None
        self._model = OutputLines()
        self._live_version = -1
        self._lock = threading.Lock()
        self._saved: dict[str, Any] = {}
        self._handlers: list[tuple[logging.StreamHandler, Any]] = []
        # The streams as they were before the app started (Textual swaps sys.stdout/err itself):
        # a handler holding one of these would write over the UI.
        self._terminal_ids = {id(sys.stdout), id(sys.stderr), id(sys.__stdout__), id(sys.__stderr__)}
        self.stdout = _Stream(self, "<lossmon stdout>")
        self.stderr = _Stream(self, "<lossmon stderr>")

    def write(self, text: str) -> None:
        with self._lock:
            self._model.feed(text)
            self._keep(self._model.take())
        publish(text)

    def _keep(self, done: list[str]) -> None:
        """Finished lines: to the pane's queue and to output.log (the lock is held)."""
        if not done:
            return
        self.lines.extend(done)
        self.total_lines += len(done)
        if self._file is None and self.path is not None:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0), 0o644)
                self._file = os.fdopen(fd, "a", encoding="utf-8", errors="replace")  # never through a link
            except OSError:
                self.path = None
        if self._file is not None:
            try:
                self._file.write("".join(line + "\n" for line in done))
            except OSError:
                pass

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.flush()
                except OSError:
                    pass

    def drain(self) -> list[str]:
        """The finished lines written since the last drain (UI thread)."""
        with self._lock:
            q = self.lines
            return [q.popleft() for _ in range(len(q))]

    def take(self) -> tuple[list[str], list[str] | None]:
        """(the finished lines since the last take, the live rows or None if unchanged since),
        read together, so a row is never shown twice or skipped (UI thread)."""
        with self._lock:
            q = self.lines
            done = [q.popleft() for _ in range(len(q))]
            version = self._model.version
            if version == self._live_version:
                return done, None
            self._live_version = version
            return done, self._model.live()

    def install(self) -> "OutputCapture":
        terminal = self._terminal_ids | {id(sys.stdout), id(sys.stderr)}
        self._saved = {"stdout": sys.stdout, "stderr": sys.stderr}
        sys.stdout, sys.stderr = self.stdout, self.stderr
        for handler in _all_handlers():
            if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
                if id(handler.stream) in terminal:
                    self._handlers.append((handler, handler.setStream(self.stderr)))
        return self

    def restore(self) -> None:
        """Put the real streams and handlers back; the live rows (a partial last line, a bar's
        last state) are kept as lines."""
        if self._saved:
            if sys.stdout is self.stdout:
                sys.stdout = self._saved["stdout"]
            if sys.stderr is self.stderr:
                sys.stderr = self._saved["stderr"]
            self._saved = {}
        for handler, stream in self._handlers:
            handler.setStream(stream)
        self._handlers.clear()
        with self._lock:
            self._keep(self._model.close())
            if self._file is not None:
                try:
                    self._file.close()
                except OSError:
                    pass
                self._file = None


def _all_handlers() -> list[logging.Handler]:
    handlers = list(logging.getLogger().handlers)
    for logger in list(logging.Logger.manager.loggerDict.values()):
        if isinstance(logger, logging.Logger):
            handlers += logger.handlers
    return handlers
