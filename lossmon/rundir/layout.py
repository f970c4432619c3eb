"""Every file a run directory holds, by name, and how a new run directory is made.

    lossmon_runs/<YYYYmmdd-HHMMSS>-<name>/   one run (DEFAULT_ROOT: where runs go by default)
        run.jsonl        RUN_LOG: the record, one JSON object a line (rundir/runlog.py)
        meta.json        META: name, host, pid, versions, and how the run ended (rundir/meta.py)
        columns/         COLUMNS: a binary copy of the metric points, for fast opening (rundir/columns.py)
            names.json   COLUMNS_INDEX: metric names by column file number
            <i>.bin      (int64 step, float64 value) records
        control.sock     SOCKET: the live run's control socket (control_socket.py)
        output.log       OUTPUT_LOG: what training printed while the live UI showed (views/tui/capture.py)

Readers and writers take these names from here, never as literals of their own.
"""

from __future__ import annotations

import os
import re
import time
from pathlib import Path

DEFAULT_ROOT = "lossmon_runs"
RUN_LOG = "run.jsonl"
META = "meta.json"
COLUMNS = "columns"
COLUMNS_INDEX = "names.json"
SOCKET = "control.sock"
OUTPUT_LOG = "output.log"


class RunDirError(Exception):
    """The run directory cannot be created or used; the message is one line for the user."""


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned[:64] or "run"


def is_run_dir(path: Path) -> bool:
    """A directory that holds a lossmon run (its run log or its metadata)."""
    return path.is_dir() and ((path / RUN_LOG).exists() or (path / META).exists())


def create_run_dir(name: str, run_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path:
    """Create the directory for a new run and return it.

    `run_dir` is the run's own directory (created if missing; refused if it already holds a run
    log). Without it, a fresh timestamped folder is made under `root` (default ./lossmon_runs).
    """
    try:
        if run_dir is not None:
            path = Path(run_dir)
            path.mkdir(parents=True, exist_ok=True)
            if (path / RUN_LOG).exists():
                raise RunDirError(f"run directory {path} already holds a run log; choose another --run-dir")
            return path
        base = Path(root if root is not None else DEFAULT_ROOT)
        base.mkdir(parents=True, exist_ok=True)
        stem = time.strftime("%Y%m%d-%H%M%S") + "-" + safe_name(name)
        for i in range(1, 1000):
            path = base / (stem if i == 1 else f"{stem}-{i}")
            try:
                path.mkdir()
                return path
            except FileExistsError:
                continue
        raise RunDirError(f"could not find a free run directory name under {base}")
    except RunDirError:
        raise
    except OSError as e:
        where = run_dir if run_dir is not None else (root or DEFAULT_ROOT)
        raise RunDirError(f"cannot create run directory {where}: {e.strerror or e}") from None
