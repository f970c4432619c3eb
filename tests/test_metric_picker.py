"""Any metric on the main plot (#19 item 6): the filter, choosing a metric (its own right axis
where units differ), replacing the losses, resetting; and the config key."""

from __future__ import annotations

import asyncio
from importlib.metadata import version

import pytest

from lossmon.views.metricfilter import filter_names, score
from lossmon.views.tui.app import LossmonApp
from lossmon.views.tui.configscreen import ConfigScreen
from lossmon.views.tui.metricpick import MetricPicker
from tui_helpers import preloaded_run, until

RECORDED_WITH = "8.2.8"
NAMES = ["loss", "val_loss", "lr", "grad_norm", "update_ratio", "val/accuracy", "train/acc_top5"]


def test_filter_is_a_subsequence_best_first():
    assert filter_names("acc", NAMES) == ["val/accuracy", "train/acc_top5"]
    assert filter_names("vacc", NAMES) == ["val/accuracy"]  # v..a..c..c in order
    assert filter_names("gn", NAMES) == ["grad_norm"]
    assert filter_names("zz", NAMES) == []
    assert filter_names("", NAMES) == NAMES
    assert filter_names("LOSS", NAMES) == ["loss", "val_loss"]  # case-insensitive, the earlier start first
    assert score("ln", "lr_norm") is not None and score("nl", "lr_norm") is None


def app_with_accuracy() -> LossmonApp:
    run = preloaded_run(2000)
    run.store.append_points({"val/accuracy": (list(range(100, 2001, 100)), [0.5 + i / 50 for i in range(20)])})
    run.config_values = {"lr": 3e-4, "layers": [64, 64], "name": "base"}
    return LossmonApp(run, clock=lambda: 100.0, started=0.0)


def test_pick_filter_choose_and_reset():
    async def go():
        app = app_with_accuracy()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press("slash")
            await until(pilot, lambda: isinstance(app.screen, MetricPicker))
            await pilot.press(*"accu", "enter")
            await until(pilot, lambda: not isinstance(app.screen, MetricPicker))
            assert (app.metric, app.metric_replace) == ("val/accuracy", False)
            await until(pilot, lambda: "val/accuracy (right axis)" in "".join(t for t, _ in app.query_one("#plot").image.rows[0]))
            rows = app.query_one("#plot").image.rows
            assert any(k == "axis_right" and "├" in t for r in rows for t, k in r)  # its own labels
            await pilot.press("slash")  # Tab: replace; the loss curves go
            await until(pilot, lambda: isinstance(app.screen, MetricPicker))
            await pilot.press("tab", *"grad", "enter")
            await until(pilot, lambda: app.metric == "grad_norm")
            assert app.metric_replace
            await until(pilot, lambda: "━ train" not in "".join(t for t, _ in app.query_one("#plot").image.rows[0]))
            await pilot.press("slash")  # Esc closes and changes nothing
            await until(pilot, lambda: isinstance(app.screen, MetricPicker))
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, MetricPicker))
            assert app.metric == "grad_norm"
            await pilot.press("slash")  # the first entry, with no filter: the loss curves again
            await until(pilot, lambda: isinstance(app.screen, MetricPicker))
            await pilot.press("enter")
            await until(pilot, lambda: app.metric is None)
            await until(pilot, lambda: "━ train" in "".join(t for t, _ in app.query_one("#plot").image.rows[0]))
    asyncio.run(go())


def test_config_key_lists_key_value():
    async def go():
        app = app_with_accuracy()
        async with app.run_test(size=(120, 36)) as pilot:
            await pilot.press("i")
            await until(pilot, lambda: isinstance(app.screen, ConfigScreen))
            assert app.screen.values["layers"] == [64, 64]
            await pilot.press("escape")
            await until(pilot, lambda: not isinstance(app.screen, ConfigScreen))
    asyncio.run(go())


@pytest.mark.skipif(version("textual") != RECORDED_WITH, reason=f"snapshots recorded with textual {RECORDED_WITH}")
def test_picked_metric_on_its_own_axis(snap_compare):
    async def pick(pilot):
        await pilot.press("slash", *"accu", "enter")
        await pilot.pause(0.3)
        pilot.app.redraw_now()
        await pilot.pause()

    assert snap_compare(app_with_accuracy(), terminal_size=(120, 36), run_before=pick)
