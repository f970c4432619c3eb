"""The watch view (Pilot): a growing file shows on screen, a read-only view hides the steering keys,
a rewritten file is read anew, quitting never touches the job, and a live lossmon run is steered."""

from __future__ import annotations

import json
import re
import time

import pytest

import lossmon
from lossmon.sources import open_source
from lossmon.views.tui.app import LossmonApp
from lossmon.watched import WatchedRun
from tui_helpers import until


def status(app: LossmonApp) -> str:
    return app.status_text().plain


def footer_keys(app: LossmonApp) -> set[str]:
    return {b.binding.description for b in app.active_bindings.values() if b.binding.show and b.enabled}


def csv_rows(a: int, b: int, spike: int | None = None) -> str:
    return "".join(f"{i},{(5.0 if i == spike else 1.0 / (i + 1))}\n" for i in range(a, b))


async def test_a_growing_file_shows_within_the_poll_and_tick(tmp_path):
    f = tmp_path / "metrics.csv"
    f.write_text("step,loss,val_loss\n" + csv_rows(0, 100))
    watched = WatchedRun(open_source(f), interval=0.02).start()
    app = LossmonApp(watched, watched, capture_output=False)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: "step 99" in status(app), what=lambda: status(app))
            assert "read-only" in status(app) and app.state == "read-only"
            assert not {"LR x2", "pause", "stop", "ckpt"} & footer_keys(app) and "quit" in footer_keys(app)
            assert app.check_action("lr", (2.0,)) is False
            with open(f, "a") as fh:
                fh.write(csv_rows(100, 300, spike=250))
            await until(pilot, lambda: "step 299" in status(app), what=lambda: status(app))  # latency: bench_watch
            await until(pilot, lambda: any("spiked" in text for _, _, text in app.feed), what="spike alert")
            await pilot.press("]")  # hidden and inert: nothing to steer
            await pilot.pause(0.1)
            f.write_text("step,loss\n0,2.0\n1,1.9\n")  # rewritten from the top
            await until(pilot, lambda: app._generation >= 1 and app._generation == watched.generation
                        and re.search(r"step 1\b", status(app)), what=lambda: (status(app), app._generation, watched.generation))
            assert app.feed == [] or all("spiked" not in t for _, _, t in app.feed)
            await pilot.press("q")  # no confirmation: the job is not this view's
            await until(pilot, lambda: not app.is_running, what="quit")
    finally:
        watched.close()


@pytest.mark.slow
async def test_a_live_lossmon_run_is_steered_from_the_view(tmp_path):
    import threading

    started = threading.Event()
    done = threading.Event()
    result = {}

    def train(run):
        import torch

        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.1)
        run.watch(opt)
        started.set()
        while not run.should_stop:
            p.grad = torch.ones(1)
            opt.step()
            run.log(loss=1.0)
            time.sleep(0.002)

    def job():
        result["run"] = lossmon.run(train, run_dir=tmp_path / "job", ui="plain")
        done.set()

    threading.Thread(target=job, daemon=True).start()
    assert started.wait(30)
    watched = WatchedRun(open_source(tmp_path / "job"), interval=0.02).start()
    app = LossmonApp(watched, watched, capture_output=False)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: watched.steerable and watched.lr_watched, what="control channel")
            assert {"LR x2", "pause", "stop"} <= footer_keys(app)
            await pilot.press("]")
            await until(pilot, lambda: "x2 manual" in status(app), what=lambda: status(app))
            await pilot.press("s")
            await until(pilot, lambda: app.state == "stopped", timeout=20, what=lambda: status(app))
            assert done.wait(20)
            await pilot.press("q")
    finally:
        watched.close()
    log = [json.loads(line) for line in (tmp_path / "job" / "run.jsonl").read_text().splitlines()]
    change = next(r for r in log if r.get("event") == "lr_change")
    assert change["source"] == "control" and change["new"][0] == 0.2
    assert result["run"].lr_scale == 2.0
