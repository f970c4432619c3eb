"""lossmon run directories and JSONL files (run.jsonl, or any JSONL with a step field), tailed.

A lossmon run directory with metric columns (rundir/columns.py) is read from them -- whole binary records,
no parsing -- and only its event lines are taken from run.jsonl. Anything else is parsed line by
line, a chunk per poll, so a long file shows while it loads.
"""

from __future__ import annotations

import os
from pathlib import Path

from lossmon.rundir.columns import DIR, INDEX, RECORD, ColumnReader, read_index
from lossmon.rundir.meta import killed, read_meta
from lossmon.rundir.runlog import Batch, RunLogReader
from lossmon.sources.base import CHUNK, FileState, Source, Update

_EVENT = b'{"event"'  # how every event line starts (rundir/runlog.py: the line contract)


class EventScanner:
    """Takes the event lines from the new bytes of a run log without parsing its metric lines."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self._partial = b""
        self.bytes_read = 0

    def read_new(self, max_bytes: int) -> tuple[list[dict], bool]:
        """(events, more): more is True when the file holds more than max_bytes of new data."""
        try:
            with open(self.path, "rb") as f:
                f.seek(self.offset)
                data = f.read(max_bytes + 1)
        except OSError:
            return [], False
        more = len(data) > max_bytes
        data = data[:max_bytes]
        self.offset += len(data)
        self.bytes_read += len(data)
        data = self._partial + data
        complete, sep, self._partial = data.rpartition(b"\n")
        events: list[dict] = []
        if not sep:
            return events, more
        batch = Batch()
        i = complete.find(_EVENT)
        while i >= 0:
            end = complete.find(b"\n", i)
            end = len(complete) if end < 0 else end
            if i == 0 or complete[i - 1] == 10:  # at the start of a line
                batch.add_raw(complete[i:end])
            i = complete.find(_EVENT, end)
        return batch.events, more


class RunLogSource(Source):
    """A lossmon run directory (or its run.jsonl), or any JSONL file with a step field."""

    def __init__(self, log: Path, run_dir: Path | None = None) -> None:
        super().__init__(log)
        self.run_dir = run_dir
        self.alerts_recorded = run_dir is not None
        self.format = "lossmon run" if run_dir is not None else "JSONL"
        self.state = FileState(log)
        self._start()

    def _start(self) -> None:
        self.reader = RunLogReader(self.path)
        self.events = EventScanner(self.path)
        self.columns: dict[str, ColumnReader] | None = None
        self._index_mtime = -1.0
        # a killed run may have its last batch in run.jsonl but not in the columns: read the record
        if self.run_dir is not None and read_index(self.run_dir) is not None and not killed(read_meta(self.run_dir)):
            self.columns = {}

    @property
    def bytes_read(self) -> int:
        """Bytes read from the files so far (tests check that tailing reads only new bytes)."""
        cols = sum(c.bytes_read for c in (self.columns or {}).values())
        return self.reader.bytes_read + self.events.bytes_read + cols

    def poll(self, max_bytes: int = CHUNK) -> Update:
        why = self.state.check()
        up = Update()
        if why:
            self._start()
            up.reset = f"{self.path.name} was {why}; reloaded"
        if self.columns is not None and not self._refresh_columns():
            self._start()  # the writer gave its columns up: the run log is the record
            self.columns = None
            up.reset = up.reset or "the run's columns were dropped; reloaded from run.jsonl"
        if self.columns is not None:
            for name, col in self.columns.items():
                st, va = col.read_new(max_bytes)
                up.add(self.rename(name), st, va)
                up.more |= col.size - col.offset >= RECORD.itemsize
            up.events, more = self.events.read_new(max_bytes)
            up.more |= more
            return up
        for batch in self.reader.read_chunks(limit=max_bytes):
            for name, (st, va) in batch.points.items():
                up.add(self.rename(name), st, va)
            up.events.extend(batch.events)
        self.malformed = self.reader.malformed
        up.more = self.reader.offset < self.state.size
        return up

    @property
    def torn(self) -> bool:
        return self.columns is None and self.reader.torn

    def final(self) -> Update:
        up = Update()
        if self.columns is None and self.reader.torn:
            batch = Batch()
            batch.add_raw(self.reader.torn_tail)
            self.malformed += batch.malformed
            for name, (st, va) in batch.points.items():
                up.add(self.rename(name), st, va)
            up.events = batch.events
        return up

    def _refresh_columns(self) -> bool:
        """Pick up metrics that got a column since the last poll; False if the index is gone."""
        index = self.run_dir / DIR / INDEX
        try:
            mtime = os.stat(index).st_mtime
        except OSError:
            return False
        if mtime != self._index_mtime:
            names = read_index(self.run_dir)
            if names is None:
                return False
            self._index_mtime = mtime
            for i, name in enumerate(names):
                if name not in self.columns:
                    self.columns[name] = ColumnReader(self.run_dir / DIR / f"{i}.bin")
        return True


def looks_like_jsonl(head: bytes) -> bool:
    return head.lstrip().startswith(b"{")
