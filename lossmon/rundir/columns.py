"""Metric columns beside the run log, so another process can open a long run without parsing it.

run.jsonl stays the record: readable, greppable, what `lossmon check` reads. But JSON costs several
microseconds a line to parse in Python, and a 1M-line log took over six seconds to open on a small
machine (the budget is two). So the pump also appends each batch's points to one binary file per
metric, in the same tick, right after the run log: `columns/<i>.bin` holds (int64 step, float64
value) records, `columns/names.json` lists the metric names by file number. `lossmon watch`
reads these whole records with numpy and takes only events from run.jsonl.

A column is only ever an index of the run log: a failed write deletes names.json, and readers fall
back to parsing run.jsonl.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from lossmon import jsontext
from lossmon.rundir.layout import COLUMNS, COLUMNS_INDEX, NOFOLLOW, private_subdir, write_atomic
from lossmon.rundir.runlog import escaped

DIR, INDEX = COLUMNS, COLUMNS_INDEX
RECORD = np.dtype([("step", "<i8"), ("value", "<f8")])


class ColumnWriter:
    """Appends each batch's points to the column files (the pump thread only)."""

    def __init__(self, run_dir: Path) -> None:
        self.dir = Path(run_dir) / DIR
        self._fds: dict[str, int] = {}
        self._names: list[str] = []
        self.broken: str | None = None
        try:
            private_subdir(self.dir)
        except OSError as e:
            self.broken = str(e)

    def write(self, points: dict) -> None:
        if self.broken:
            return
        try:
            for name, (steps, values) in points.items():
                fd = self._fds.get(name)
                if fd is None:
                    fd = self._open(name)
                rec = np.empty(len(values), RECORD)
                rec["step"] = steps
                rec["value"] = values
                data = rec.tobytes()
                while data:
                    data = data[os.write(fd, data):]
        except Exception as e:  # noqa: BLE001 - any failure leaves a column missing points
            self._give_up(str(e))

    def _open(self, name: str) -> int:
        i = len(self._names)
        fd = os.open(self.dir / f"{i}.bin", os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_TRUNC | NOFOLLOW, 0o644)
        self._fds[name] = fd
        self._names.append(escaped(name))  # the name run.jsonl holds
        write_atomic(self.dir / INDEX, json.dumps(self._names))
        return fd

    def _give_up(self, why: str) -> None:
        """Readers must not trust a column that misses points: remove the index they start from."""
        self.broken = why
        try:
            os.unlink(self.dir / INDEX)
        except OSError:
            pass
        self.close()

    def close(self) -> None:
        for fd in self._fds.values():
            try:
                os.close(fd)
            except OSError:
                pass
        self._fds.clear()


def read_index(run_dir: Path) -> list[str] | None:
    """The metric names by column number, or None when the run has no usable columns."""
    path = Path(run_dir) / DIR / INDEX
    try:
        if not path.is_file():  # a FIFO would block the reader
            return None
        names = jsontext.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return None
    return names


class ColumnReader:
    """Reads the records appended to one column file since the last read (whole records only)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self.bytes_read = 0
        self.size = 0  # the file's size at the last read: more is waiting while offset < size

    def read_new(self, limit: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        try:
            with open(self.path, "rb") as f:
                size = self.size = os.fstat(f.fileno()).st_size
                whole = (size - self.offset) // RECORD.itemsize * RECORD.itemsize
                if limit is not None:
                    whole = min(whole, max(RECORD.itemsize, limit // RECORD.itemsize * RECORD.itemsize))
                if whole <= 0:
                    return _EMPTY
                f.seek(self.offset)
                data = f.read(whole)
        except OSError:
            return _EMPTY
        data = data[: len(data) // RECORD.itemsize * RECORD.itemsize]
        self.offset += len(data)
        self.bytes_read += len(data)
        rec = np.frombuffer(data, RECORD)
        return rec["step"].copy(), rec["value"].copy()

    def last(self) -> tuple[int, float] | None:
        """The last whole record, without reading the rest (for `lossmon ls`)."""
        try:
            with open(self.path, "rb") as f:
                size = os.fstat(f.fileno()).st_size // RECORD.itemsize * RECORD.itemsize
                if size == 0:
                    return None
                f.seek(size - RECORD.itemsize)
                rec = np.frombuffer(f.read(RECORD.itemsize), RECORD)
        except OSError:
            return None
        return int(rec["step"][0]), float(rec["value"][0])


_EMPTY = (np.empty(0, np.int64), np.empty(0, np.float64))
