"""TensorBoard event files, tailed: scalars from `add_scalar` (and TF2's tensor scalars).

An event file is a TFRecord stream: a little-endian uint64 length, a 4-byte checksum of it, the
serialized `Event` protobuf, a 4-byte checksum of that. The protobuf is decoded with the
`tensorboard` package's own `event_pb2` (an optional extra: `pip install 'lossmon[tensorboard]'`).
The framing is read here, by byte offset, because the package's pure-Python record reader checks a
CRC32C a byte at a time (4x slower on a 200k-record file here) and its loader cannot resume at an
offset; a record that is not complete yet is left for the next poll, as TensorBoard does.

Given a log directory, the run (the directory holding event files) written most recently is
followed, with every event file in it in name order (a restarted job adds a file).
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from lossmon.sources.base import CHUNK, FileState, Source, SourceError, Update

PATTERN = "events.out.tfevents.*"
_MAX_RECORD = 64 << 20
_HEADER = struct.Struct("<QI")


def event_pb2():
    try:
        from tensorboard.compat.proto import event_pb2 as mod
    except ImportError:
        raise SourceError("reading TensorBoard files needs the tensorboard package:"
                          " pip install 'lossmon[tensorboard]'") from None
    return mod


def is_event_file(path: Path) -> bool:
    return path.name.startswith("events.out.tfevents.")


def runs_in(logdir: Path, depth: int = 4) -> dict[Path, list[Path]]:
    """{run directory: its event files} under a log directory (a few levels deep)."""
    runs: dict[Path, list[Path]] = {}
    for root, dirs, files in os.walk(logdir):
        if Path(root).relative_to(logdir).parts.__len__() >= depth:
            dirs[:] = []
        for f in files:
            if f.startswith("events.out.tfevents.") and os.path.isfile(os.path.join(root, f)):  # no FIFOs
                runs.setdefault(Path(root), []).append(Path(root) / f)
    return runs


def latest_run(runs: dict[Path, list[Path]]) -> Path:
    def newest(files: list[Path]) -> float:
        return max((_mtime(f) for f in files), default=0.0)

    return max(runs, key=lambda r: newest(runs[r]))


def _mtime(p: Path) -> float:
    try:
        return p.stat().st_mtime
    except OSError:
        return 0.0


class _EventFile:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.state = FileState(path)
        self.broken = False
        self.bytes_read = 0


class TensorBoardSource(Source):
    format = "TensorBoard"
    unit = "record"

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self.pb = event_pb2()
        if path.is_dir():
            runs = runs_in(path)
            if not runs:
                raise SourceError(f"{path} holds no TensorBoard event files ({PATTERN})")
            self.run_path = latest_run(runs)
            if len(runs) > 1:
                rel = self.run_path.relative_to(path)
                self.note = f"run {str(rel) if str(rel) != '.' else '.'}, the newest of {len(runs)} in this log directory"
            self.files = [_EventFile(f) for f in sorted(runs[self.run_path])]
        else:
            self.run_path = None
            self.files = [_EventFile(path)]

    @property
    def bytes_read(self) -> int:
        return sum(f.bytes_read for f in self.files)

    def poll(self, max_bytes: int = CHUNK) -> Update:
        up = Update()
        if self.run_path is not None:
            self._find_new_files()
        acc: dict[str, tuple[list, list]] = {}
        budget = max_bytes
        for ef in self.files:
            why = ef.state.check()
            if why:
                up.reset = f"{ef.path.name} was {why}; reloaded"
        if up.reset:  # start every file over so the points stay in file order
            for ef in self.files:
                ef.offset, ef.broken = 0, False
        for ef in self.files:
            if budget <= 0:
                up.more = True
                break
            used, more = self._read(ef, budget, acc)
            budget -= used
            up.more |= more
        for name, (st, va) in acc.items():
            up.add(name, st, va)
        return up

    def _find_new_files(self) -> None:
        known = {ef.path for ef in self.files}
        try:
            found = sorted(p for p in self.run_path.glob(PATTERN) if p not in known and p.is_file())
        except OSError:
            return
        self.files.extend(_EventFile(p) for p in found)

    def _read(self, ef: _EventFile, budget: int, acc: dict) -> tuple[int, bool]:
        if ef.broken:
            return 0, False
        try:
            with open(ef.path, "rb") as f:
                f.seek(ef.offset)
                data = f.read(budget + 1)
        except OSError:
            return 0, False
        more = len(data) > budget
        data = data[:budget] if more else data
        pos = 0
        parse = self.pb.Event.FromString
        rename = self.rename
        while pos + _HEADER.size <= len(data):
            length, _ = _HEADER.unpack_from(data, pos)
            if length > _MAX_RECORD or length == 0:  # a writer's Event always holds its wall_time
                ef.broken = True  # not a record boundary: the rest of this file cannot be trusted
                self.malformed += 1
                break
            end = pos + _HEADER.size + length + 4
            if end > len(data):
                if pos == 0 and more:  # one record larger than a poll's budget: read it whole now
                    data = _read_at(ef.path, ef.offset, end)
                    more = len(data) == end  # anything after it is the next poll's
                if end > len(data):
                    break
            try:
                ev = parse(data[pos + _HEADER.size:end - 4])
            except Exception:  # noqa: BLE001 - protobuf's DecodeError and friends
                self.malformed += 1
                pos = end
                continue
            pos = end
            if not ev.HasField("summary"):
                continue
            for v in ev.summary.value:
                x = _scalar(v)
                if x is None:
                    continue
                name = rename(v.tag)
                pts = acc.get(name)
                if pts is None:
                    pts = acc[name] = ([], [])
                pts[0].append(ev.step)
                pts[1].append(x)
        ef.offset += pos
        ef.bytes_read += pos
        return pos, more


def _read_at(path: Path, offset: int, size: int) -> bytes:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(size)
    except OSError:
        return b""


def _scalar(v) -> float | None:
    """A summary value's scalar: simple_value (add_scalar) or a 0-d float tensor (TF2)."""
    kind = v.WhichOneof("value")
    if kind == "simple_value":
        return float(v.simple_value)
    if kind == "tensor":
        t = v.tensor
        if t.tensor_shape.dim:
            return None
        if t.float_val:
            return float(t.float_val[0])
        if t.double_val:
            return float(t.double_val[0])
        if len(t.tensor_content) == 4:
            return struct.unpack("<f", t.tensor_content)[0]
        if len(t.tensor_content) == 8:
            return struct.unpack("<d", t.tensor_content)[0]
    return None
