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
from lossmon.rundir.layout import META, NOFOLLOW, write_atomic


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


RESERVE = 2048  # spaces at the end of the first meta.json: room for the final state on a full disk


def write_meta(run_dir: Path, meta: dict, reserve: int = 0) -> None:
    """Write meta.json atomically (layout.write_atomic: a fresh temp file, never a planted link);
    `reserve` pads it with that many trailing spaces. If the atomic write fails (a full disk),
    overwrite the file in place within the bytes it already holds, so the final state still lands
    (a reader may then see a half-written file: it reads as {})."""
    path = Path(run_dir) / META
    text = json.dumps(meta, indent=2, default=str) + "\n"
    try:
        write_atomic(path, text + (" " * reserve + "\n" if reserve else ""))
    except OSError as e:
        if not reserve and _overwrite(path, meta):
            return
        raise e


def _overwrite(path: Path, meta: dict) -> bool:
    """meta as JSON over the existing file, padded with spaces to its size (no new blocks needed);
    a long error message is cut to fit. False when it does not fit or cannot be written."""
    try:
        fd = os.open(path, os.O_WRONLY | NOFOLLOW)
    except OSError:
        return False
    try:
        size = os.fstat(fd).st_size
        meta = dict(meta)
        for _ in range(2):
            data = (json.dumps(meta, indent=2, default=str) + "\n").encode("utf-8")
            if len(data) <= size:
                break
            err = str(meta.get("error", ""))
            meta["error"] = err[: max(0, len(err) - (len(data) - size) - 4)] + "..."
        else:
            return False
        data += b" " * (size - len(data))
        while data:
            data = data[os.pwrite(fd, data, size - len(data)):]
        return True
    except OSError:
        return False
    finally:
        os.close(fd)


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
