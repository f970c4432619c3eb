"""Plain mode's lines never glue onto a progress bar's unfinished line.

In plain mode the training code writes straight to the terminal (or the file, the pipe). While a
run goes on, sys.stdout and sys.stderr are thin wrappers that pass everything through and note
whether the destination is left with an open line (a bar drawn with `\\r`, a print without its
newline). lossmon's own lines go through `status_stream()`, which writes a whole line at a time
and first starts a fresh line: on a terminal a bar's line is cleared (`\\r` + ESC[2K) and the bar
draws itself again at its next update; in a file or a pipe a newline ends the open line first.
stdout and stderr that lead to the same place (one terminal, one file) share what they know.
"""

from __future__ import annotations

import os
import sys
import threading
from typing import IO, Any

from lossmon import output_tap

CLEAR_LINE = "\r\x1b[2K"


class _Place:
    """Where text ends up, as far as line breaks go."""

    def __init__(self, tty: bool) -> None:
        self.tty = tty
        self.open = False  # the last thing written did not end its line
        self.bar = False  # and that line was last started with \r: a progress bar's
        self.lock = threading.RLock()

    def wrote(self, text: str) -> None:
        if not text:
            return
        self.open = text[-1] != "\n"
        cr, nl = text.rfind("\r"), text.rfind("\n")
        if cr >= 0 or nl >= 0:
            self.bar = cr > nl


class TrackedStream:
    """A real stream, passed through, with what it leaves open noted."""

    def __init__(self, real: IO[str], place: _Place) -> None:
        self.real = real
        self.place = place

    def write(self, text: str) -> int:
        with self.place.lock:
            n = self.real.write(text)
            self.place.wrote(text)
        output_tap.publish(text)
        return n

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # fileno, isatty, encoding, buffer, flush ...
        return getattr(self.real, name)


class _StatusStream:
    """lossmon's own lines: whole lines only, each on a fresh line."""

    def __init__(self, real: IO[str], place: _Place) -> None:
        self.real = real
        self.place = place
        self._buf = ""

    def write(self, text: str) -> int:
        self._buf += text
        if "\n" in self._buf:
            done, _, self._buf = self._buf.rpartition("\n")
            self._emit(done + "\n")
        return len(text)

    def flush(self) -> None:
        if self._buf:
            text, self._buf = self._buf, ""
            self._emit(text)
        self.real.flush()

    def _emit(self, text: str) -> None:
        place = self.place
        with place.lock:
            if place.open:
                self.real.write(CLEAR_LINE if (place.tty and place.bar) else "\n")
            self.real.write(text)
            place.wrote(text)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _identity(stream: Any) -> Any:
    """What a stream writes to: a (device, inode) where it has a file descriptor, else itself."""
    try:
        st = os.fstat(stream.fileno())
        return (st.st_dev, st.st_ino)
    except (AttributeError, OSError, ValueError):  # io.UnsupportedOperation is both of the last two
        return id(stream)


def _isatty(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, OSError, ValueError):
        return False


class PlainStreams:
    """sys.stdout/sys.stderr tracked while a plain run goes on (install/restore, or `with`)."""

    def __init__(self) -> None:
        self._saved: dict[str, Any] = {}
        self._places: dict[Any, _Place] = {}
        self.stdout: TrackedStream | None = None
        self.stderr: TrackedStream | None = None

    def _place(self, stream: Any) -> _Place:
        key = _identity(stream)
        if key not in self._places:
            self._places[key] = _Place(_isatty(stream))
        return self._places[key]

    def install(self) -> "PlainStreams":
        self._saved = {"stdout": sys.stdout, "stderr": sys.stderr}
        if sys.stdout is not None:
            self.stdout = TrackedStream(sys.stdout, self._place(sys.stdout))
            sys.stdout = self.stdout
        if sys.stderr is not None:
            self.stderr = TrackedStream(sys.stderr, self._place(sys.stderr))
            sys.stderr = self.stderr
        return self

    def restore(self) -> None:
        if self._saved:
            if self.stdout is not None and sys.stdout is self.stdout:
                sys.stdout = self._saved["stdout"]
            if self.stderr is not None and sys.stderr is self.stderr:
                sys.stderr = self._saved["stderr"]
            self._saved = {}

    def status_stream(self, out: IO[str] | None = None) -> Any:
        """A stream for lossmon's lines to `out` (stdout by default) that starts each on a fresh line."""
        if out is None or out is self.stdout:
            out = self._saved.get("stdout", sys.stdout)
        elif out is self.stderr:
            out = self._saved.get("stderr", sys.stderr)
        return _StatusStream(out, self._place(out))

    def __enter__(self) -> "PlainStreams":
        return self.install()

    def __exit__(self, *exc: object) -> None:
        self.restore()
