"""Hugging Face Trainer's trainer_state.json: `log_history`, re-read when the file changes.

The Trainer rewrites the whole file at each save, in the output directory and in every
checkpoint-N/ directory; given a directory, the most recently written one is followed. Its
log_history only grows, so each read hands over the entries past the ones already seen (a shorter
or different history means a new run: start over). The last entry of a finished run is a summary
whose `train_loss` is the average over the whole run, not a point of the curve: it is skipped, as
are runtime and throughput fields.
"""

from __future__ import annotations

import json
from pathlib import Path

from lossmon import jsontext
from lossmon.rundir.runlog import parse_step, parse_value
from lossmon.sources.base import CHUNK, FileState, Source, SourceError, Update

STATE = "trainer_state.json"
_SUMMARY_KEYS = {"train_runtime", "total_flos"}
_SKIP_SUFFIXES = ("_runtime", "_per_second", "total_flos")
MAX_BYTES = 512 << 20  # read whole at every change: a bigger file is not a Trainer's state


def candidates(root: Path) -> list[Path]:
    """trainer_state.json files in an output directory and its checkpoints."""
    found = [root / STATE] if (root / STATE).is_file() else []
    found += [p for p in root.glob(f"checkpoint-*/{STATE}") if p.is_file()]
    return found


def newest(paths: list[Path]) -> Path | None:
    best, best_t = None, -1.0
    for p in paths:
        try:
            t = p.stat().st_mtime
        except OSError:
            continue
        if t > best_t:
            best, best_t = p, t
    return best


class TrainerStateSource(Source):
    format = "Hugging Face trainer_state.json"

    def __init__(self, path: Path, root: Path | None = None) -> None:
        super().__init__(path)
        self.root = root  # an output directory: follow whichever trainer_state.json is newest
        self.seen = 0
        self._first: str | None = None
        self.state = FileState(path)
        self._stamp: tuple[int, float] | None = None

    def describe(self) -> str:
        if self.root is not None:  # the file followed changes with every checkpoint
            return f"{self.format}: {self.root} (the newest checkpoint's)"
        return super().describe()

    def poll(self, max_bytes: int = CHUNK) -> Update:
        up = Update()
        if self.root is not None:
            latest = newest(candidates(self.root))
            if latest is not None and latest != self.path:
                self.path = latest
                self.state = FileState(latest)
                self._stamp = None
        self.state.check()
        stamp = (self.state.size, self.state.mtime)
        if stamp == self._stamp:
            return up
        if self.state.size > MAX_BYTES:
            raise SourceError(f"{self.path} is too large for a trainer_state.json ({self.state.size >> 20} MB;"
                              f" at most {MAX_BYTES >> 20} MB are read)")
        try:
            doc = jsontext.loads(self.path.read_bytes())  # bytes: json skips a BOM itself
        except OSError as e:
            self.problem = f"cannot be read: {e.strerror or e}"
            return up
        except ValueError as e:  # being rewritten (the Trainer does not write atomically): next poll
            self.problem = f"is not valid JSON ({str(e).splitlines()[0][:100]})"
            return up
        self._stamp = stamp
        history = doc.get("log_history") if isinstance(doc, dict) else None
        if not isinstance(history, list):
            self.problem = "has no log_history list (a Hugging Face trainer_state.json has one)"
            return up
        self.problem = ""
        first = json.dumps(history[0], sort_keys=True) if history else None
        if len(history) < self.seen or (self.seen and first != self._first):
            self.seen = 0
            self.malformed = 0
            up.reset = f"{self.path.name} holds a different run now; reloaded"
        self._first = first
        acc: dict[str, tuple[list, list]] = {}
        for entry in history[self.seen:]:
            if not isinstance(entry, dict) or parse_step(entry.get("step")) is None:
                self.malformed += 1
                continue
            if _SUMMARY_KEYS & entry.keys():
                continue
            step = parse_step(entry["step"])
            for key, raw in entry.items():
                if key == "step" or key.endswith(_SKIP_SUFFIXES):
                    continue
                v = parse_value(raw)
                if v is None:
                    continue
                pts = acc.setdefault(self.rename(key), ([], []))
                pts[0].append(step)
                pts[1].append(v)
        self.seen = len(history)
        for name, (st, va) in acc.items():
            up.add(name, st, va)
        return up
