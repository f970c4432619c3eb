"""The lossmon run that recorded the same training as another tool's log.

Under `lossmon run` or an integration, a Lightning or Hugging Face script writes its own log and
lossmon writes its run directory beside it (./lossmon_runs in the same working directory). The tool
logs the LR its schedule set; only lossmon knows the multiplier applied on top of it (`]`, `[`, a
set), and a loss that rose after a `]` would read as trouble against the schedule's LR. So
`lossmon check` on the tool's log looks for that run: in a lossmon_runs folder in the log's
directory or one of its three parents, the run that started before the log was last written and
whose own record was last written within five minutes of it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from lossmon import names
from lossmon.events import LR_CHANGE, LR_COMMIT
from lossmon.rundir.layout import DEFAULT_ROOT, RUN_LOG
from lossmon.rundir.listing import find_runs
from lossmon.rundir.meta import read_meta

_NEAR_S = 300.0


def find(log_path: str | os.PathLike) -> Path | None:
    """The lossmon run directory that goes with another tool's log, or None."""
    p = Path(log_path).resolve()
    try:
        written = _newest_mtime(p)
    except OSError:
        return None
    best, gap = None, _NEAR_S
    for folder in [p if p.is_dir() else p.parent, *list((p if p.is_dir() else p.parent).parents)[:3]]:
        root = folder / DEFAULT_ROOT
        if not root.is_dir():
            continue
        for run in find_runs(root):
            try:
                ended = (run / RUN_LOG).stat().st_mtime
            except OSError:
                continue
            started = (read_meta(run) or {}).get("start_time")
            if isinstance(started, (int, float)) and started > written:
                continue
            if abs(ended - written) < gap:
                best, gap = run, abs(ended - written)
        if best is not None:
            return best
    return None


def _newest_mtime(p: Path) -> float:
    if p.is_file():
        return p.stat().st_mtime
    times = [f.stat().st_mtime for f in p.rglob("*") if f.is_file()][:10000]
    if not times:
        raise OSError("empty directory")
    return max(times)


def effective_lr(rec, run) -> tuple[dict, list[dict]]:
    """`rec`'s points with its LR series replaced by the lossmon run's effective LR, and the run's
    LR events (both records are sources.Recorded). Steps are optimizer steps in both."""
    points = {n: v for n, v in rec.points.items() if names.role(n) != names.LR}
    lr = run.points.get("lr")
    if lr is not None:
        st, va = lr
        points["lr"] = (np.asarray(st, dtype=np.int64), np.asarray(va, dtype=np.float64))
    events = [e for e in run.events if e.get("event") in (LR_CHANGE, LR_COMMIT)]
    return points, events
