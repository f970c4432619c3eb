"""Recorded runs as metric points, read incrementally: what `lossmon watch` tails and `lossmon check`
reads whole.

Formats: a lossmon run directory (or its run.jsonl), TensorBoard event files or log directories,
Lightning's CSVLogger metrics.csv, Hugging Face's trainer_state.json (or the output directory that
holds it), and any JSONL or CSV with a step field. `open_source(path)` picks the reader; each
source's `poll()` hands over what is new since the last call (sources/base.py: Update).

Conventions: metric names as logged, mapped to roles by names.py (--train/--val
pick a tag explicitly); `null` or an empty cell means "not logged at that step"; non-finite values
may be the strings "NaN", "Infinity", "-Infinity" (any case, also "nan"/"inf") or bare NaN in JSON.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from lossmon import names
from lossmon.recording.branches import live_branch, rollback_target
from lossmon.rundir.layout import META, RUN_LOG
from lossmon.rundir.runlog import parse_step
from lossmon.sources.base import BOM, Renamer, Source, SourceError, Update
from lossmon.sources.csvfile import CsvSource
from lossmon.sources.hf import STATE, TrainerStateSource, candidates, newest
from lossmon.sources.runlog import RunLogSource, looks_like_jsonl
from lossmon.sources.tensorboard import TensorBoardSource, is_event_file, runs_in

__all__ = ["FORMATS", "Recorded", "Source", "SourceError", "Update", "chunks", "load", "open_source"]

FORMATS = ("a lossmon run directory or run.jsonl, TensorBoard event files or a log directory, Lightning's"
           " metrics.csv, Hugging Face's trainer_state.json (or its output directory), or a JSONL or CSV"
           " file with a step field")


def open_source(path: str | os.PathLike, *, train: str | None = None, val: str | None = None) -> Source:
    """The reader for `path`; SourceError (one line naming the accepted formats) if there is none."""
    given = Path(path)
    try:
        src = _pick(given)
    except OSError as e:  # a directory without search permission, say
        raise SourceError(f"cannot read {e.filename or given}: {e.strerror or e}") from None
    src.rename = Renamer(train, val)
    src.title = given.resolve().name or str(given)
    return src


def _pick(p: Path) -> Source:
    if not p.exists():
        raise SourceError(f"{p} does not exist; lossmon reads {FORMATS}")
    if p.is_dir():
        if (p / RUN_LOG).is_file():
            return RunLogSource(p / RUN_LOG, run_dir=p)
        if candidates(p):
            return TrainerStateSource(newest(candidates(p)), root=p)
        csvs = _metrics_csvs(p)
        if csvs:
            src = CsvSource(newest(csvs), lightning=True)
            if len(csvs) > 1:
                src.note = f"the newest of {len(csvs)} metrics.csv files here"
            return src
        if runs_in(p):
            return TensorBoardSource(p)
        raise SourceError(f"{p} holds no run lossmon can read; lossmon reads {FORMATS}")
    if not p.is_file():  # a FIFO or a device would block or never end
        raise SourceError(f"{p} is not a regular file or directory; lossmon reads {FORMATS}")
    if is_event_file(p):
        return TensorBoardSource(p)
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise SourceError(f"cannot read {p}: {e.strerror or e}") from None
    head = head.removeprefix(BOM)
    if not head.strip():
        raise SourceError(f"{p} is empty; lossmon reads {FORMATS}")
    if p.name == STATE or (p.suffix == ".json" and b'"log_history"' in head):
        return TrainerStateSource(p)
    if p.name == RUN_LOG:
        return RunLogSource(p, run_dir=p.parent if (p.parent / META).exists() else None)
    if p.suffix in (".jsonl", ".ndjson") or looks_like_jsonl(head):
        return RunLogSource(p)
    if p.suffix in (".csv", ".tsv") or b"," in head.split(b"\n", 1)[0]:
        return CsvSource(p, lightning=p.name == "metrics.csv")
    raise SourceError(f"{p} is not a format lossmon knows; lossmon reads {FORMATS}")


def _metrics_csvs(root: Path) -> list[Path]:
    """metrics.csv here or a few levels down (lightning_logs/version_N/metrics.csv)."""
    found = []
    for pattern in ("metrics.csv", "*/metrics.csv", "*/*/metrics.csv"):
        found += [p for p in root.glob(pattern) if p.is_file()]
    return found


@dataclass
class Recorded:
    """A whole recorded run: {name: (steps, values)} sorted by step, events, and what was skipped."""

    points: dict[str, tuple[np.ndarray, np.ndarray]]
    events: list[dict] = field(default_factory=list)
    malformed: int = 0
    format: str = ""
    unit: str = "line"  # what `malformed` counts: lines, or a TensorBoard file's records

    @property
    def count(self) -> int:
        return sum(len(v[1]) for v in self.points.values())


def read_all(src: Source) -> Recorded:
    """Everything a source holds now, sorted by step per metric: after a rollback, the live branch."""
    parts: dict[str, list[tuple[np.ndarray, np.ndarray]]] = {}
    events: list[dict] = []
    while True:
        up = src.poll()
        if up.reset:
            parts.clear()
            events.clear()
        for name, pts in up.points.items():
            parts.setdefault(name, []).append(pts)
        events.extend(up.events)
        if not up.more:
            break
    up = src.final()
    for name, pts in up.points.items():
        parts.setdefault(name, []).append(pts)
    points = {}
    targets = [to for to in map(rollback_target, events) if to is not None]
    for name, pieces in parts.items():
        st = np.concatenate([p[0] for p in pieces])
        va = np.concatenate([p[1] for p in pieces])
        if targets:  # the points a rollback abandoned give way to the branch after it
            st, va, _ = live_branch(st, va, targets)
        if len(st) > 1 and np.any(st[1:] < st[:-1]):
            order = np.argsort(st, kind="stable")
            st, va = st[order], va[order]
        points[name] = (st, va)
    return Recorded(points, events, src.malformed, src.format, src.unit)


def load(path: str | os.PathLike, *, train: str | None = None, val: str | None = None) -> Recorded:
    """Read a recorded run whole; SourceError (one line) for anything that is not one."""
    src = open_source(path, train=train, val=val)
    try:
        rec = read_all(src)
    except OSError as e:
        raise SourceError(f"cannot read {path}: {e.strerror or e}") from None
    if not rec.points:
        raise SourceError(no_records(src))
    missing = src.rename.missing()
    if missing:
        raise SourceError(f"{src.path} has no metric {missing[0]!r} (found {', '.join(sorted(rec.points))})")
    roles = {names.role(n) for n in rec.points}
    if not roles & {names.TRAIN_LOSS, names.VAL_LOSS}:
        raise SourceError(f"{src.path} has no loss metric (found {', '.join(sorted(rec.points))[:300]}; expected loss,"
                          " train_loss, val_loss, eval_loss or another name from the conventions, or pass --train TAG)")
    return rec


def no_records(src: Source) -> str:
    """Why a source read to its end gave no point (load's and watch's words)."""
    if src.problem:
        return f"{src.path} {src.problem}"
    if src.malformed:
        n, unit = src.malformed, src.unit
        what = "a TensorBoard event" if src.format == "TensorBoard" else f"a metric record ({src.format} with a step field)"
        return f"{src.path}: none of its {n} {unit}{'s' if n != 1 else ''} is {what}"
    return f"{src.path} holds no metric values"


def chunks(rec: Recorded, size: int = 16384):
    """The run in step order as the pump would hand it over: ({name: (steps, values)}, events),
    about `size` distinct steps per chunk."""
    all_steps = np.unique(np.concatenate([st for st, _ in rec.points.values()]))
    events = sorted((e for e in rec.events if isinstance(e.get("step"), int) and parse_step(e["step"]) is not None),
                    key=lambda e: e["step"])  # a step beyond int64 places no event
    ev_steps = np.array([e["step"] for e in events], dtype=np.int64)
    starts = list(range(0, len(all_steps), size))
    for k, a in enumerate(starts):
        lo = all_steps[a]
        hi = all_steps[min(a + size, len(all_steps)) - 1]
        out = {}
        for name, (st, va) in rec.points.items():
            i, j = np.searchsorted(st, lo, side="left"), np.searchsorted(st, hi, side="right")
            if j > i:
                out[name] = (st[i:j], va[i:j])
        # events between chunks go with the chunk before them; none is left out
        ei = 0 if k == 0 else int(np.searchsorted(ev_steps, lo, side="left"))
        ej = len(events) if k == len(starts) - 1 else int(np.searchsorted(ev_steps, all_steps[a + size], side="left"))
        yield out, events[ei:ej]

