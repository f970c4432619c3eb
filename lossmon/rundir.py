"""The run directory: where a run's log and metadata live (DESIGN.md §8).

Default: ./lossmon_runs/<YYYYmmdd-HHMMSS>-<name>/ holding run.jsonl and meta.json. meta.json is
rewritten atomically (temp file + rename) so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import sys
import time
from pathlib import Path
from typing import Any

from . import jsontext

DEFAULT_ROOT = "lossmon_runs"
META = "meta.json"


class RunDirError(Exception):
    """The run directory cannot be created or used; the message is one line for the user."""


def safe_name(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")
    return cleaned[:64] or "run"


def create_run_dir(name: str, run_dir: str | os.PathLike | None = None, root: str | os.PathLike | None = None) -> Path:
    """Create the directory for a new run and return it.

    `run_dir` is the run's own directory (created if missing; refused if it already holds a run
    log). Without it, a fresh timestamped folder is made under `root` (default ./lossmon_runs).
    """
    from .runlog import RUN_LOG

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


def initial_meta(name: str) -> dict:
    import numpy

    try:
        import torch

        torch_version = torch.__version__
    except Exception:  # torch is a dependency, but metadata must never stop a run
        torch_version = None
    from . import __version__

    return {
        "name": name,
        "start_time": time.time(),
        "start": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "versions": {
            "lossmon": __version__,
            "torch": torch_version,
            "numpy": numpy.__version__,
            "python": platform.python_version(),
        },
        "state": "running",
    }


def write_meta(run_dir: Path, meta: dict) -> None:
    path = Path(run_dir) / META
    tmp = path.with_name(META + ".tmp")
    tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def read_meta(run_dir: Path) -> dict:
    """meta.json as a dict ({} when missing or unreadable: a run directory is still usable)."""
    try:
        meta = jsontext.loads((Path(run_dir) / META).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def pid_alive(pid: Any) -> bool | None:
    """Whether a process with this pid exists here (None: cannot tell)."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0:
        return None
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return None
    return True


def killed(meta: dict) -> bool:
    """The metadata says running, but its process is gone from this host (kill -9, OOM killer):
    the run never closed its log."""
    if meta.get("state") != "running" or meta.get("host") != socket.gethostname():
        return False
    return pid_alive(meta.get("pid")) is False
