"""Diagnosis in a live run: alerts reach the run log and the views, configured actions pause or
stop the real training loop, and nothing is lost at the end of the run."""

from __future__ import annotations

import math
import threading
import time

import pytest

import lossmon
from conftest import wait_for
from runlogs import load_run
from lossmon.session import Session
from lossmon.views.tui.app import LossmonApp
from tui_helpers import local, until


def trainer(steps=3000, nan_at=None, delay=0.0, seen=None):
    def train(run):
        for i in range(1, steps + 1):
            loss = float("nan") if nan_at is not None and i >= nan_at else 2.0 / math.sqrt(i)
            run.log(loss=loss)
            if seen is not None:
                seen.append(run.paused)
            if run.should_stop:
                return "stopped"
            if delay:
                time.sleep(delay)
        return "done"
    return train


def alerts(run_dir):
    return [e for e in load_run(run_dir).store.events if e["event"] == "alert"]


@pytest.mark.slow
def test_an_alert_is_in_the_run_log_and_the_run_goes_on_by_default(tmp_path, capsys):
    run = lossmon.run(trainer(nan_at=2000), run_dir=tmp_path / "r", ui="plain")
    assert run.result == "done" and run.step == 3000  # the default action only alerts
    nf = [a for a in alerts(tmp_path / "r") if a["kind"] == "nonfinite"]
    assert nf[0]["step"] == 2000 and nf[0]["severity"] == "critical"
    out = capsys.readouterr().out
    assert "[critical] loss is NaN at step 2 000" in out
    assert out.rstrip().splitlines()[-1].startswith("lossmon: 1 alert (1 critical): nonfinite (step 2 000)")


@pytest.mark.slow
def test_stop_action_stops_training_soon_after(tmp_path):
    run = lossmon.run(trainer(steps=1_000_000, nan_at=500, delay=0.0005), run_dir=tmp_path / "r", ui="plain",
                      config={"nonfinite": {"action": "stop"}})
    assert run.result == "stopped" and 500 <= run.step < 5000  # within ~a pump tick and a half-second batch
    events = load_run(tmp_path / "r").store.events
    stop = [e for e in events if e["event"] == "stop"]
    assert stop and stop[0]["source"] == "diagnosis:nonfinite"


@pytest.mark.slow
def test_pause_action_pauses_until_resumed(tmp_path):
    seen = []
    session = Session("p", tmp_path / "r", lossmon.DiagnosisConfig())
    session.diagnoser.cfg.nonfinite.action = "pause"
    run = session.run
    served = []  # checkpoints the training thread took: a paused trainer takes them in its pause loop
    run.on_checkpoint(lambda: served.append(run.step))
    worker = threading.Thread(target=lambda: trainer(steps=2000, nan_at=300, delay=0.0005, seen=seen)(run))
    worker.start()
    deadline = time.monotonic() + 20
    while not run.paused and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.paused
    paused_at = run.step
    for rounds in range(1, 4):  # the paused trainer ran three times (and could have stepped), not a sleep
        run.checkpoint(source="test")
        wait_for(lambda: len(served) >= rounds, timeout=20)
    assert run.step == paused_at  # really paused: no steps while waiting
    run.resume(source="test")
    worker.join(20)
    session.close("finished", 0)
    pauses = [e for e in load_run(tmp_path / "r").store.events if e["event"] == "pause"]
    assert pauses[0]["source"] == "diagnosis:nonfinite" and run.step == 2000


def test_an_alert_raised_at_the_last_step_is_not_lost(tmp_path):
    lossmon.run(trainer(steps=400, nan_at=400), run_dir=tmp_path / "r", ui="plain")
    assert [a["step"] for a in alerts(tmp_path / "r") if a["kind"] == "nonfinite"] == [400]


@pytest.mark.slow
async def test_the_live_ui_shows_a_critical_alert(tmp_path):
    session = Session("ui", tmp_path / "r")
    app = LossmonApp(*local(session.run, trainer(steps=100_000, nan_at=300, delay=0.001)))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: any("[critical] loss is NaN" in t for _, _, t in app.feed), timeout=20,
                        what="alert shown")
            assert "new alert" in app.status_text().plain
            assert any(m.kind == "critical" for m in app.marks)
            app.run_.stop(source="test")
            await pilot.press("q")
    finally:
        session.close("stopped", 0)


@pytest.mark.parametrize("bad", [{"spike": {"window": 0}}, {"nonfinite": {"action": "explode"}}])
def test_bad_config_is_refused_with_the_reason(bad, tmp_path):
    with pytest.raises(ValueError):
        lossmon.run(trainer(steps=1), run_dir=tmp_path / "r", ui="plain", config=bad)
