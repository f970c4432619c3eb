"""A braille dot canvas in numpy: 2x4 dots per terminal cell, one owner (colour) per cell.

Everything is whole-array work on a grid of at most a few hundred thousand dots, so a frame costs
the same whatever the history length: the plot hands in per-dot-column spans computed from the
store's min/max envelope, never the points themselves. No Textual or Rich here; the widget turns
the rows into styled segments.
"""

from __future__ import annotations

import numpy as np

# Bit of each dot in a braille cell, indexed [row 0..3][col 0..1] (Unicode braille patterns).
_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], dtype=np.uint8)
_BLANK = -1


def _run_bits() -> np.ndarray:
    """[half][first][stop]: the bits of dot rows first..stop-1 in the left (0) or right (1) half."""
    table = np.zeros((2, 5, 5), dtype=np.uint8)
    for half in range(2):
        for a in range(5):
            for b in range(a, 5):
                table[half, a, b] = np.bitwise_or.reduce(_BITS[a:b, half]) if b > a else 0
    return table


_RUN_BITS = _run_bits()


class Canvas:
    """`width` x `height` cells; dots are addressed (x, y) with y = 0 at the top."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = max(1, width), max(1, height)
        self.dots_w, self.dots_h = 2 * self.width, 4 * self.height
        self.bits = np.zeros((self.height, self.width), dtype=np.uint8)
        self.owner = np.full((self.height, self.width), _BLANK, dtype=np.int16)
        self.chars = np.zeros((self.height, self.width), dtype=np.uint32)  # overlay glyphs, 0 = none
        self._cell_top = (4 * np.arange(self.height))[:, None]

    def spans(self, top: np.ndarray, bottom: np.ndarray, layer: int) -> None:
        """Light dots top[x]..bottom[x] (inclusive, dot rows) in every dot column x; NaN = none.

        Layers are painted in call order: a cell takes the colour of the last layer with a dot in it.
        """
        top = np.asarray(top, dtype=np.float64)
        bottom = np.asarray(bottom, dtype=np.float64)
        ok = np.isfinite(top) & np.isfinite(bottom)
        t = np.where(ok, np.rint(np.clip(np.minimum(top, bottom), 0, self.dots_h - 1)), 1).astype(np.int64)
        b = np.where(ok, np.rint(np.clip(np.maximum(top, bottom), 0, self.dots_h - 1)), 0).astype(np.int64)
        # For each cell row h, the dot rows of this column inside it: [t - 4h, b - 4h] clipped to 0..4.
        first = np.clip(t[None, :] - self._cell_top, 0, 4)
        stop = np.clip(b[None, :] + 1 - self._cell_top, 0, 4)
        stop = np.maximum(stop, first)
        half = (np.arange(self.dots_w) & 1)[None, :]
        bits = _RUN_BITS[half, first, stop].reshape(self.height, self.width, 2)
        bits = bits[:, :, 0] | bits[:, :, 1]
        self.bits |= bits
        self.owner[bits != 0] = layer

    def put(self, row: np.ndarray, col: np.ndarray, glyph: str, layer: int) -> None:
        """Draw a glyph over whole cells (markers); out-of-range cells are skipped."""
        row, col = np.asarray(row, dtype=np.int64), np.asarray(col, dtype=np.int64)
        ok = (row >= 0) & (row < self.height) & (col >= 0) & (col < self.width)
        self.chars[row[ok], col[ok]] = ord(glyph)
        self.owner[row[ok], col[ok]] = layer

    def rows(self) -> list[list[tuple[str, int]]]:
        """Each row as runs of (text, layer); blank cells join the run before them (fewer colour
        changes on the wire), and a row that starts blank has layer -1."""
        code = np.where(self.bits != 0, 0x2800 + self.bits.astype(np.uint32), 0x20)
        code = np.where(self.chars != 0, self.chars, code).astype(np.uint32)
        owner = self.owner
        blank = (self.bits == 0) & (self.chars == 0)
        # forward-fill blank cells with the owner of the cell before them
        idx = np.where(blank, 0, np.arange(self.width)[None, :])
        np.maximum.accumulate(idx, axis=1, out=idx)
        filled = np.take_along_axis(owner, idx, axis=1)  # a row's leading blanks keep -1
        text = code.tobytes().decode("utf-32-le")
        w = self.width
        out: list[list[tuple[str, int]]] = []
        change_r, change_c = np.nonzero(filled[:, 1:] != filled[:, :-1])
        k = 0
        for r in range(self.height):
            row = text[r * w:(r + 1) * w]
            runs = []
            s0 = 0
            while k < len(change_r) and change_r[k] == r:
                c = int(change_c[k]) + 1
                runs.append((row[s0:c], int(filled[r, s0])))
                s0 = c
                k += 1
            runs.append((row[s0:], int(filled[r, s0])))
            out.append(runs)
        return out
