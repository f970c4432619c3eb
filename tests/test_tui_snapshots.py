"""Screenshots of the UI with a preloaded store and no trainer, compared with tests/__snapshots__.

After an intended change to the look: `pytest tests/test_tui_snapshots.py --snapshot-update`, then
look at the new SVGs before committing them.
"""

from __future__ import annotations

from importlib.metadata import version

import pytest

from lossmon.views.tui.app import LossmonApp
from tui_helpers import preloaded_run


RECORDED_WITH = "8.2.8"  # the SVGs are Textual's exact output; the Makefile installs this version
if version("textual") != RECORDED_WITH:
    pytest.skip(f"snapshots were recorded with textual {RECORDED_WITH}, this is {version('textual')}",
                allow_module_level=True)


def snapshot_app() -> LossmonApp:
    return LossmonApp(preloaded_run(), clock=lambda: 100.0, started=0.0)


@pytest.mark.parametrize("size", [(80, 24), (160, 48)])
def test_preloaded_run(snap_compare, size):
    async def settle(pilot):
        await pilot.pause(0.3)
        pilot.app.redraw_now()
        await pilot.pause()

    assert snap_compare(snapshot_app(), terminal_size=size, run_before=settle)


def test_linear_y_no_smoothing_last_10_percent(snap_compare):
    assert snap_compare(snapshot_app(), terminal_size=(120, 36), press=["y", "m", "m", "w"])


def test_help_screen(snap_compare):
    assert snap_compare(snapshot_app(), terminal_size=(100, 30), press=["question_mark"])
