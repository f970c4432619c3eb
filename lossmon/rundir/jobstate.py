"""Whether a run's job is still running, or how it ended, as seen from another process."""

from __future__ import annotations

import socket
from pathlib import Path

from lossmon import states
from lossmon.control_socket import probe
from lossmon.rundir.layout import SOCKET
from lossmon.rundir.meta import killed, pid_alive, read_meta


def job_state(run_dir: Path, meta: dict | None = None) -> tuple[str, str]:
    """(state, detail) of a lossmon run: running, or one of states.ENDED. A run whose metadata still says
    running but whose process is gone (kill -9, a node failure) is 'gone'; a socket file left by it
    is stale and never trusted."""
    meta = read_meta(run_dir) if meta is None else meta
    state = meta.get("state")
    if isinstance(state, str) and state != states.RUNNING:
        code = meta.get("exit_code")
        detail = f"exit {code}" if code is not None else ""
        if meta.get("error"):
            detail = f"{detail}: {meta['error']}" if detail else str(meta["error"])
        return state, detail
    if probe(Path(run_dir) / SOCKET) == "live":
        return states.RUNNING, ""
    if not isinstance(state, str):  # no readable meta.json: nothing says whether it runs
        return states.UNKNOWN, "no readable meta.json"
    host = meta.get("host")
    if host and host != socket.gethostname():
        return states.RUNNING, f"on {host}; cannot check its process from here"
    if killed(meta):
        return states.GONE, f"process {meta.get('pid')} no longer exists; it ended without closing its log"
    return states.RUNNING, "no control channel" if pid_alive(meta.get("pid"), meta.get("pid_start")) else ""
