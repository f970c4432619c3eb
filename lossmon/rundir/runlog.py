"""The run log: `run.jsonl`, one strict JSON object a line; its encoding and decoding live here only.

Metric lines: {"step": 12, "time": 1764240000.123, "loss": 0.51}
Event lines:  {"event": "lr_change", "step": 12, "time": ..., ...}   (lossmon/events.py: the kinds)

The line contract readers rely on: an event line starts with `{"event"` (encode_event puts the key
first, whatever order the dict had), so a reader can take the events of a long log without parsing
its metric lines (sources/runlog.py); a metric line starts with `{"step"`; no other line is written.

Non-finite values are written as the strings "NaN", "Infinity", "-Infinity" so every line is strict
JSON; the reader also accepts bare NaN/Infinity literals, as Python's json module writes them.
The writer is fed whole batches by the pump thread (never one write per step); the reader keeps a
byte offset so tailing costs only the new bytes, and it tolerates a torn last line.
"""

from __future__ import annotations

import codecs
import json
import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from lossmon import jsontext, names

_NONFINITE_TEXT = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf,
                   "nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_name_cache: dict[str, str] = {}


def _key(name: str) -> str:
    k = _name_cache.get(name)
    if k is None:
        k = _name_cache[name] = json.dumps(name, ensure_ascii=False)
    return k


def format_number(v: float) -> str:
    """A float as strict JSON: repr round-trips exactly; non-finite values become strings."""
    if v != v:
        return '"NaN"'
    if v == math.inf:
        return '"Infinity"'
    if v == -math.inf:
        return '"-Infinity"'
    return repr(v)


def strict(obj: Any) -> Any:
    """A copy of obj safe for strict JSON: non-finite floats become their string names."""
    if isinstance(obj, float) and not math.isfinite(obj):
        return "NaN" if obj != obj else ("Infinity" if obj > 0 else "-Infinity")
    if isinstance(obj, dict):
        return {str(k): strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [strict(v) for v in obj]
    return obj


_templates: dict[tuple, str] = {}


def _template(keys: tuple) -> str:
    tpl = _templates.get(keys)
    if tpl is None:
        fields = "".join("," + _key(k).replace("%", "%%") + ":%r" for k in keys[:-1])  # keys[-1] is "step"
        tpl = _templates[keys] = '{"step":%d,"time":%s' + fields + "}\n"
    return tpl


def encode_rows(rows: list[dict], t: float) -> str:
    """Metric lines for a batch of rows ({name: value, ..., "step": n}, step last) recorded at t.

    A %-template per key set, with repr for exact round-trips, is several times cheaper than
    json.dumps per row; rows holding a non-finite value take the slow path to stay strict JSON.
    """
    tstr = "%.3f" % t
    out = []
    for row in rows:
        vals = tuple(row.values())
        if len(vals) < 2:
            continue  # a bare step: nothing was logged
        total = sum(vals)
        if total - total == 0:  # every value finite (NaN and inf both fail this)
            out.append(_template(tuple(row)) % ((vals[-1], tstr) + vals[:-1]))
        else:
            parts = ['{"step":', str(row["step"]), ',"time":', tstr]
            for name, v in row.items():
                if name != "step":
                    parts += (",", _key(name), ":", format_number(v))
            parts.append("}\n")
            out.append("".join(parts))
    return "".join(out)


def encode_event(event: dict) -> str:
    """One event line, "event" its first key (the contract above)."""
    ordered = {"event": event["event"], **event}
    return json.dumps(strict(ordered), ensure_ascii=False, allow_nan=False, default=str) + "\n"


def _escape_json(err: UnicodeError) -> tuple[str, int]:
    """Codec error handler: characters UTF-8 cannot encode (lone surrogates, which can only stand in
    a JSON string here) become the text \\uXXXX: strict JSON that reads back as a visible escape,
    so one bad character never costs its batch (encoding it raised, and the batch was lost)."""
    if not isinstance(err, UnicodeEncodeError):
        raise err
    bad = err.object[err.start:err.end]
    return "".join("\\\\u%04x" % ord(c) for c in bad), err.end


_ESCAPE = "lossmon-json-escape"
codecs.register_error(_ESCAPE, _escape_json)


def escaped(text: str) -> str:
    """`text` as run.jsonl writes it: any lone surrogate as the visible text \\uXXXX."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return "".join("\\u%04x" % ord(c) if 0xD800 <= ord(c) < 0xE000 else c for c in text)


class RunLogWriter:
    """Appends batches of lines to run.jsonl with raw os.write calls: one batch, one write, so a
    SIGKILL loses at most the batch being built (under one pump interval).

    A failed write (disk full, say) keeps exactly the bytes not yet written and retries them before
    the next batch, so nothing is dropped or duplicated while the disk recovers; `error` holds the
    last failure for the views to show."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        # O_NOFOLLOW: a link planted at run.jsonl is refused, never written through
        self._fd: int | None = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT
                                       | getattr(os, "O_NOFOLLOW", 0), 0o644)
        self._backlog = b""
        self.error: str | None = None
        self.escaped = False  # some text was not valid Unicode and was written escaped (the pump says so once)

    def write(self, text: str) -> None:
        if self._fd is None:
            return
        try:
            encoded = text.encode("utf-8")
        except UnicodeEncodeError:  # a lone surrogate (os.fsdecode of a non-UTF-8 name, say)
            encoded = text.encode("utf-8", _ESCAPE)
            self.escaped = True
        data = self._backlog + encoded
        while data:
            try:
                n = os.write(self._fd, data)
            except InterruptedError:
                continue
            except OSError as e:
                self.error = f"cannot write {self.path}: {e.strerror or e}"
                break
            data = data[n:]
        self._backlog = data
        if not data:
            self.error = None

    @property
    def unwritten_bytes(self) -> int:
        return len(self._backlog)

    def close(self) -> None:
        if self._fd is None:
            return
        if self._backlog:
            self.write("")  # one last try
        fd, self._fd = self._fd, None
        try:
            os.fsync(fd)
        except OSError:
            pass
        os.close(fd)

    @property
    def closed(self) -> bool:
        return self._fd is None


