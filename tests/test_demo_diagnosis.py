"""Each demo's condition is what the detectors report (real torch models, plain mode, in-process)."""

from __future__ import annotations

import pytest
import torch

import lossmon
from lossmon.demos import training_function
from runlogs import load_run

pytestmark = pytest.mark.slow  # whole demo runs through diagnosis


def raised(run_dir):
    return {(a["kind"], a["severity"]) for a in load_run(run_dir).store.events
            if a["event"] == "alert" and a.get("state") != "resolved"}


@pytest.fixture(autouse=True)
def one_thread():
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.mark.parametrize("scenario,steps,expected", [
    ("lr-high", 1500, {("divergence", "critical")}),  # 4x its start in its first 34 steps
    ("lr-low", 4000, {("lr_too_low", "warning")}),
    ("nan", 600, {("nonfinite", "critical"), ("divergence", "critical")}),
])
def test_each_demo_shows_its_condition(tmp_path, scenario, steps, expected):
    lossmon.run(training_function(scenario, steps=steps), run_dir=tmp_path / "r", ui="plain")
    assert expected <= raised(tmp_path / "r")


def test_the_healthy_demo_raises_no_warning(tmp_path):
    lossmon.run(training_function("healthy"), run_dir=tmp_path / "r", ui="plain")
    assert {sev for _, sev in raised(tmp_path / "r")} <= {"info"}
