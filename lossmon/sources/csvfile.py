"""CSV files with a step column, Lightning's CSVLogger metrics.csv among them, tailed.

Lightning rewrites metrics.csv from the top when a new metric appears (a wider header); that, or
any other rewrite, shows as a changed header or a shrunk file, and the file is read again.
Empty cells mean "not logged at that step". Non-finite cells may be nan/inf/Infinity in any case.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

from lossmon import names
from lossmon.rundir.runlog import parse_step
from lossmon.sources.base import CHUNK, FileState, Source, SourceError, Update

MAX_LINE = 64 << 20  # a longer row is malformed and dropped as it streams by, never held whole
STEP_COLUMNS = ("step", "global_step", "Step", "iteration")
_SPECIAL = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf, "-inf": -math.inf}


def _row(line: str) -> list[str] | None:
    try:
        return next(csv.reader([line.rstrip("\r")]), None)
    except csv.Error:
        return None


def number(cell: str) -> float | None:
    cell = cell.strip()
    if not cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return _SPECIAL.get(cell.strip('"').lower())


class CsvSource(Source):
    def __init__(self, path: Path, lightning: bool = False) -> None:
        super().__init__(path)
        self.format = "Lightning CSV" if lightning else "CSV"
        self.state = FileState(path)
        self._restart()

    def _restart(self) -> None:
        self.offset = 0
        self.header: list[str] | None = None
        self.header_bytes = b""
        self.step_col = -1
        self._partial = b""
        self._skipping = False  # inside a line longer than MAX_LINE: drop bytes through its newline
        self.malformed = 0

    @property
    def torn(self) -> bool:
        return bool(self._partial.strip())

    def final(self) -> Update:
        rest, self._partial = self._partial, b""
        return self._parse(rest) if rest.strip() else Update()

    def poll(self, max_bytes: int = CHUNK) -> Update:
        up = Update()
        why = self.state.check()
        if not why and self.header_bytes and not self._same_header():
            why = "rewritten"
        if why:
            self._restart()
            up.reset = f"{self.path.name} was {why}; reloaded"
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(max_bytes + 1)
        except OSError:
            return up
        up.more = len(data) > max_bytes
        data = data[:max_bytes]
        self.offset += len(data)
        data = self._partial + data
        if self._skipping:
            nl = data.find(b"\n")
            self._skipping = nl < 0
            data = b"" if nl < 0 else data[nl + 1:]
        complete, sep, self._partial = data.rpartition(b"\n")
        if len(self._partial) > MAX_LINE:
            self.malformed += 1
            self._partial, self._skipping = b"", True
        if sep:
            parsed = self._parse(complete)
            up.points = parsed.points
        return up

    def _parse(self, complete: bytes) -> Update:
        """Complete lines, each parsed on its own: a stray quote or control byte spoils one row,
        never the rows after it."""
        up = Update()
        lines = complete.decode("utf-8", errors="replace").split("\n")
        if self.header is None:
            first = _row(lines.pop(0).removeprefix("\ufeff")) if lines else None  # a BOM before the header
            if not first or not any(c.strip() for c in first):
                return up
            self.header_bytes = complete.split(b"\n", 1)[0]
            self.header = [h.strip() for h in first]
            self.step_col = next((i for i, h in enumerate(self.header) if h in STEP_COLUMNS), -1)
            if self.step_col < 0:
                raise SourceError(f"{self.path} has no step column (looked for {', '.join(STEP_COLUMNS)};"
                                  f" found {', '.join(self.header)[:200]})")
        cols = [(i, self.rename(h)) for i, h in enumerate(self.header)
                if i != self.step_col and h and h not in names.RESERVED]
        acc: dict[str, tuple[list, list]] = {}
        for line in lines:
            row = _row(line)
            if not line.strip() or (row is not None and not any(c.strip() for c in row)):
                continue  # blank, or only separators
            step = number(row[self.step_col]) if row is not None and self.step_col < len(row) else None
            s = parse_step(step) if step is not None and math.isfinite(step) else None
            if s is None:
                self.malformed += 1
                continue
            for i, name in cols:
                if i < len(row):
                    v = number(row[i])
                    if v is not None:
                        pts = acc.get(name)
                        if pts is None:
                            pts = acc[name] = ([], [])
                        pts[0].append(s)
                        pts[1].append(v)
        for name, (st, va) in acc.items():
            up.add(name, st, va)
        return up

    def _same_header(self) -> bool:
        try:
            with open(self.path, "rb") as f:
                return f.read(len(self.header_bytes) + 1) == self.header_bytes + b"\n"
        except OSError:
            return True
