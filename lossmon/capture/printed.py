"""Validation losses the script prints ("step 500: train loss 1.62, val loss 1.79").

Many scripts evaluate the train split and the validation split in the same no-grad pass and only
their printed line says which number is which; a labelled number beats a guess. A line counts when
it names a held-out loss (val, valid, validation, eval, dev, test) right before a number. Once a
val/valid/eval label has been seen, "test loss" lines (a final test run, say) are left out.
"""

from __future__ import annotations

import re
from typing import Callable

_NUMBER = r"([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|nan|inf)"
_HELD_OUT = re.compile(r"(?<![A-Za-z])(val|valid|validation|eval|dev|test)[ _/.-]?loss(?![A-Za-z])"
                       r"\s*(?:[:=]|is)?\s*" + _NUMBER, re.IGNORECASE)
MAX_LINE = 2000  # longer lines are not looked at (a progress bar's whole history, say)


def held_out_loss(line: str, test_too: bool = True) -> tuple[str, float] | None:
    """(label, value) of the held-out loss a printed line names, the val/valid/eval one first."""
    if "oss" not in line or len(line) > MAX_LINE:
        return None
    found = [(m.group(1).lower(), m.group(2)) for m in _HELD_OUT.finditer(line)]
    if not found:
        return None
    found.sort(key=lambda lv: lv[0] == "test")  # val/valid/eval/dev before test
    label, text = found[0]
    if label == "test" and not test_too:
        return None
    try:
        value = float(text)
    except ValueError:
        return None
    return label, value


class PrintedLosses:
    """Feed it the script's output text in any chunks; `on_value(value)` gets each held-out loss."""

    def __init__(self, on_value: Callable[[float], None]) -> None:
        self._on_value = on_value
        self._partial = ""
        self.seen = 0
        self.labels: set[str] = set()

    def feed(self, text: str) -> None:
        if "\n" not in text:
            if len(self._partial) < MAX_LINE:
                self._partial += text
            return
        text = self._partial + text
        *lines, self._partial = text.split("\n")
        if len(self._partial) > MAX_LINE:
            self._partial = ""
        for line in lines:
            if "oss" in line:
                self._line(line[line.rfind("\r", 0, len(line) - 1) + 1:])  # a rewritten line: what it ended as

    def _line(self, line: str) -> None:
        found = held_out_loss(line, test_too=not (self.labels - {"test"}))
        if found is None:
            return
        label, value = found
        self.labels.add(label)
        self.seen += 1
        self._on_value(value)
