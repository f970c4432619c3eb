"""The runs under a directory, oldest first, with their state and latest losses (`lossmon ls`);
and which run `lossmon watch` opens when it is given no path (the newest)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lossmon import jsontext, names, states
from lossmon.rundir.columns import DIR, ColumnReader, read_index
from lossmon.rundir.jobstate import job_state
from lossmon.rundir.layout import RUN_LOG, is_run_dir
from lossmon.rundir.meta import read_meta
from lossmon.rundir.runlog import parse_step, parse_value

MAX_TIME = 32503680000.0  # 3000-01-01: a start_time past it (or before 1970, or NaN) is not one; mtime instead
_TAIL_BYTES = 256 * 1024  # how far back from the end of run.jsonl to look for the last losses


@dataclass
class RunSummary:
    path: Path
    name: str
    start: float
    state: str
    steps: int | None
    train: float | None
    val: float | None


def find_runs(root: Path) -> list[Path]:
    """Run directories directly under `root` (those holding run.jsonl or meta.json), oldest first."""
    try:
        dirs = [p for p in Path(root).iterdir() if is_run_dir(p)]
    except OSError:
        return []
    return sorted(dirs, key=_start_time)


def _start_time(run_dir: Path) -> float:
    meta = read_meta(run_dir)
    t = meta.get("start_time")
    if isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t < MAX_TIME:  # NaN fails this too
        return float(t)
    try:
        return run_dir.stat().st_mtime
    except OSError:
        return 0.0


def latest_run(root: Path) -> Path | None:
    """The run `lossmon watch` opens with no path: the newest one still running (of the last 20),
    else the newest."""
    runs = find_runs(root)
    for run in reversed(runs[-20:]):
        if job_state(run)[0] == states.RUNNING:
            return run
    return runs[-1] if runs else None


def summarize(run_dir: Path) -> RunSummary:
    meta = read_meta(run_dir)
    state, _ = job_state(run_dir, meta)
    # a killed run may have its last batch in run.jsonl but not in the columns: read the record
    last = None if state == states.GONE else _last_from_columns(run_dir)
    if last is None or last[0] is None:
        last = _last_from_log(run_dir / RUN_LOG)
    step, train, val = last
    steps = meta.get("steps") if state != states.RUNNING and isinstance(meta.get("steps"), int) else step
    return RunSummary(run_dir, str(meta.get("name") or run_dir.name), _start_time(run_dir), state, steps, train, val)


def _last_from_columns(run_dir: Path) -> tuple[int | None, float | None, float | None] | None:
    index = read_index(run_dir)
    if index is None:
        return None
    step = train = val = None
    for i, name in enumerate(index):
        role = names.role(name)
        last = ColumnReader(run_dir / DIR / f"{i}.bin").last()
        if last is None:
            continue
        step = last[0] if step is None else max(step, last[0])
        if role == names.TRAIN_LOSS and train is None:
            train = last[1]
        elif role == names.VAL_LOSS and val is None:
            val = last[1]
    return step, train, val


def _last_from_log(log: Path) -> tuple[int | None, float | None, float | None]:
    """The last step and losses from the end of run.jsonl, without reading the whole file."""
    try:
        if not log.is_file():  # a FIFO would block the reader
            return None, None, None
        with open(log, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - _TAIL_BYTES))
            tail = f.read()
    except OSError:
        return None, None, None
    step = train = val = None
    for raw in reversed(tail.split(b"\n")):
        if not raw.startswith(b"{"):
            continue
        try:
            rec = jsontext.loads(raw)
        except ValueError:
            continue
        if not isinstance(rec, dict) or "event" in rec:
            continue
        s = parse_step(rec.get("step"))
        if s is not None and step is None:
            step = s
        for k, v in rec.items():
            role = names.role(k)
            if role == names.TRAIN_LOSS and train is None:
                train = parse_value(v)
            elif role == names.VAL_LOSS and val is None:
                val = parse_value(v)
        if step is not None and train is not None and val is not None:
            break
    return step, train, val
