"""The one interface the views show: a run's data and controls (RunView) and its job (JobView).

A view never asks what kind of run it shows. Two things satisfy these, checked by a test:
`lossmon.training.run.Run` with `lossmon.session.lifecycle.LocalJob` (training in this process),
and `lossmon.watched.WatchedRun`, which is both (a job started elsewhere, read from its files and
steered over its control socket).
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Protocol, runtime_checkable

from lossmon import states
from lossmon.recording.store import MetricStore


@runtime_checkable
class RunView(Protocol):
    """A run's data and the control calls a view's keys make (each acts at the next step)."""

    name: str
    store: MetricStore
    total_steps: int | None
    dir: Path | None  # where its captured output goes (None: nowhere, e.g. a watcher)

    @property
    def step(self) -> int: ...
    @property
    def lr_scale(self) -> float: ...
    @property
    def lr_watched(self) -> bool: ...
    @property
    def lr_change_pending(self) -> bool: ...
    @property
    def lr_probing(self) -> bool: ...
    @property
    def forecasts(self) -> dict: ...  # role -> lossmon.diagnosis.forecast.Forecast, once stable
    @property
    def paused(self) -> bool: ...
    @property
    def pause_requested(self) -> bool: ...
    @property
    def should_stop(self) -> bool: ...
    @property
    def snapshotting(self) -> bool: ...  # snapshots are kept (run.snapshot_every): a rollback can be asked for
    @property
    def rollback_pending(self) -> bool: ...

    def snapshots(self) -> list[dict]: ...  # oldest first: {"step", "batch", "time", "where"}

    def scale_lr(self, factor: float, *, source: str = ...) -> None: ...
    def set_lr(self, value: float, *, source: str = ...) -> None: ...
    def reset_lr(self, *, source: str = ...) -> None: ...
    def commit_lr(self, *, source: str = ...) -> None: ...
    def probe_lr(self, factor: float = ..., steps: int = ..., *, source: str = ...) -> None: ...
    def pause(self, *, source: str = ...) -> None: ...
    def resume(self, *, source: str = ...) -> None: ...
    def stop(self, *, source: str = ...) -> None: ...
    def checkpoint(self, *, source: str = ...) -> None: ...
    def rollback(self, to_step: int | None = ..., skip_batches: int = ..., lr_scale: float | None = ..., *,
                 source: str = ...) -> None: ...


@runtime_checkable
class JobView(Protocol):
    """The job behind a view: where it runs, how it is doing, and what to tell the user."""

    in_process: bool  # its training runs in this process: stopping it is ours, quitting asks first
    read_only: bool  # no control channel at all: the steering keys are hidden
    leave_when_empty: bool  # a job that ends having logged nothing closes the view at once (a script's --help)
    notices: deque  # (severity, text) for the view to show once
    generation: int  # bumped when the data was read anew (a truncated or replaced source)
    source_label: str | None  # where the data comes from, when it is not this process
    last_data: float  # time.monotonic() of the last new data

    def start(self) -> None:
        """The view is up: a job in this process starts training now."""

    @property
    def state(self) -> str: ...  # lossmon.states: running, loading, one of ENDED, read-only...
    @property
    def steerable(self) -> bool: ...  # control calls reach a live job now
    @property
    def detail(self) -> str: ...  # a few words on the state ("exit 1", "on host b")
    @property
    def loaded(self) -> bool: ...  # its history has been read to the end once
    @property
    def malformed(self) -> int: ...  # lines of its source that could not be read
    @property
    def error(self) -> str | None: ...  # why its source stopped being readable
    @property
    def failure(self) -> tuple[str, str | None] | None: ...  # (message, traceback) once training failed here


class NoJob:
    """A store shown as it is, with no training behind it (tests, screenshots)."""

    in_process = True
    read_only = False
    leave_when_empty = False
    generation = 0
    source_label = None
    state = states.IDLE
    steerable = False
    detail = ""
    loaded = True
    malformed = 0
    error = None
    failure = None

    def __init__(self) -> None:
        self.notices: deque[tuple[str, str]] = deque()
        self.last_data = 0.0

    def start(self) -> None:
        pass
