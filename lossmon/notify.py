"""Notifications: an alert of the configured severity or above runs the user's command.

`[notify]` in the TOML config (diagnosis/config.py: NotifyConfig):

    [notify]
    command = "curl -s -H 'Content-Type: application/json' -d @- https://chat.example/hook"
    on = "warning"      # or "critical" (the default)
    timeout_s = 10

The command runs through the shell, on a worker thread of its own, with the alert as one JSON
object on its stdin; training, the pump and the views never wait for it. A command that fails,
is not found or outlives its timeout (its process group is then killed) is recorded as a `notify`
event and said once on stderr; nothing here raises. The terminal bell is the views' part
(`rings`): the live UI rings it, plain mode writes BEL when stdout is a terminal.
"""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from typing import Any, Callable

from lossmon.diagnosis.alerts import SEVERITIES
from lossmon.diagnosis.config import NotifyConfig

MAX_QUEUED = 16  # alerts waiting for the command; more are dropped (and said)


def rings(alert: dict, on: str) -> bool:
    """Whether `alert` calls for a notification at threshold `on`: an alert that opened or got
    worse, of severity `on` or above."""
    sev = alert.get("severity")
    if alert.get("state") == "resolved" or sev not in SEVERITIES or on not in SEVERITIES:
        return False
    return SEVERITIES.index(sev) >= SEVERITIES.index(on)


def bell_severity(config: NotifyConfig) -> str | None:
    """The least severe alert that rings the terminal bell ([notify] on and bell), None: never."""
    return config.on if config.bell and config.enabled else None


class Notifier:
    """Runs `config.command` for each alert that `rings`; `record(fields)` gets each failure."""

    def __init__(self, config: NotifyConfig, record: Callable[[dict], None] | None = None,
                 say: Callable[[str], None] | None = None) -> None:
        self.config = config
        self.record = record
        self.say = say if say is not None else (lambda m: print(f"lossmon: {m}", file=sys.stderr))
        self.sent = 0  # commands that ran and exited 0
        self.failed = 0
        self._said: set[str] = set()
        self._queue: queue.Queue = queue.Queue(MAX_QUEUED)
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def active(self) -> bool:
        return self.config.enabled and bool(self.config.command.strip())

    def alert(self, alert: dict) -> None:
        """Queue the command for this alert if it rings (any thread; never blocks, never raises)."""
        if not self.active or not rings(alert, self.config.on):
            return
        try:
            self._queue.put_nowait(dict(alert))
        except queue.Full:
            self._fail(alert, "dropped", f"{MAX_QUEUED} alerts already wait for the notify command; this one is dropped")
            return
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._work, name="lossmon-notify", daemon=True)
                self._thread.start()

    def wait(self, timeout: float | None = None) -> bool:
        """Until every queued command has run (or `timeout`); True when none is left. For
        `lossmon check --notify` and tests."""
        import time

        deadline = None if timeout is None else time.monotonic() + timeout
        while self._queue.unfinished_tasks:
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.01)
        return True

    def _work(self) -> None:
        while True:
            try:
                alert = self._queue.get(timeout=1.0)
            except queue.Empty:
                return
            try:
                self.run_command(alert)
            except Exception as e:  # noqa: BLE001 - a notification must never take anything down
                self._fail(alert, "error", f"{type(e).__name__}: {e}")
            finally:
                self._queue.task_done()

    def run_command(self, alert: dict) -> bool:
        """Run the command once for `alert`, here; True when it exited 0."""
        payload = json.dumps(alert, default=str, ensure_ascii=False).encode("utf-8", "backslashreplace")
        try:
            proc = subprocess.Popen(self.config.command, shell=True, stdin=subprocess.PIPE,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
        except OSError as e:
            self._fail(alert, "error", f"cannot start the notify command: {e.strerror or e}")
            return False
        try:
            _, err = proc.communicate(payload, timeout=self.config.timeout_s)
        except subprocess.TimeoutExpired:
            _kill(proc)
            self._fail(alert, "timeout", f"the notify command ran over its {self.config.timeout_s:g} s timeout and was killed")
            return False
        if proc.returncode == 0:
            self.sent += 1
            return True
        tail = err.decode("utf-8", "replace").strip().splitlines()[-1:] if err else []
        why = "not found" if proc.returncode == 127 else f"exit status {proc.returncode}"
        self._fail(alert, "failed", f"the notify command failed ({why})" + (f": {tail[0][:200]}" if tail else ""))
        return False

    def _fail(self, alert: dict, reason: str, message: str) -> None:
        self.failed += 1
        if self.record is not None:
            try:
                self.record({"ok": False, "reason": reason, "alert": alert.get("kind"), "message": message})
            except Exception:  # noqa: BLE001
                pass
        if reason not in self._said:
            self._said.add(reason)
            self.say(message)


def _kill(proc: Any) -> None:
    """The command's whole process group (a shell and what it started), then reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (OSError, AttributeError):
        try:
            proc.kill()
        except OSError:
            pass
    try:
        proc.communicate(timeout=2)
    except Exception:  # noqa: BLE001
        pass
