"""The session: a run directory with its Run, run log writer, pump, detectors and control socket.

It opens all of them when a run starts and closes them, in order, when it ends, recording how it
ended in meta.json. Every view's run shares it; the views themselves never see it.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from lossmon import events, states
from lossmon.control_socket import ControlServer
from lossmon.diagnosis import Diagnoser, DiagnosisConfig
from lossmon.diagnosis.forecast_live import LiveForecast
from lossmon.diagnosis.live import TickBuffer
from lossmon.recording.pump import Pump
from lossmon.rundir.columns import ColumnWriter
from lossmon.rundir.layout import META, RUN_LOG, SOCKET, RunDirError, create_run_dir
from lossmon.rundir.meta import RESERVE, initial_meta, write_meta
from lossmon.rundir.runlog import RunLogWriter
from lossmon.system.sampler import SystemSampler
from lossmon.notify import Notifier
from lossmon.training.active import clear_active, set_active
from lossmon.training.run import Run


class Session:
    """A run directory with its Run, run log writer, pump and metadata."""

    def __init__(self, name: str, run_dir: str | os.PathLike | None = None,
                 config: DiagnosisConfig | None = None, update_ratio: bool = True, system: bool = True) -> None:
        self.dir: Path = create_run_dir(name, run_dir)
        self.run = Run(name, self.dir, update_ratio=update_ratio)
        self.meta = initial_meta(name)
        self.writer = None
        try:
            self.writer = RunLogWriter(self.dir / RUN_LOG)
            write_meta(self.dir, self.meta, reserve=RESERVE)
        except OSError as e:
            if self.writer is not None:
                self.writer.close()
            raise RunDirError(f"cannot write in run directory {self.dir}: {e.strerror or e}") from None
        self.pump = Pump(self.run, self.writer, columns=ColumnWriter(self.dir))
        self.diagnoser = Diagnoser(config, sink=self._alert, act=self._act)
        self.notifier = Notifier(self.diagnoser.cfg.notify, record=lambda f: self.run.record(events.NOTIFY, **f))
        feed = TickBuffer(self.diagnoser)
        self.pump.subscribers.append(feed)
        self.pump.flushers.append(feed.flush)
        self.run.forecast = LiveForecast(lambda: self.run.total_steps)  # refits every few seconds, here on the pump
        self.pump.subscribers.append(self.run.forecast)
        self.started = time.monotonic()
        self.pump.start()
        # CPU, memory, GPUs and step time once a second, on a thread of its own (`system=False`: none)
        self.sampler = SystemSampler(self.run).start() if system else None
        self._closed = False
        self._rolled_back: set = set()  # (metric, step) of the spikes an automatic rollback answered
        snap = self.diagnoser.cfg.snapshot
        if snap.enabled:
            self.run.snapshot_every(snap.every, keep=snap.keep, on_disk=snap.on_disk)
        self.control = ControlServer(self.run, self.dir / SOCKET)
        if not self.control.start():
            print(f"lossmon: no control channel for this run ({self.control.error})", file=sys.stderr)
        self.run.on_config = self._write_config
        set_active(self.run)  # lossmon.log() and friends talk to this run now

    def _write_config(self, values: dict) -> None:
        """The run's configuration into meta.json (Run.set_config), keeping the room for the final state."""
        if self._closed:
            return
        self.meta["config"] = values
        try:
            write_meta(self.dir, self.meta, reserve=RESERVE)
        except OSError as e:
            print(f"lossmon: could not record the config in {self.dir / META}: {e}", file=sys.stderr)

    def _alert(self, alert: dict) -> None:
        """Alerts travel like every other event: queued on the run, logged and shown next tick."""
        fields = {k: v for k, v in alert.items() if k != "event"}
        self.run.record(events.ALERT, **fields)
        self.notifier.alert(alert)  # the user's command, on its own thread, when configured

    def _act(self, action: str, alert: dict) -> None:
        """A configured action (DiagnosisConfig: action = "pause", "stop" or "rollback"; early stopping)."""
        source = "early_stopping" if alert["kind"] == "early_stopping" else f"diagnosis:{alert['kind']}"
        if action == "stop":
            self.run.stop(source=source)
        elif action == "pause":
            self.run.pause(source=source)
        elif action == "rollback":
            self._auto_rollback(alert, source)

    def _auto_rollback(self, alert: dict, source: str) -> None:
        """[spike] action = "rollback": back to the snapshot before the spike, once per alert episode
        (only an alert's opening acts) and per spike, at most spike.max_rollbacks times a run."""
        cfg, run = self.diagnoser.cfg.spike, self.run
        key = (alert.get("metric"), alert.get("step"))
        if key in self._rolled_back:
            return
        self._rolled_back.add(key)
        if len(self._rolled_back) > cfg.max_rollbacks:
            run.record(events.ROLLBACK, source=source, applied=False, **{"from": run.step},
                       reason=f"spike.max_rollbacks ({cfg.max_rollbacks}) automatic rollbacks done already")
            return
        step = alert.get("step")
        run.rollback(to_step=step - 1 if isinstance(step, int) else None, skip_batches=cfg.rollback_skip,
                     source=source)

    def discard(self) -> None:
        """Remove the run directory of a closed run that recorded nothing worth keeping."""
        import shutil

        shutil.rmtree(self.dir, ignore_errors=True)

    def close(self, state: str, exit_code: int, error: str | None = None,
              duration_s: float | None = None) -> tuple[str, int]:
        """Flush and fsync the run log and record the final state. Safe to call twice. Returns the
        state and exit code the run ends with: a run log that lost bytes (a full disk) makes the
        run failed, with a non-zero status, whatever training did: the run was not recorded.
        `duration_s`: how long training ran (the live UI may stay open long after it); default,
        since the start."""
        if self._closed:
            return self.meta.get("state", state), self.meta.get("exit_code", exit_code)
        self._closed = True
        clear_active(self.run)
        self.control.close()  # no command can arrive for a run that is ending
        if self.sampler is not None:
            self.sampler.stop()  # before the pump's last drain: its last sample is recorded
        self.pump.stop()
        self.notifier.wait(self.notifier.config.timeout_s + 1)  # a last alert's command may finish (bounded)
        lost = self.writer.unwritten_bytes
        if lost:
            why = f"could not record the run: {lost} bytes of the run log could not be written ({self.writer.error})"
            print(f"lossmon: {why}", file=sys.stderr)
            error = f"{error}; {why}" if error else why
            state = states.FAILED
            exit_code = exit_code or 1
        self.meta.update(state=state, exit_code=exit_code, end_time=time.time(),
                         steps=self.run.step, duration_s=round(time.monotonic() - self.started if duration_s is None else duration_s, 3))
        if error:
            self.meta["error"] = error
        try:
            write_meta(self.dir, self.meta)
        except OSError as e:
            print(f"lossmon: could not update {self.dir / META}: {e}", file=sys.stderr)
        return state, exit_code
