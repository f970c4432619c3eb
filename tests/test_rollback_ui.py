"""The user's side of a rollback: key r and its dialog, the control socket's `rollback` and the
snapshot list in its status, `lossmon ctl rollback`, and WatchedRun.rollback -- against the Run
side of the contract (tests/rollback_double.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from lossmon import states
from lossmon.control_socket import NO_SNAPSHOTS, ControlServer
from lossmon.ctl import CtlError, parse_command
from lossmon.sources import open_source
from lossmon.training.run import Run
from lossmon.views import rollback as rb
from lossmon.views.protocol import NoJob
from lossmon.views.tui.app import LossmonApp
from lossmon.formatting import fmt_step
from lossmon.views.tui.screens import NoSnapshots, RollbackDialog
from lossmon.watched import WatchedRun
from rollback_double import SnapshotRun
from tui_helpers import until


class LiveJob(NoJob):
    """A job in this process that takes steering (nothing trains: the double records requests)."""

    steerable = True
    state = states.RUNNING


def spike_alert(step: int, state: str = "open") -> dict:
    return {"event": "alert", "step": step, "kind": "spike", "severity": "warning", "state": state,
            "metric": "loss", "message": "loss spiked", "advice": "roll back", "action": "rollback"}


def with_points(run: Run, n: int = 400) -> Run:
    run.store.append_points({"loss": (list(range(1, n + 1)), [1.0 / (1 + i) ** 0.3 for i in range(n)])})
    return run


# ---- what the dialog offers ------------------------------------------------------------------------

def test_the_default_snapshot_is_the_newest_before_an_open_alerts_onset():
    snaps = [{"step": s} for s in (100, 200, 300)]
    assert rb.default_snapshot(snaps, None) == 2
    assert rb.default_snapshot(snaps, 250) == 1
    assert rb.default_snapshot(snaps, 200) == 1
    assert rb.default_snapshot(snaps, 50) == 0  # all after it: the oldest
    evs = [spike_alert(120), spike_alert(120, "resolved"), spike_alert(260)]
    assert rb.open_onset(evs) == ("spike", 260)
    assert rb.open_onset(evs + [spike_alert(260, "resolved")]) is None
    echo = {**spike_alert(300), "metric": "val_loss"}  # a val spike after the train spike: its echo
    assert rb.open_onset(evs + [echo, {**spike_alert(255), "kind": "divergence"}]) == ("divergence", 255)


def test_the_words_say_which_snapshot_how_long_ago_and_how_far_back():
    words = rb.snapshot_words({"step": 1300, "time": 1000.0, "where": "memory"}, 1450, 1125.0)
    assert words == "step 1 300 (2m05s ago, 150 steps back, in memory)"
    assert rb.check_skip(" 1,000 ") == 1000 and rb.check_skip("") == rb.DEFAULT_SKIP
    with pytest.raises(ValueError, match="whole number"):
        rb.check_skip("-3")


# ---- key r ---------------------------------------------------------------------------------------

async def test_r_without_snapshots_says_how_to_have_them():
    app = LossmonApp(with_points(Run("plain")), LiveJob())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, NoSnapshots), what="the no-snapshots dialog")
        assert "run.snapshot_every" in rb.no_snapshots_words(False)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, NoSnapshots))


async def test_r_offers_the_snapshot_before_the_spike_and_enter_asks_for_the_rollback():
    run = with_points(SnapshotRun((100, 200, 300)))
    run.store.append_events([spike_alert(260)])
    app = LossmonApp(run, LiveJob())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RollbackDialog), what="the rollback dialog")
        dialog = app.screen
        assert dialog.snapshots[dialog.index]["step"] == 200
        await pilot.press("up")
        assert dialog.snapshots[dialog.index]["step"] == 100
        skip = dialog.query_one("#rb-skip")
        skip.value = "abc"
        await pilot.press("enter")
        await until(pilot, lambda: "whole number" in str(dialog.query_one("#rb-error").render()), what="the error")
        assert run.requests == [] and isinstance(app.screen, RollbackDialog)
        skip.value = "50"
        dialog.query_one("#rb-lr").value = "0.5"
        await pilot.press("enter")
        await until(pilot, lambda: run.requests, what="the rollback request")
        assert run.requests == [(100, 50, 0.5, "key")]
        assert not isinstance(app.screen, RollbackDialog)
        await pilot.press("r")  # one is waiting: no second dialog
        assert not isinstance(app.screen, RollbackDialog)


async def test_escape_cancels_the_rollback():
    run = with_points(SnapshotRun((100,)))
    app = LossmonApp(run, LiveJob())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RollbackDialog))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, RollbackDialog))
        assert run.requests == []


def test_an_alert_that_advises_a_rollback_names_r_only_where_snapshots_are_kept():
    assert LossmonApp(SnapshotRun((100,)), LiveJob()).key_of("rollback") == "r"
    assert LossmonApp(Run("plain"), LiveJob()).key_of("rollback") == "["


# ---- the control socket ---------------------------------------------------------------------------

def server(run) -> ControlServer:
    return ControlServer(run, Path("/nonexistent/control.sock"))  # handle() only: never started


def test_the_socket_serves_rollback_and_lists_the_snapshots_in_its_status():
    run = SnapshotRun((100, 200))
    srv = server(run)
    reply = srv.handle(b'{"cmd": "rollback", "to_step": 150, "skip_batches": 50, "lr_scale": 0.5}')
    assert reply["ok"] and run.requests == [(150, 50, 0.5, "control")]
    assert srv.handle(b'{"cmd": "rollback"}')["ok"] and run.requests[-1] == (None, 200, None, "control")
    status = srv.handle(b'{"cmd": "status"}')
    assert status["snapshotting"] and [s["step"] for s in status["snapshots"]] == [100, 200]
    assert status["rollback_pending"] is True
    json.dumps(status, allow_nan=False)  # strict JSON, as every reply


@pytest.mark.parametrize("line, needle", [
    (b'{"cmd": "rollback", "to_step": -1}', "to_step must be a whole number from 0"),
    (b'{"cmd": "rollback", "to_step": 1.5}', "to_step must be a whole number"),
    (b'{"cmd": "rollback", "skip_batches": true}', "skip_batches must be a whole number"),
    (b'{"cmd": "rollback", "skip_batches": 10000000000}', "skip_batches must be a whole number from 0"),
    (b'{"cmd": "rollback", "lr_scale": 0}', "lr_scale must be a number > 0"),
    (b'{"cmd": "rollback", "lr_scale": NaN}', "lr_scale must be a number > 0"),
    (b'{"cmd": "rollback", "steps": 3}', "rollback takes no field 'steps'"),
    (b'{"cmd": "rollback", "to_step": 50}', "no snapshot at or before step 50"),  # the Run's own check
])
def test_bad_rollback_requests_are_refused_and_change_nothing(line, needle):
    run = SnapshotRun((100, 200))
    reply = server(run).handle(line)
    assert not reply["ok"] and needle in reply["error"], reply
    assert run.requests == []


def test_a_run_without_snapshots_refuses_a_rollback_and_says_how_to_have_them():
    reply = server(Run("plain")).handle(b'{"cmd": "rollback"}')
    assert not reply["ok"] and reply["error"] == NO_SNAPSHOTS
    status = server(Run("plain")).handle(b'{"cmd": "status"}')
    assert status["snapshotting"] is False and status["snapshots"] == []


# ---- lossmon ctl rollback ----------------------------------------------------------------------------

def test_ctl_rollback_words_become_the_request():
    assert parse_command(["rollback"]) == ("rollback", {})
    assert parse_command(["rollback", "--to", "1300", "--skip", "50", "--lr-scale", "0.5"]) == (
        "rollback", {"to_step": 1300, "skip_batches": 50, "lr_scale": 0.5})
    assert parse_command(["rollback", "--skip=0"]) == ("rollback", {"skip_batches": 0})


@pytest.mark.parametrize("words, needle", [
    (["rollback", "--to"], "--to needs a value"),
    (["rollback", "--to", "x"], "expected a whole number"),
    (["rollback", "--skip", "-5"], "skip_batches must be a whole number from 0"),
    (["rollback", "--lr-scale", "0"], "lr_scale must be a number > 0"),
    (["rollback", "--skip", "1", "--skip", "2"], "each at most once"),
    (["rollback", "now"], "expected --to STEP"),
])
def test_bad_ctl_rollback_words_are_usage_errors(words, needle):
    with pytest.raises(CtlError, match=needle) as e:
        parse_command(words)
    assert e.value.code == 2


def test_ctl_rollback_through_a_real_socket(tmp_path, monkeypatch, capsys):
    from lossmon.cli import main
    from lossmon.rundir.layout import DEFAULT_ROOT
    from lossmon.session.session import Session

    monkeypatch.chdir(tmp_path)
    session = Session("rb", run_dir=tmp_path / DEFAULT_ROOT / "20260101-000000-rb")
    double = SnapshotRun((100, 200))
    session.control.run = double  # the served Run is the double: the socket and ctl are what is tested
    try:
        assert main(["ctl", "rollback", "--to", "150", "--skip", "20"]) == 0
        out = capsys.readouterr().out
        assert "rollback --to 150 --skip 20: accepted by" in out and double.requests == [(150, 20, None, "control")]
        assert main(["ctl", "status"]) == 0
        assert "snapshots=2 newest_snapshot=200" in capsys.readouterr().out
    finally:
        session.close(states.FINISHED, 0)


# ---- lossmon watch's side ----------------------------------------------------------------------------

def test_a_watched_run_sends_rollback_and_reads_the_snapshots_from_the_status(tmp_path):
    log = tmp_path / "log.jsonl"
    log.write_text('{"step": 1, "loss": 1.0}\n')
    watched = WatchedRun(open_source(log))
    sent = []
    watched._send = lambda cmd, **fields: sent.append((cmd, fields))
    watched.rollback(1300, 50, None)
    watched.rollback()
    assert sent == [("rollback", {"to_step": 1300, "skip_batches": 50}), ("rollback", {"skip_batches": 200})]
    assert watched.rollback_pending
    watched.status = {"snapshotting": True, "snapshots": [{"step": 100, "time": 1.0}, {"bad": 1}, "x"]}
    assert watched.snapshotting and watched.snapshots() == [{"step": 100, "time": 1.0}]
    assert rb.snapshot_state(watched) == (True, [{"step": 100, "time": 1.0}], False)


# ---- the demo ------------------------------------------------------------------------------------------

def test_the_demo_stream_is_fixed_and_corrupts_only_its_bad_batches():
    import torch

    from lossmon.demo_spike import BatchStream

    x, y = torch.arange(40.0).reshape(20, 2), torch.ones(20, 1)
    first = [b for _, b in zip(range(12), BatchStream(x, y, 4, 0, bad=range(6, 8)))]
    again = [b for _, b in zip(range(12), BatchStream(x, y, 4, 0, bad=range(6, 8)))]
    assert all(torch.equal(a[0], b[0]) and torch.equal(a[1], b[1]) for a, b in zip(first, again))
    assert [bool((yb != 1).any()) for _, yb in first] == [i in (6, 7) for i in range(12)]


@pytest.mark.slow  # a real job (thread, socket, pump)
async def test_r_in_lossmon_watch_rolls_a_live_job_back_over_its_socket(tmp_path):
    """A real job with snapshots, watched from another view: the dialog shows the snapshots the
    job's status lists, Enter sends the rollback, and the job's rollback event comes back."""
    import threading

    import lossmon

    started, done = threading.Event(), threading.Event()

    def train(run):
        import itertools

        import torch

        model = torch.nn.Linear(1, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        run.watch(opt)
        run.snapshot_every(20, keep=100)  # minutes of history: the request may take a while to arrive
        started.set()
        for i in run.batches(itertools.count()):
            for p in model.parameters():
                p.grad = torch.ones_like(p)
            opt.step()
            run.log(loss=1.0 / (1 + i) ** 0.5)
            if run.should_stop:
                return
            time.sleep(0.002)

    threading.Thread(target=lambda: (lossmon.run(train, run_dir=tmp_path / "job", ui="plain"), done.set()),
                     daemon=True).start()
    assert started.wait(30)
    watched = WatchedRun(open_source(tmp_path / "job"), interval=0.02).start()
    app = LossmonApp(watched, watched, capture_output=False)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: watched.steerable and len(watched.snapshots()) >= 2, what="snapshots listed")
            await pilot.press("r")
            await until(pilot, lambda: isinstance(app.screen, RollbackDialog), what="the rollback dialog")
            await pilot.press("enter")
            await until(pilot, lambda: any(e["event"] == "rollback" for e in watched.store.events), timeout=20,
                        what="the job's rollback event")
            [ev] = [e for e in watched.store.events if e["event"] == "rollback"]
            assert ev["applied"] and ev["source"] == "control" and ev["skipped"] >= 200, ev
            await until(pilot, lambda: watched.store.abandoned, what="the abandoned stretch")
            await pilot.press("s")
            assert done.wait(20)
            await pilot.press("q")
    finally:
        watched.close()


async def test_the_dialog_keeps_how_far_back_the_snapshot_is_current_while_training_goes_on():
    """A user who waits with the dialog open sees the snapshot fall further behind (a probe
    confirmed a dialog opened 83 steps back after 2,800 more steps, still saying 83)."""
    run = with_points(SnapshotRun((100,)))
    app = LossmonApp(run, LiveJob())
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.press("r")
        await until(pilot, lambda: isinstance(app.screen, RollbackDialog))
        label = app.screen.query_one("#rb-snapshot")
        run._step = run.step + 2_800  # training went on
        back = f"{fmt_step(run.step - 100)} steps back"
        assert back not in str(label.render())
        await until(pilot, lambda: back in str(label.render()), timeout=5,
                    what=lambda: f"{back!r} in the dialog's words: {label.render()}")
        await pilot.press("escape")
