"""meta.json: who ran the run, where, with what, and how it ended; and whether its process lives.

meta.json is rewritten atomically (temp file + rename) so a reader never sees half of it.
"""

from __future__ import annotations

import json
import os
import platform
import socket
import sys
import time
from pathlib import Path
from typing import Any

from lossmon import jsontext, states
from lossmon.rundir.layout import META, write_atomic


def initial_meta(name: str) -> dict:
    import numpy

    try:
        import torch

        torch_version = torch.__version__
    except Exception:  # torch is a dependency, but metadata must never stop a run
        torch_version = None
    from lossmon.version import __version__

    return {
        "name": name,
        "start_time": time.time(),
        "start": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "pid_start": process_start(os.getpid()),
        "argv": list(sys.argv),
        "cwd": os.getcwd(),
        "versions": {
            "lossmon": __version__,
            "torch": torch_version,
            "numpy": numpy.__version__,
            "python": platform.python_version(),
        },
        "state": states.RUNNING,
    }


def write_meta(run_dir: Path, meta: dict) -> None:
    write_atomic(Path(run_dir) / META, json.dumps(meta, indent=2, default=str) + "\n")


def read_meta(run_dir: Path) -> dict:
    """meta.json as a dict ({} when missing or unreadable: a run directory is still usable; also
    when it is not a regular file, as a FIFO would block the reader)."""
    path = Path(run_dir) / META
    try:
        if not path.is_file():
            return {}
        meta = jsontext.loads(path.read_text(encoding="utf-8-sig"))  # a BOM from an editor
    except (OSError, ValueError):
        return {}
    return meta if isinstance(meta, dict) else {}


def process_start(pid: int) -> int | None:
    """When a process started, in clock ticks since boot (/proc/PID/stat's starttime; None where
    there is no /proc): with the pid it names one process, as a pid alone does not once reused."""
    try:
        with open(f"/proc/{int(pid)}/stat", "rb") as f:
            stat = f.read()
        return int(stat.rpartition(b")")[2].split()[19])  # fields after the command name: 3 to 52
    except (OSError, ValueError, IndexError):
        return None


def pid_alive(pid: Any, start: Any = None) -> bool | None:
    """Whether a process with this pid exists here (None: cannot tell); with `start` (meta.json's
    pid_start), a process by that pid that started at another time is another process: False."""
    if isinstance(pid, bool) or not isinstance(pid, int) or pid <= 0 or pid >= 2**31:
        return None
    if isinstance(start, int) and not isinstance(start, bool):
        now = process_start(pid)
        if now is not None and now != start:
            return False
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
    if meta.get("state") != states.RUNNING or meta.get("host") != socket.gethostname():
        return False
    return pid_alive(meta.get("pid"), meta.get("pid_start")) is False
