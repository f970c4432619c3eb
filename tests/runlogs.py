"""Reading a run log whole or in pieces, strictly as written (the tests check the record itself,
not what a source makes of it)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from lossmon.recording.store import MetricStore
from lossmon.rundir.layout import RUN_LOG
from lossmon.rundir.meta import read_meta
from lossmon.rundir.runlog import Batch, RunLogReader, encode_rows


@dataclass
class LoadedRun:
    store: MetricStore
    malformed: int
    torn: bool
    meta: dict


def load_run(path: str | os.PathLike) -> LoadedRun:
    """A run directory or a run.jsonl file in a fresh store. Raises OSError if unreadable."""
    p = Path(path)
    log_path = p / RUN_LOG if p.is_dir() else p
    reader = RunLogReader(log_path)
    store = MetricStore()
    for batch in reader.read_chunks():
        store.append_points(batch.points)
        store.append_events(batch.events)
    return LoadedRun(store=store, malformed=reader.malformed, torn=reader.torn, meta=read_meta(log_path.parent))


def read_new(reader: RunLogReader) -> Batch:
    """Everything new since the reader's last read, as one Batch."""
    out = Batch()
    for batch in reader.read_chunks():
        for name, (st, va) in batch.points.items():
            have = out.points.get(name)
            out.points[name] = (st, va) if have is None else (
                np.concatenate([np.asarray(have[0], np.int64), np.asarray(st, np.int64)]),
                np.concatenate([np.asarray(have[1], np.float64), np.asarray(va, np.float64)]))
        out.events.extend(batch.events)
        out.lines += batch.lines
        out.malformed += batch.malformed
    return out


def encode_metrics(step: int, t: float, metrics: dict[str, float]) -> str:
    """One metric line (with newline); `t` is wall-clock time in seconds."""
    return encode_rows([{**metrics, "step": step}], t)
