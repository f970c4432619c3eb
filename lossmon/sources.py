"""Recorded runs as metric points: lossmon run directories, run.jsonl, any JSONL or CSV with a
step column. `lossmon check` reads these; `lossmon watch` and other log formats come later.

Conventions (DESIGN.md §8): a `step` field or column; metric names as logged (names.py maps them
to roles); `null` or an empty cell means "not logged at that step"; non-finite values may be the
strings "NaN", "Infinity", "-Infinity" (any case, also "nan"/"inf") or bare NaN in JSON.
"""

from __future__ import annotations

import csv
import io
import math
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import names
from .runlog import RUN_LOG, Batch

STEP_COLUMNS = ("step", "global_step", "Step", "iteration")
FORMATS = "a lossmon run directory, run.jsonl, a JSONL file or a CSV file with a step column"


class SourceError(ValueError):
    """A path lossmon cannot read as a run; the message is one line for the user."""


@dataclass
class Recorded:
    """A recorded run: {name: (steps, values)} sorted by step, events, and what was skipped."""

    points: dict[str, tuple[np.ndarray, np.ndarray]]
    events: list[dict] = field(default_factory=list)
    malformed: int = 0
    lines: int = 0
    format: str = ""

    @property
    def count(self) -> int:
        return sum(len(v[1]) for v in self.points.values())


def _sorted(points: dict[str, tuple[list, list]]) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    out = {}
    for name, (steps, values) in points.items():
        st = np.asarray(steps, dtype=np.int64)
        va = np.asarray(values, dtype=np.float64)
        if len(st) > 1 and np.any(st[1:] < st[:-1]):
            order = np.argsort(st, kind="stable")
            st, va = st[order], va[order]
        out[name] = (st, va)
    return out


def read_jsonl(path: Path) -> Recorded:
    batch = Batch()
    with open(path, "rb") as f:
        for raw in f:
            batch.add_raw(raw)
    return Recorded(_sorted(batch.points), batch.events, batch.malformed, batch.lines,
                    "lossmon run log" if path.name == RUN_LOG else "JSONL")


def _number(cell: str) -> float | None:
    cell = cell.strip()
    if not cell:
        return None
    try:
        return float(cell)  # also "nan", "inf", "Infinity", "-Infinity" in any case
    except ValueError:
        low = cell.strip('"').lower()
        return {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf}.get(low)


def read_csv(path: Path) -> Recorded:
    with open(path, newline="", encoding="utf-8", errors="replace") as f:
        text = f.read()
    reader = csv.reader(io.StringIO(text))
    header = next(reader, None)
    if not header:
        raise SourceError(f"{path} is empty")
    header = [h.strip() for h in header]
    step_col = next((i for i, h in enumerate(header) if h in STEP_COLUMNS), None)
    if step_col is None:
        raise SourceError(f"{path} has no step column (looked for {', '.join(STEP_COLUMNS)}; found {', '.join(header)})")
    cols = [(i, h) for i, h in enumerate(header) if i != step_col and h and h not in names.RESERVED]
    points: dict[str, tuple[list, list]] = {}
    lines = malformed = 0
    for row in reader:
        if not row or not any(c.strip() for c in row):
            continue
        lines += 1
        step = _number(row[step_col]) if step_col < len(row) else None
        if step is None or not math.isfinite(step) or not step.is_integer():
            malformed += 1
            continue
        s = int(step)
        for i, name in cols:
            if i < len(row):
                v = _number(row[i])
                if v is not None:
                    pts = points.get(name)
                    if pts is None:
                        pts = points[name] = ([], [])
                    pts[0].append(s)
                    pts[1].append(v)
    return Recorded(_sorted(points), [], malformed, lines, "CSV")


def load(path: str | os.PathLike) -> Recorded:
    """Read a recorded run; SourceError (one line) for anything that is not one."""
    p = Path(path)
    if not p.exists():
        raise SourceError(f"{p} does not exist; lossmon reads {FORMATS}")
    if p.is_dir():
        if not (p / RUN_LOG).is_file():
            raise SourceError(f"{p} is a directory without {RUN_LOG}; lossmon reads {FORMATS}")
        p = p / RUN_LOG
    try:
        with open(p, "rb") as f:
            head = f.read(4096)
    except OSError as e:
        raise SourceError(f"cannot read {p}: {e.strerror or e}") from None
    stripped = head.lstrip()
    try:
        if stripped.startswith(b"{") or p.suffix in (".jsonl", ".ndjson", ".json"):
            rec = read_jsonl(p)
        elif p.suffix in (".csv", ".tsv") or b"," in head.split(b"\n", 1)[0]:
            rec = read_csv(p)
        elif not stripped:
            raise SourceError(f"{p} is empty")
        else:
            raise SourceError(f"{p} is not a format lossmon knows; lossmon reads {FORMATS}")
    except OSError as e:
        raise SourceError(f"cannot read {p}: {e.strerror or e}") from None
    if rec.lines and rec.malformed == rec.lines:
        raise SourceError(f"{p}: none of its {rec.lines} lines is a metric record ({rec.format} with a step field)")
    if not rec.points:
        raise SourceError(f"{p} holds no metric values")
    roles = {names.role(n) for n in rec.points}
    if not roles & {names.TRAIN_LOSS, names.VAL_LOSS}:
        raise SourceError(f"{p} has no loss metric (found {', '.join(sorted(rec.points))}; expected loss, train_loss,"
                          " val_loss, eval_loss or another name from the conventions)")
    return rec


def chunks(rec: Recorded, size: int = 16384):
    """The run in step order as the pump would hand it over: ({name: (steps, values)}, events),
    about `size` distinct steps per chunk."""
    all_steps = np.unique(np.concatenate([st for st, _ in rec.points.values()]))
    events = sorted((e for e in rec.events if isinstance(e.get("step"), int)), key=lambda e: e["step"])
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
