"""The one interface the views show (views/protocol.py): what satisfies it, member for member."""

from __future__ import annotations

import inspect
import typing

import pytest

from lossmon.session.lifecycle import LocalJob
from lossmon.sources import open_source
from lossmon.training.run import Run
from lossmon.views.protocol import JobView, NoJob, RunView
from lossmon.watched import WatchedRun


def members(proto) -> set[str]:
    names = set(typing.get_type_hints(proto)) if proto.__annotations__ else set()
    names |= {n for n, v in vars(proto).items() if not n.startswith("_") and (callable(v) or isinstance(v, property))}
    return names


def watched(tmp_path) -> WatchedRun:
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 1.0}\n')
    return WatchedRun(open_source(log))


def test_the_protocols_name_what_a_view_uses():
    assert {"store", "step", "should_stop", "scale_lr", "pause", "checkpoint"} <= members(RunView)
    assert {"in_process", "state", "steerable", "start", "notices", "failure"} <= members(JobView)


@pytest.mark.parametrize("make", [lambda tmp: Run(), watched], ids=["Run", "WatchedRun"])
def test_both_runs_are_run_views(make, tmp_path):
    run = make(tmp_path)
    assert isinstance(run, RunView)
    for name in members(RunView):
        assert hasattr(run, name), name
        want = getattr(RunView, name, None)
        if inspect.isfunction(want):  # the control calls take the same arguments
            got = inspect.signature(getattr(run, name))
            assert list(got.parameters) == list(inspect.signature(want).parameters)[1:], name


@pytest.mark.parametrize("make", [lambda tmp: LocalJob(Run(), lambda run: None), watched, lambda tmp: NoJob()],
                         ids=["LocalJob", "WatchedRun", "NoJob"])
def test_every_job_is_a_job_view(make, tmp_path):
    job = make(tmp_path)
    assert isinstance(job, JobView)
    for name in members(JobView):
        assert hasattr(job, name), name


def test_a_local_job_runs_once_started_and_reports_a_failure():
    def train(run):
        raise RuntimeError("boom")

    job = LocalJob(Run(), train)
    assert job.state == "running" and not job.steerable and job.failure is None
    job.start()
    job.trainer.join(5)
    assert job.state == "failed"
    message, tb = job.failure
    assert message == "RuntimeError: boom" and "Traceback" in tb
