"""Watching a run from another terminal: tail its source into a store, tell whether its job is still
running, and steer it over the control socket when it is a live lossmon run.

`WatchedRun` offers the read side of a `Run` (name, store, step, LR multiplier, pause state) and its
control calls, so the same views show a watched run and a local one. One thread polls the source
(every `interval`, or at once while a long file is still loading) and owns the store; views only
read it. A second thread asks the job how it is (metadata, process, a status request over the
socket) twice a second, so a slow answer never holds up the data. Sources that are not lossmon
run logs get the detectors run on them here.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import deque
from pathlib import Path
from typing import Any

from lossmon.control_socket import SOCKET, ControlClient, ControlError, probe
from lossmon.diagnosis import Diagnoser
from lossmon.diagnosis.config import DiagnosisConfig
from lossmon.rundir.meta import killed, pid_alive, read_meta
from lossmon.sources import Source, SourceError
from lossmon.recording.store import MetricStore

STATUS_EVERY_S = 0.5
ENDED = ("finished", "stopped", "failed", "interrupted", "gone")


def job_state(run_dir: Path, meta: dict | None = None) -> tuple[str, str]:
    """(state, detail) of a lossmon run: running, or one of ENDED. A run whose metadata still says
    running but whose process is gone (kill -9, a node failure) is 'gone'; a socket file left by it
    is stale and never trusted."""
    meta = read_meta(run_dir) if meta is None else meta
    state = meta.get("state")
    if isinstance(state, str) and state != "running":
        code = meta.get("exit_code")
        detail = f"exit {code}" if code is not None else ""
        if meta.get("error"):
            detail = f"{detail}: {meta['error']}" if detail else str(meta["error"])
        return state, detail
    if probe(Path(run_dir) / SOCKET) == "live":
        return "running", ""
    if not isinstance(state, str):  # no readable meta.json: nothing says whether it runs
        return "unknown", "no readable meta.json"
    host = meta.get("host")
    if host and host != socket.gethostname():
        return "running", f"on {host}; cannot check its process from here"
    if killed(meta):
        return "gone", f"process {meta.get('pid')} no longer exists; it ended without closing its log"
    return "running", "no control channel" if pid_alive(meta.get("pid")) else ""


class WatchedRun:
    """A run read from its files (and steered over its socket when it has a live one)."""

    def __init__(self, source: Source, *, config: DiagnosisConfig | None = None, interval: float = 0.05) -> None:
        self.source = source
        self.run_dir = source.run_dir
        self.meta = read_meta(self.run_dir) if self.run_dir else {}
        self.name = str(self.meta.get("name") or (self.run_dir.name if self.run_dir else source.title))
        self.interval = interval
        self.config = config
        self.store = MetricStore()
        self.generation = 0  # bumped when the source was truncated or replaced and is read anew
        self.diagnoser = self._new_diagnoser()
        self.client = ControlClient(self.run_dir / SOCKET) if self.run_dir else None
        self.job, self.job_detail = ("running", "") if self.run_dir else ("read-only", "")
        self.status: dict = {}
        self.loaded = False  # the source has been read to its end once
        self.error: str | None = None  # the source stopped being readable
        self.notices: deque[tuple[str, str]] = deque()  # (severity, text) for the view to show
        self.last_data = time.monotonic()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lossmon-watch", daemon=True)
        self._job_thread = threading.Thread(target=self._job_loop, name="lossmon-watch-job", daemon=True)
        self._job_now = threading.Event()
        self._pending_lr = False
        self.total_steps = None
        self.dir = None  # no captured output to write: the job's own terminal has it

    # ---- the read side a view uses (as on Run) ------------------------------------------------

    @property
    def steerable(self) -> bool:
        return self.client is not None and self.job == "running" and bool(self.status)

    @property
    def read_only(self) -> bool:
        return self.client is None

    @property
    def step(self) -> int:
        return self.store.last_step

    @property
    def lr_scale(self) -> float:
        return float(self.status.get("lr_scale", 1.0))

    @property
    def lr_watched(self) -> bool:
        return bool(self.status.get("lr_watched", False))

    @property
    def lr_change_pending(self) -> bool:
        return self._pending_lr or bool(self.status.get("lr_pending", False))

    @property
    def paused(self) -> bool:
        return bool(self.status.get("paused", False))

    @property
    def pause_requested(self) -> bool:
        return bool(self.status.get("pause_requested", False))

    @property
    def should_stop(self) -> bool:
        return bool(self.status.get("stopping", False))

    @property
    def malformed(self) -> int:
        return self.source.malformed

    # ---- control (sent over the socket, off the caller's thread) ------------------------------

    def scale_lr(self, factor: float, *, source: str = "key") -> None:
        self._pending_lr = True
        self._send("scale_lr", factor=factor)

    def set_lr(self, value: float, *, source: str = "key") -> None:
        self._pending_lr = True
        self._send("set_lr", value=value)

    def reset_lr(self, *, source: str = "key") -> None:
        self._pending_lr = True
        self._send("reset_lr")

    def commit_lr(self, *, source: str = "key") -> None:
        self._send("commit_lr")

    def pause(self, *, source: str = "key") -> None:
        self.status["pause_requested"] = True
        self._send("pause")

    def resume(self, *, source: str = "key") -> None:
        self.status["pause_requested"] = False
        self._send("resume")

    def stop(self, *, source: str = "key") -> None:
        self.status["stopping"] = True
        self._send("stop")

    def checkpoint(self, *, source: str = "key") -> None:
        self._send("checkpoint")

    def _send(self, cmd: str, **fields: Any) -> None:
        if self.client is None:
            self.notices.append(("warning", "this view is read-only"))
            return
        threading.Thread(target=self._request, args=(cmd, fields), name="lossmon-control-request", daemon=True).start()

    def _request(self, cmd: str, fields: dict) -> None:
        try:
            reply = self.client.request(cmd, **fields)
        except ControlError as e:
            self.notices.append(("error", f"{cmd}: {e}"))
            self._pending_lr = False
            return
        if not reply.get("ok"):
            self.notices.append(("error", f"{cmd} refused: {reply.get('error', 'no reason given')}"))
            self._pending_lr = False
        elif cmd == "checkpoint":
            self.notices.append(("information", "checkpoint requested: it runs at the job's next step"))
        self._job_now.set()  # refresh the job's state now

    # ---- polling ------------------------------------------------------------------------------

    def start(self) -> "WatchedRun":
        self._thread.start()
        if self.run_dir is not None:
            self._job_thread.start()
        return self

    def close(self) -> None:
        self._halt.set()
        self._job_now.set()
        for t in (self._thread, self._job_thread):
            if t.is_alive() and t is not threading.current_thread():
                t.join(timeout=2)

    def _job_loop(self) -> None:
        while not self._halt.is_set():
            try:
                self.refresh_job()
            except Exception as e:  # noqa: BLE001 - the job's state is shown as unknown, not fatal
                self.job_detail = f"cannot tell the job's state: {type(e).__name__}: {e}"
            self._job_now.wait(STATUS_EVERY_S)
            self._job_now.clear()

    def _loop(self) -> None:
        while not self._halt.is_set():
            more = False
            try:
                more = self.poll()
            except Exception as e:  # noqa: BLE001 - a watcher reports; it never takes the view down
                self.error = f"{type(e).__name__}: {e}" if not isinstance(e, SourceError) else str(e)
                self.notices.append(("error", f"stopped reading: {self.error}"))
                return
            if not more:
                self._halt.wait(self.interval)

    def poll(self) -> bool:
        """Read what is new (one chunk of a long file) into the store; True when more is waiting
        to be read at once. The poll thread's (or the caller's, before `start`) only."""
        up = self.source.poll()
        if up.reset:
            self.store = MetricStore()
            self.diagnoser = self._new_diagnoser()
            self.generation += 1
            self.notices.append(("warning", up.reset))
        if up.points or up.events:
            self.last_data = time.monotonic()
            self.store.append_points(up.points)
            self.store.append_events(up.events)
            if self.diagnoser is not None:
                self.diagnoser.feed(up.points, up.events)
        if not up.more:
            self.loaded = True
        return up.more

    def refresh_job(self) -> None:
        """Read the job's metadata and, while it runs, its status over the socket: a status
        reply is the proof it runs, so a live job costs one connection per refresh."""
        meta = read_meta(self.run_dir)
        if meta:
            self.meta = meta
        if self.meta.get("state") in (None, "running") and self.client is not None:
            try:
                reply = self.client.request("status")
            except ControlError:
                reply = {}
            if reply.get("ok"):
                self.status = reply
                self._pending_lr = False
                if isinstance(reply.get("total_steps"), int):
                    self.total_steps = reply["total_steps"]
                self.job, self.job_detail = "running", ""
                return
        self.status = {}
        self.job, self.job_detail = job_state(self.run_dir, self.meta)

    def _new_diagnoser(self) -> Diagnoser | None:
        if self.source.alerts_recorded:
            return None  # the job ran the detectors itself: its alerts are in the log
        return Diagnoser(self.config, sink=self._alert, live=False)

    def _alert(self, alert: dict) -> None:
        fields = {k: v for k, v in alert.items() if k != "event"}
        self.store.append_events([{"event": "alert", "time": time.time(), **fields}])


def watch_plain(watched: WatchedRun, out=None) -> int:
    """Follow a watched run with plain status lines (no terminal): until its job ends, or -- for
    files without a job to ask (TensorBoard, CSV...) -- until Ctrl+C or SIGTERM, like `tail -f`.
    A signal ends the watching, never the job: exit 128+signal, as the live view."""
    from lossmon.views.plain import PlainPrinter
    from lossmon.training.signals import SignalStop

    printer = PlainPrinter(watched, out)
    printer.emit(f"lossmon: watching {watched.source.describe()} (Ctrl+C stops watching; the job goes on)")
    signals = SignalStop(None).install()
    watched.start()
    code = 0
    try:
        while signals.signum is None:
            time.sleep(0.2)
            printer.rates = watched.loaded and watched.job == "running"
            printer.poll()
            while watched.notices:
                printer.emit(f"lossmon: {watched.notices.popleft()[1]}")
            if watched.error:
                code = 1
                break
            if watched.loaded and watched.job in ENDED:
                printer.rates = False
                printer.poll(final=True)
                detail = f" ({watched.job_detail})" if watched.job_detail else ""
                printer.emit(f"lossmon: the job is {watched.job}{detail}")
                break
    finally:
        watched.close()
        signals.restore()
    if signals.signum is not None and not code:  # one last read and status line, as things are now
        try:
            watched.poll()
        except Exception:  # noqa: BLE001 - the last look is a courtesy, the exit is what matters
            pass
        printer.rates = False
        printer.poll(final=True)
        code = signals.exit_code
    return code
