"""The runs a comparison is given: paths (any source `lossmon watch` reads) or the indices
`lossmon ls` prints (1 = the oldest run under the runs directory), opened as WatchedRuns.

Indices, not a selection file: they need no state, a script can use them, and they stay the
same while runs are added (ls lists the oldest first). A number is an index only where no file
or directory by that name exists.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lossmon.compare.table import RunRow, row_of
from lossmon.rundir.layout import RUN_LOG
from lossmon.rundir.listing import find_runs


class CompareError(ValueError):
    """A run that cannot be compared; the message is one line for the user."""


def resolve(args: list[str], root: Path) -> list[Path]:
    """Paths for the runs named: each argument a path, or an index from `lossmon ls ROOT`."""
    runs: list[Path] | None = None
    out = []
    for a in args:
        p = Path(a)
        if a.isdigit() and not p.exists():
            if runs is None:
                runs = find_runs(root)
            i = int(a)
            if not 1 <= i <= len(runs):
                listed = f"lossmon ls {root} lists {len(runs)}" if runs else f"there are no runs under {root}"
                raise CompareError(f"no run #{i}: {listed}")
            p = runs[i - 1]
        elif not p.exists():
            raise CompareError(f"no such run or log: {a}")
        out.append(p)
    return out


def open_runs(paths: list[Path], *, train: str | None = None, val: str | None = None,
              config: Any = None) -> list[Any]:
    """WatchedRuns for the paths, each polled once (a file that is not what it claims fails here,
    as in `check`); CompareError naming the path otherwise. Names made unique (a suffix #2...)."""
    from lossmon.sources import SourceError, open_source
    from lossmon.watched import WatchedRun

    opened: list[WatchedRun] = []
    try:
        for p in paths:
            try:
                w = WatchedRun(open_source(p, train=train, val=val), config=config)
                w.poll()
            except SourceError as e:
                raise CompareError(str(e)) from None
            opened.append(w)
    except BaseException:
        for w in opened:
            w.close()
        raise
    seen: dict[str, int] = {}
    for w in opened:
        n = seen[w.name] = seen.get(w.name, 0) + 1
        if n > 1:
            w.name = f"{w.name} #{n}"
    return opened


def load(watched: Any, limit: int = 10_000) -> None:
    """Read a watched run's source to its end (no poll thread), the last line too (as check)."""
    for _ in range(limit):
        if not watched.poll():
            break
    watched.finish()
    if watched.run_dir is not None:
        watched.refresh_job()


def row(watched: Any) -> RunRow:
    return row_of(watched.name, watched.state, watched.store, watched.meta.get("config"))


def run_log(watched: Any) -> Path | None:
    """The JSONL file with the run's wall times (None where the source has none: CSV, TensorBoard)."""
    if watched.run_dir is not None:
        return watched.run_dir / RUN_LOG
    src = watched.source
    return src.path if getattr(src, "format", "") == "JSONL" else None
