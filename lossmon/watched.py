"""Watching a run from another terminal: tail its source into a store, tell whether its job is still
running, and steer it over the control socket when it is a live lossmon run.

`WatchedRun` is both what a view shows and steers (views/protocol.py: RunView, as a `Run` is) and
the job behind it (JobView), so the same views show a watched run and a local one. One thread polls the source
(every `interval`, or at once while a long file is still loading) and owns the store; views only
read it. A second thread asks the job how it is (metadata, process, a status request over the
socket) twice a second, so a slow answer never holds up the data. Sources that are not lossmon
run logs get the detectors run on them here.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from typing import Any

from lossmon import events, states
from lossmon.control_socket import ControlClient, ControlError
from lossmon.diagnosis import Diagnoser
from lossmon.diagnosis.config import DiagnosisConfig
from lossmon.diagnosis.forecast_live import LiveForecast
from lossmon.recording.store import MetricStore
from lossmon.rundir.jobstate import job_state
from lossmon.rundir.layout import SOCKET
from lossmon.rundir.meta import read_meta
from lossmon.sources import Source, SourceError

STATUS_EVERY_S = 0.5


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
        self.job, self.job_detail = (states.RUNNING, "") if self.run_dir else (states.READ_ONLY, "")
        self.status: dict = {}
        self.loaded = False  # the source has been read to its end once
        self.error: str | None = None  # the source stopped being readable
        self.unreadable = False  # ... because it is not what it claimed (SourceError): exit 2, as check
        self.notices: deque[tuple[str, str]] = deque()  # (severity, text) for the view to show
        self.last_data = time.monotonic()
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lossmon-watch", daemon=True)
        self._job_thread = threading.Thread(target=self._job_loop, name="lossmon-watch-job", daemon=True)
        self._job_now = threading.Event()
        self._pending_lr = False
        self.total_steps = None
        self.forecast = LiveForecast(lambda: self.total_steps)
        self.dir = None  # no captured output to write: the job's own terminal has it

    # ---- the job, as a view sees it (JobView) -------------------------------------------------

    in_process = False  # quitting the view never touches the job
    leave_when_empty = False

    @property
    def state(self) -> str:
        """The job's state; `loading` while a running job's history is still being read."""
        return self.job if self.loaded or self.job != states.RUNNING else states.LOADING

    @property
    def detail(self) -> str:
        return self.job_detail

    @property
    def source_label(self) -> str:
        return self.source.describe()

    @property
    def config_values(self) -> dict:
        """The run's config, as its meta.json records it (lossmon.config() and friends)."""
        config = self.meta.get("config")
        return config if isinstance(config, dict) else {}

    failure = None  # a watched job's traceback is in its run log, shown as an event

    # ---- the read side a view uses (RunView, as on Run) ---------------------------------------

    @property
    def steerable(self) -> bool:
        return self.client is not None and self.job == states.RUNNING and bool(self.status)

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
    def forecasts(self) -> dict:
        return self.forecast.latest

    @property
    def lr_probing(self) -> bool:
        return bool(self.status.get("lr_probing", False))

    @property
    def paused(self) -> bool:
        return bool(self.status.get("paused", False))

    @property
    def snapshotting(self) -> bool:
        return bool(self.status.get("snapshotting", False))

    @property
    def rollback_pending(self) -> bool:
        return bool(self.status.get("rollback_pending", False))

    def snapshots(self) -> list[dict]:
        """The job's newest snapshots, oldest first, as its last status reply listed them."""
        snaps = self.status.get("snapshots")
        return [s for s in snaps if isinstance(s, dict) and isinstance(s.get("step"), int)] if isinstance(snaps, list) else []

    @property
    def pause_requested(self) -> bool:
        return bool(self.status.get("pause_requested", False))

    @property
    def should_stop(self) -> bool:
        return bool(self.status.get("stopping", False))

    @property
    def malformed(self) -> int:
        return self.source.malformed

    @property
    def malformed_unit(self) -> str:
        """What `malformed` counts: "line", or "record" for TensorBoard."""
        return self.source.unit

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

    def probe_lr(self, factor: float = 2.0, steps: int = 200, *, source: str = "key") -> None:
        self._pending_lr = True
        self.status["lr_probing"] = True
        self._send("probe_lr", factor=factor, steps=steps)

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

    def rollback(self, to_step: int | None = None, skip_batches: int = 200, lr_scale: float | None = None, *,
                 source: str = "key") -> None:
        """Ask the job to roll back (it checks the request itself, and answers a refusal as a notice)."""
        fields = {"skip_batches": skip_batches}
        if to_step is not None:
            fields["to_step"] = to_step
        if lr_scale is not None:
            fields["lr_scale"] = lr_scale
        self.status["rollback_pending"] = True
        self._send("rollback", **fields)

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
        elif cmd == "rollback":
            self.notices.append(("information", "rollback requested: it happens at the job's next step"))
        self._job_now.set()  # refresh the job's state now

    # ---- polling ------------------------------------------------------------------------------

    def start(self) -> "WatchedRun":
        """Start polling (once: a view that shows it calls this too, as JobView.start)."""
        if self._thread.ident is None:
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
                self.unreadable = isinstance(e, SourceError)
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
            self.forecast = LiveForecast(lambda: self.total_steps)
            self.generation += 1
            self.notices.append(("warning", up.reset))
        if up.points or up.events:
            self.last_data = time.monotonic()
            self.store.append_points(up.points)
            self.store.append_events(up.events)
            if self.diagnoser is not None:
                self.diagnoser.feed(up.points, up.events)
            self.forecast(up.points, up.events)
        if not up.more:
            self.loaded = True
        return up.more

    def finish(self) -> None:
        """Take the source as finished: a last line without its newline counts (as `check` reads
        it). After the poll thread has stopped."""
        up = self.source.final()
        if up.points or up.events:
            self.store.append_points(up.points)
            self.store.append_events(up.events)
            if self.diagnoser is not None:
                self.diagnoser.feed(up.points, up.events)

    def refresh_job(self) -> None:
        """Read the job's metadata and, while it runs, its status over the socket: a status
        reply is the proof it runs, so a live job costs one connection per refresh."""
        meta = read_meta(self.run_dir)
        if meta:
            self.meta = meta
        if self.meta.get("state") in (None, states.RUNNING) and self.client is not None:
            try:
                reply = self.client.request("status")
            except ControlError:
                reply = {}
            if reply.get("ok"):
                self.status = reply
                self._pending_lr = False
                if isinstance(reply.get("total_steps"), int):
                    self.total_steps = reply["total_steps"]
                self.job, self.job_detail = states.RUNNING, ""
                return
        self.status = {}
        self.job, self.job_detail = job_state(self.run_dir, self.meta)

    def _new_diagnoser(self) -> Diagnoser | None:
        if self.source.alerts_recorded:
            return None  # the job ran the detectors itself: its alerts are in the log
        return Diagnoser(self.config, sink=self._alert, live=False)

    def _alert(self, alert: dict) -> None:
        fields = {k: v for k, v in alert.items() if k != "event"}
        self.store.append_events([{"event": events.ALERT, "time": time.time(), **fields}])
