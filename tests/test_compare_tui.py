"""The comparison view (#19 item 4): snapshots of the overlaid runs by step and by wall time,
and a live run's curve and row updating."""

from __future__ import annotations

import asyncio
import json
from importlib.metadata import version

import pytest

from compare_runs import T0, three_runs, write_run
from lossmon.compare.runs import load, open_runs
from lossmon.views.tui.compare import READ_ONLY_NOTE, CompareApp
from lossmon.views.tui.widgets import TextLines

RECORDED_WITH = "8.2.8"


def compare_app(tmp_path) -> CompareApp:
    runs = open_runs(three_runs(tmp_path))
    for w in runs:
        load(w)
    return CompareApp(runs)


@pytest.mark.skipif(version("textual") != RECORDED_WITH, reason=f"snapshots recorded with textual {RECORDED_WITH}")
@pytest.mark.parametrize("press", [[], ["x"]], ids=["by_step", "wall_time"])
def test_comparison_view(snap_compare, tmp_path, press):
    assert snap_compare(compare_app(tmp_path), terminal_size=(120, 36), press=press)


def plain(app, wid: str) -> str:
    return "\n".join(s.text for s in app.query_one(wid, TextLines)._strips)


def test_status_says_read_only_and_x_toggles_wall_time(tmp_path):
    async def go():
        app = compare_app(tmp_path)
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.pause()
            assert READ_ONLY_NOTE in plain(app, "#cmp-status") and "x: step" in plain(app, "#cmp-status")
            await pilot.press("x")
            await pilot.pause()
            assert "seconds since each run's start" in plain(app, "#cmp-status")
            assert app.query_one("#cmp-plot").image.end == pytest.approx(23_800, abs=1)  # lr0.01: step 120 at 119 x 0.2 s
            await pilot.press("s", "bracketleft", "p")  # no steering key is bound: nothing happens
            assert app.is_running
    asyncio.run(go())


def test_a_live_run_updates_its_row(tmp_path):
    a = write_run(tmp_path, "done", 0.1, steps=50)
    b = write_run(tmp_path, "live", 0.05, steps=20, state="running")
    runs = open_runs([a, b])

    async def go():
        app = CompareApp(runs, plot_hz=20)
        for w in runs:
            w.interval = 0.02
            w.start()
        try:
            async with app.run_test(size=(120, 36)) as pilot:
                await pilot.pause()
                with open(b / "run.jsonl", "a") as f:
                    for i in range(21, 61):
                        f.write(json.dumps({"step": i, "time": T0 + i, "loss": 0.5}) + "\n")
                deadline = asyncio.get_running_loop().time() + 5
                while "60" not in plain(app, "#cmp-table").splitlines()[2] and asyncio.get_running_loop().time() < deadline:
                    await pilot.pause(0.02)
                assert " 60 " in plain(app, "#cmp-table").splitlines()[2]
        finally:
            for w in runs:
                w.close()
    asyncio.run(go())


def test_lossmon_watch_a_b_in_a_terminal_shows_both_names_and_q_restores_it(tmp_path, subprocess_env):
    from test_tui_process import PtyProcess, assert_terminal_restored
    from conftest import PYTHON

    a, b = write_run(tmp_path, "first-run", 0.1), write_run(tmp_path, "second-run", 0.03)
    p = PtyProcess([PYTHON, "-m", "lossmon", "watch", str(a), str(b)], subprocess_env)
    try:
        p.read_until(lambda out: b"first-run" in out and b"second-run" in out and b"comparing 2 runs" in out)
        p.type("q")
        assert p.wait(30) == 0
        assert_terminal_restored(p)
    finally:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)
