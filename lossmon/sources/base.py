"""What every source of recorded metrics shares: the Update it hands over, file-change checks, and
the renaming of tags chosen with --train/--val."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lossmon import names
from lossmon.formatting import printable  # noqa: F401 - check.py's, from here

BOM = b"\xef\xbb\xbf"  # UTF-8's byte order mark, which some editors and Windows tools put first
CHUNK = 4 << 20  # bytes parsed per poll at most, so a long file shows while it loads


class SourceError(ValueError):
    """A path lossmon cannot read as a run; the message is one line for the user (a newline from a
    file -- a tag, a header -- is written as \\n)."""

    def __init__(self, message: str) -> None:
        super().__init__(message.replace("\r", "\\r").replace("\n", "\\n"))


@dataclass
class Update:
    """What one poll found: new points per name (file order), new events, and whether the source
    was truncated or replaced (`reset`: why) -- then the points start over from its beginning."""

    points: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)
    events: list[dict] = field(default_factory=list)
    reset: str | None = None
    more: bool = False  # more is ready to read now (a long file is being loaded in pieces)

    def add(self, name: str, steps, values) -> None:
        st = np.asarray(steps, np.int64)
        va = np.asarray(values, np.float64)
        if not len(st):
            return
        have = self.points.get(name)
        if have is None:
            self.points[name] = (st, va)
        else:
            self.points[name] = (np.concatenate([have[0], st]), np.concatenate([have[1], va]))


class Source:
    """A recorded run read incrementally. Subclasses fill `poll()`."""

    format = "?"
    run_dir: Path | None = None  # a lossmon run directory: metadata, control socket
    alerts_recorded = False  # True where the writer ran the detectors (lossmon's own run logs)
    unit = "line"  # what `malformed` counts
    problem = ""  # why the last read of a whole-file format failed ("is not valid JSON: ..."), if it did

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.malformed = 0
        self.rename = Renamer()
        self.note = ""  # what was chosen where a directory held several runs
        self.title = self.path.name  # what the views call the run (open_source: the path given)

    def poll(self, max_bytes: int = CHUNK) -> Update:  # pragma: no cover - abstract
        raise NotImplementedError

    def final(self) -> Update:
        """Reading a finished file whole: a last line without its newline counts too."""
        return Update()

    @property
    def torn(self) -> bool:
        """The file ends in a line without its newline (a writer may be mid-line): `final` reads it."""
        return False

    def describe(self) -> str:
        return f"{self.format}: {self.path}" + (f" ({self.note})" if self.note else "")


def _one_line(tag: str) -> str:
    """A tag with its control characters (a newline, a NUL) escaped: it is shown on one line."""
    if tag.isprintable():
        return tag
    return "".join(c if c.isprintable() or c == " " else repr(c)[1:-1] for c in tag)


class Renamer:
    """Maps a source's tags to the names the views and detectors use. With --train TAG (or --val
    TAG) that tag plays the role, and any other tag that would by convention is renamed out of it."""

    def __init__(self, train: str | None = None, val: str | None = None) -> None:
        self.train, self.val = train, val
        self._cache: dict[str, str] = {}
        self.seen: set[str] = set()

    def __call__(self, tag: str) -> str:
        out = self._cache.get(tag)
        if out is None:
            self.seen.add(tag)
            out = self._cache[tag] = self._map(_one_line(printable(tag)))
        return out

    def _map(self, tag: str) -> str:
        for chosen, role, canonical in ((self.train, names.TRAIN_LOSS, "train_loss"),
                                        (self.val, names.VAL_LOSS, "val_loss")):
            if chosen is None:
                continue
            if tag == chosen:
                return tag if names.role(tag) == role else canonical
            if names.role(tag) == role:
                return f"{tag} (not used)"
        return tag

    def missing(self) -> list[str]:
        """Tags chosen with --train/--val that the source never had."""
        return [t for t in (self.train, self.val) if t is not None and t not in self.seen]


class FileState:
    """Notices a file being truncated or replaced under a reader (log rotation, a rewrite)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.ident: tuple[int, int] | None = None
        self.size = 0
        self.mtime = 0.0
        self.vanished = False

    def check(self) -> str | None:
        """None if the file only grew (or is unchanged); otherwise why the reader must start over."""
        try:
            st = os.stat(self.path)
        except OSError:  # deleted: what was read stays; a file that reappears is read anew
            self.vanished = self.ident is not None
            return None
        ident = (st.st_dev, st.st_ino)
        why = None
        if self.vanished or (self.ident is not None and ident != self.ident):
            self.vanished = False
            why = "replaced"
        elif st.st_size < self.size:
            why = "truncated"
        self.ident, self.size, self.mtime = ident, st.st_size, st.st_mtime
        return why
