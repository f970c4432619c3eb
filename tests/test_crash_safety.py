"""A SIGKILLed run leaves a loadable run log holding every point logged more than 0.5 s before,
and a watcher reads the same points. The same trials as benchmarks/crash_trials.py (which runs 60
of them at random moments); a few here, at moments spread over a run's life."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "benchmarks"))

from crash_trials import trial  # noqa: E402

pytestmark = pytest.mark.slow  # SIGKILL trials of a real training process


@pytest.mark.parametrize("delay", [0.6, 0.95, 1.4])
def test_sigkill_loses_nothing_older_than_the_flush_interval(tmp_path, subprocess_env, delay):
    res = trial(tmp_path, delay, env=subprocess_env, after_first_step=True)
    assert res["outcome"] == "ok", res["why"]
    assert res["checked"] > 0 and res["steps"] >= res["checked"]


def test_sigkill_during_start_up_leaves_nothing_broken(tmp_path, subprocess_env):
    res = trial(tmp_path, 0.05, env=subprocess_env)  # long before torch has even imported
    assert res["outcome"] == "early", res
