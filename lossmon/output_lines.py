"""A tiny model of terminal rows: what a stream of text shows as lines once `\\r`, cursor moves
and erases have done their work (progress bars: tqdm, Lightning's and the HF Trainer's bars).

Text is fed in pieces, as a program writes it. `\\n` moves to the next row, `\\r` to the start of
the row, text overwrites the row from the cursor on; ESC[A / ESC[B / ESC[F / ESC[E move between
rows, ESC[C / ESC[D / ESC[G within one, ESC[K / ESC[2K erase; every other escape sequence (colours,
OSC titles) and control character is dropped. The rows the cursor can still come back to form the
live region; a row above it is committed, as a finished line, once the cursor is too far below to
return: at once for an ordinary line, after `BAR_REACH` rows (or the furthest the stream has been
seen to move back up) for a row that was ever rewritten in place. `close()` commits the rest.

A committed row that was rewritten loses its trailing blanks (tqdm pads and clears with spaces);
one rewritten to nothing (a bar with leave=False, a line that was erased) is no line at all. A row
written straight through is committed exactly as written, an empty `print()` as an empty line.
"""

from __future__ import annotations

import re

BAR_REACH = 4  # rows a rewritten row stays live above the cursor (nested bars move up this far)
MAX_LIVE = 256  # rows held live at most; older ones are committed whatever may come back
MAX_COLS = 10_000  # a row that grows past this wraps (a line that never ends is kept in pieces)
MAX_PENDING = 4096  # characters of an escape sequence cut by the end of a write, held for the next

_TOKEN = re.compile(
    r"[^\x00-\x1f\x7f]+"                    # text
    r"|\x1b\[([0-?]*)[ -/]*([@-~])"          # CSI: parameters, final byte
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)"    # OSC (a window title, a hyperlink)
    r"|\x1b[ -/]*[0-~]"                      # any other escape sequence
    r"|[\x00-\x1f\x7f]",                      # one control character
)
# an escape sequence the next write may finish
_UNFINISHED = re.compile(r"\x1b(?:\[[0-?]*[ -/]*|\][^\x07\x1b]*(?:\x1b)?|[ -/]*)?\Z")


class _Row:
    __slots__ = ("text", "rewritten", "shown", "ended")

    def __init__(self) -> None:
        self.text = ""
        self.rewritten = False  # \r, an erase or a cursor move touched it: a bar's row
        self.shown = False  # it held something visible once
        self.ended = False  # a newline was written on it

    def line(self) -> str | None:
        """What the row leaves behind as a line; None for no line."""
        if not self.rewritten:
            return self.text if (self.text or self.ended) else None
        text = self.text.rstrip()
        if text:
            return text
        return None if (self.shown or not self.ended) else ""


class OutputLines:
    """Text written to a terminal, as finished lines (`commit`ted in order) and live rows."""

    def __init__(self) -> None:
        self._rows: list[_Row] = [_Row()]
        self._row = 0  # the cursor's row in the live region
        self._col = 0
        self._reach = 0  # the furthest the stream has moved back up
        self._pending = ""  # an escape sequence cut by the end of a write
        self.committed: list[str] = []  # finished lines not taken yet (see take())
        self.version = 0  # changes whenever the live rows may have

    # ---- reading ------------------------------------------------------------------------------

    def take(self) -> list[str]:
        """The lines committed since the last take()."""
        done, self.committed = self.committed, []
        return done

    def live(self) -> list[str]:
        """The live rows as they show now (a bar's current state, an unfinished line)."""
        return [line for line in (r.line() for r in self._rows) if line is not None]

    # ---- writing ------------------------------------------------------------------------------

    def feed(self, text: str) -> None:
        if self._pending:
            text, self._pending = self._pending + text, ""
        if not text:
            return
        esc = text.rfind("\x1b")
        if esc >= 0 and len(text) - esc <= MAX_PENDING and _UNFINISHED.match(text, esc):
            text, self._pending = text[:esc], text[esc:]  # the next write finishes it
        self.version += 1
        pos, end = 0, len(text)
        while pos < end:
            m = _TOKEN.match(text, pos)  # every character starts some token
            tok = m.group(0)
            pos = m.end()
            c = tok[0]
            if c == "\x1b":
                if m.group(2) is not None:
                    self._csi(m.group(1), m.group(2))
            elif c >= " " and c != "\x7f":
                self._put(tok)
            elif c == "\n":
                self._newline()
            elif c == "\r":
                self._col = 0
                self._rows[self._row].rewritten = True
            elif c == "\b":
                self._col = max(0, self._col - 1)
            elif c == "\t":
                self._put(c)
            # other control characters (a bell) show nothing

    def close(self) -> list[str]:
        """Commit every live row (the end of the stream); the model starts afresh."""
        self._pending = ""
        for r in self._rows:
            line = r.line()
            if line is not None:
                self.committed.append(line)
        self._rows, self._row, self._col, self._reach = [_Row()], 0, 0, 0
        self.version += 1
        return self.take()

    # ---- the terminal -------------------------------------------------------------------------

    def _put(self, s: str) -> None:
        while s:
            row = self._rows[self._row]
            room = MAX_COLS - self._col
            if room <= 0:
                self._newline()
                continue
            piece, s = s[:room], s[room:]
            text, col = row.text, self._col
            if col > len(text):
                text += " " * (col - len(text))
            row.text = text[:col] + piece + text[col + len(piece):]
            self._col = col + len(piece)
            if not row.shown and piece.strip():
                row.shown = True

    def _newline(self) -> None:
        self._rows[self._row].ended = True
        self._col = 0
        self._row += 1
        if self._row == len(self._rows):
            self._rows.append(_Row())
        self._commit()

    def _move(self, rows: int) -> None:
        if rows < 0:
            self._reach = max(self._reach, len(self._rows) - 1 - (self._row + rows))
        self._row = max(0, self._row + rows)
        while self._row >= len(self._rows):
            self._rows.append(_Row())
        self._rows[self._row].rewritten = True
        self._commit()

    def _csi(self, params: str, final: str) -> None:
        if final in "ABCDEFGK" and not params.startswith(("<", "=", ">", "?")):
            first = params.split(";")[0]
            n = int(first) if first.isdigit() else 0
        else:
            return  # colours, modes, absolute positions, erasing the screen: nothing a line keeps
        row = self._rows[self._row]
        if final == "A":
            self._move(-max(n, 1))
        elif final == "B":
            self._move(max(n, 1))
        elif final == "F":
            self._move(-max(n, 1))
            self._col = 0
        elif final == "E":
            self._move(max(n, 1))
            self._col = 0
        elif final == "C":
            self._col = min(MAX_COLS, self._col + max(n, 1))
        elif final == "D":
            self._col = max(0, self._col - max(n, 1))
        elif final == "G":
            self._col = min(MAX_COLS, max(n, 1) - 1)
        elif final == "K":
            row.rewritten = True
            if n == 0:
                row.text = row.text[:self._col]
            elif n == 1:
                row.text = " " * min(self._col + 1, len(row.text)) + row.text[self._col + 1:]
            elif n == 2:
                row.text = ""

    def _commit(self) -> None:
        """Commit the top rows the cursor can no longer come back to."""
        rows = self._rows
        n = 0
        while n < self._row:
            r = rows[n]
            reach = max(self._reach, BAR_REACH) if r.rewritten else self._reach
            if self._row - n <= reach and len(rows) - n <= MAX_LIVE:
                break
            line = r.line()
            if line is not None:
                self.committed.append(line)
            n += 1
        if n:
            del rows[:n]
            self._row -= n
