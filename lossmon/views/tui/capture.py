"""Keep the training code's print() and logging output off the UI, and keep all of it.

While the app runs, sys.stdout/sys.stderr are replaced by a writer that appends whole lines to a
queue (the log pane drains it at the UI's own pace: never a message per print) and to
`output.log` in the run directory, so nothing printed is lost even past the pane's scrollback.
Logging handlers that were created before the app, with the real terminal as their stream, would
write straight over the UI: their streams are pointed at the same writer and put back afterwards.
"""

from __future__ import annotations

import io
import logging
import sys
import threading
from collections import deque
from pathlib import Path
from typing import IO, Any

MAX_QUEUED = 10_000  # lines waiting for the pane; older ones are still in output.log
MAX_PARTIAL = 10_000  # characters of an unfinished line held back


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
        self._partial = ""
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
            if self._file is None and self.path is not None:
                try:
                    self._file = open(self.path, "a", encoding="utf-8", errors="replace")
                except OSError:
                    self.path = None
            if self._file is not None:
                try:
                    self._file.write(text)
                except OSError:
                    pass
            text = self._partial + text
            *done, partial = text.split("\n")
            for line in done:  # a progress bar rewrites its line with "\r": keep what a terminal shows
                line = line.rstrip("\r")
                self.lines.append(line[line.rfind("\r") + 1:])
            self.total_lines += len(done)
            partial = partial[partial.rfind("\r") + 1:] if "\r" in partial else partial
            if len(partial) > MAX_PARTIAL:  # a line that never ends is shown in pieces, not kept whole
                self.lines.append(partial)
                self.total_lines += 1
                partial = ""
            self._partial = partial

    def flush(self) -> None:
        with self._lock:
            if self._file is not None:
                try:
                    self._file.flush()
                except OSError:
                    pass

    def drain(self) -> list[str]:
        """The complete lines written since the last drain (UI thread)."""
        q = self.lines
        return [q.popleft() for _ in range(len(q))]

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
        """Put the real streams and handlers back; a partial last line is kept as a line."""
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
            if self._partial:
                self.lines.append(self._partial)
                self.total_lines += 1
                self._partial = ""
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
