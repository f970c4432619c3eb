"""The system panel: snapshots with a fake NVML (two GPUs) at 160x48 and folded to one line at
80x24, and no panel at all for a run without system samples."""

from __future__ import annotations

from importlib.metadata import version

import pytest

from lossmon.views.system import folded_line, panel_lines
from lossmon.views.tui.app import LossmonApp
from tui_helpers import preloaded_run, system_run, until

RECORDED_WITH = "8.2.8"


def _settle():
    async def settle(pilot):
        await pilot.pause(0.3)
        pilot.app.redraw_now()
        await pilot.pause()
    return settle


@pytest.mark.skipif(version("textual") != RECORDED_WITH, reason=f"snapshots recorded with textual {RECORDED_WITH}")
@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_system_panel(snap_compare, size):
    app = LossmonApp(system_run(), clock=lambda: 100.0, started=0.0)
    assert snap_compare(app, terminal_size=size, run_before=_settle())


async def test_the_panel_shows_only_with_system_samples_and_folds_when_small():
    for run, shown in ((preloaded_run(), False), (system_run(), True)):
        app = LossmonApp(run, clock=lambda: 100.0, started=0.0)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.2)
            assert app.has_class("-system") is shown
            assert app.query_one("#system").display is shown
            assert app.query_one("#system-line").display is False
            if shown:
                await pilot.resize_terminal(80, 24)
                await pilot.pause(0.2)
                assert app.query_one("#system").display is False and app.query_one("#system-line").display


def test_the_words_per_gpu_cpu_rss_and_step_time():
    store = system_run().store
    rows = ["".join(p[0] for p in line) for line in panel_lines(store, 50)]
    labels = [r.split()[0] + " " + r.split()[1] if r.startswith("gpu") else r.split()[0] for r in rows]
    assert labels == ["gpu0 util", "gpu0 mem", "gpu1 util", "gpu1 mem", "cpu", "rss", "step"]
    assert all(len(r) == 50 for r in rows)
    assert rows[3].endswith("77.9/80.0G") and rows[0].endswith("66C 310W") and "data 8%" in rows[6]
    warn = [p for p in panel_lines(store, 50)[3] if p[1] == "alert_warning"]
    assert warn  # gpu1 is 97 % full: the value in the warning colour
    line = "".join(p[0] for p in folded_line(store)[0])
    assert line.startswith("system gpu0 ") and "gpu1 " in line and "cpu " in line and "rss 2." in line
    assert "ms/step data 8%" in line


async def test_a_critical_alert_rings_the_bell_once_for_a_burst_and_a_warning_only_when_configured():
    import time

    def alert(sev, step):
        return {"event": "alert", "kind": "divergence", "severity": sev, "state": "open", "step": step,
                "time": time.time(), "message": "m"}

    for bell_on, expected in (("critical", 1), ("warning", 1), (None, 0)):
        run = preloaded_run(with_events=False)
        app = LossmonApp(run, clock=lambda: 100.0, started=0.0)
        app.bell_on = bell_on
        rang = []
        app.bell = lambda: rang.append(1)
        async with app.run_test(size=(100, 30)) as pilot:
            run.store.append_events([alert("warning", 5)] if bell_on == "warning" else
                                    [alert("critical", 5), alert("critical", 6), alert("info", 7)])
            await until(pilot, lambda: len(app.feed) >= 1, what="the alerts reach the feed")
        assert len(rang) == expected, bell_on