# ---- reading ------------------------------------------------------------------------------------


def parse_value(v: Any) -> float | None:
    """A logged value as float, or None when the field is not a metric value (null, text, lists)."""
    if isinstance(v, bool):
        return None
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        try:
            return float(v)
        except OverflowError:  # an integer beyond float range, as its float parse would give
            return math.inf if v > 0 else -math.inf
    if isinstance(v, str):
        return _NONFINITE_TEXT.get(v)
    return None


def parse_step(v: Any) -> int | None:
    """A step as an int, or None if it is not a whole number that fits the store's int64 steps."""
    if isinstance(v, bool):
        return None
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    if isinstance(v, int) and -(2**63) <= v < 2**63:
        return v
    return None


@dataclass
class Batch:
    """Parsed lines: metric points grouped per name, and events, in file order."""

    points: dict[str, tuple[list[int], list[float]]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    lines: int = 0
    malformed: int = 0

    def add_raw(self, raw: bytes) -> None:
        """One line as bytes: blank lines are skipped, bytes that are not UTF-8 are malformed."""
        if not raw.strip():
            return
        if raw.startswith(b"\xef\xbb\xbf"):  # a byte order mark before the first line
            raw = raw[3:]
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            self.lines += 1
            self.malformed += 1
            return
        self.add_line(line)

    def add_line(self, line: str) -> None:
        self.lines += 1
        try:
            rec = jsontext.loads(line)
        except ValueError:
            self.malformed += 1
            return
        if not isinstance(rec, dict):
            self.malformed += 1
            return
        if "event" in rec:
            if not isinstance(rec["event"], str):
                self.malformed += 1
                return
            self.events.append(rec)
            return
        step = parse_step(rec.get("step"))
        if step is None:
            self.malformed += 1
            return
        for key, raw in rec.items():
            if key in names.RESERVED:
                continue
            v = parse_value(raw)
            if v is None:
                continue
            pts = self.points.get(key)
            if pts is None:
                pts = self.points[key] = ([], [])
            pts[0].append(step)
            pts[1].append(v)


class RunLogReader:
    """Reads run.jsonl incrementally: each read parses only the bytes appended since the last.

    A last line without its newline is held back until it is completed (a writer may be mid-line);
    `torn` reports such a tail when the file ends there. Long stretches are parsed in chunks of
    about `CHUNK` bytes, so a caller can show a long log while it loads.
    """

    CHUNK = 1 << 20
    MAX_LINE = 64 << 20  # a longer line is malformed and dropped as it streams by, never held whole

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.offset = 0
        self._partial = b""
        self._skipping = False  # inside a line longer than MAX_LINE: drop bytes through its newline
        self.malformed = 0
        self.lines = 0
        self.bytes_read = 0  # total bytes read from the file (tests check tailing reads only new bytes)

    def read_chunks(self, limit: int | None = None):
        """Yield a Batch per chunk of new complete lines (at most `limit` bytes read in all)."""
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            while limit is None or limit > 0:
                want = self.CHUNK if limit is None else min(self.CHUNK, limit)
                data = f.read(want)
                if not data:
                    return
                if limit is not None:
                    limit -= len(data)
                self.offset += len(data)
                self.bytes_read += len(data)
                data = self._partial + data
                if self._skipping:
                    nl = data.find(b"\n")
                    self._skipping = nl < 0
                    data = b"" if nl < 0 else data[nl + 1:]
                complete, sep, rest = data.rpartition(b"\n")
                if len(rest) > self.MAX_LINE:
                    self.malformed += 1
                    self.lines += 1
                    rest, self._skipping = b"", True
                self._partial = rest
                if not sep:
                    continue
                batch = Batch()
                for raw in complete.split(b"\n"):
                    batch.add_raw(raw)
                self.malformed += batch.malformed
                self.lines += batch.lines
                yield batch

    @property
    def torn(self) -> bool:
        """True when the file currently ends in an incomplete line."""
        return bool(self._partial.strip())

    @property
    def torn_tail(self) -> bytes:
        """The incomplete last line held back (b"" when the file ends with a newline)."""
        return self._partial
