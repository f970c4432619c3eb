"""The end of a short run under the live UI: alerts raised by its last points reach the open
view (not only the run log at close), and the recorded duration is the training's own, not the
time the app stayed open after it (issue 18, items 19)."""

from __future__ import annotations

import json
import math
import time

import pytest

from lossmon.session import Session
from lossmon.session.lifecycle import conclude
from lossmon.views.plain import PlainPrinter
from lossmon.views.tui.app import LossmonApp
from tui_helpers import local, until


def short_run(steps: int = 60, nan_at: int = 55):
    """A run that ends right after its loss turns NaN: the alert comes from its last second."""
    def train(run):
        for i in range(1, steps + 1):
            run.log(loss=float("nan") if i >= nan_at else 2.0 / math.sqrt(i))
            time.sleep(0.001)
    return train


@pytest.mark.parametrize("attempt", range(6))
async def test_an_alert_from_the_last_points_shows_while_the_app_is_open(tmp_path, attempt):
    session = Session("end", tmp_path / "r")
    app = LossmonApp(*local(session.run, short_run()))
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: app.state == "finished", what="training finished")
            await until(pilot, lambda: app._alerts >= 1, timeout=5,
                        what=lambda: f"an alert shown; store events: {app.run_.store.events}")
            assert "new alert" in app.status_text().plain
            assert any("NaN" in line for _, _, line in app.feed)
            await pilot.press("q")
    finally:
        session.close("finished", 0)


async def test_the_summary_and_meta_count_training_time_not_the_time_the_app_stayed_open(tmp_path, capsys):
    session = Session("dur", tmp_path / "r")
    clock = [0.0]
    app = LossmonApp(*local(session.run, short_run(steps=20, nan_at=10**9)), clock=lambda: clock[0])
    async with app.run_test(size=(120, 40)) as pilot:
        await until(pilot, lambda: app.state == "finished", what="training finished")
        trained = app.job.trainer.duration_s
        assert trained is not None and trained < 5
    session.started -= 100.0  # as if the app had stayed open 100 s after training
    code = conclude(session, app.job.trainer, PlainPrinter(session.run), signum=None, forced=False)
    assert code == 0

    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["duration_s"] < 5
    out = capsys.readouterr().out
    assert "finished at step 20 after" in out
    shown = float(out.split("finished at step 20 after ")[1].split("s")[0])
    assert shown < 5
