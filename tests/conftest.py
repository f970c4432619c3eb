import os
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate, timeout=10.0, interval=0.01):
    """Poll until predicate() is truthy; fail the test at the deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s: {predicate}")


@pytest.fixture
def subprocess_env():
    env = dict(os.environ)
    env["PYTHONPATH"] = str(ROOT) + os.pathsep + env.get("PYTHONPATH", "")
    env["PYTHONUNBUFFERED"] = "1"
    env.pop("NO_COLOR", None)
    return env


PYTHON = sys.executable


PRESS_IDLE_WAIT_S = 0.05


@pytest.fixture(autouse=True)
def _pressed_keys_do_not_wait_for_an_idle_process(monkeypatch):
    """Textual's `pilot.press` waits after each key until the *process* looks idle (its CPU time
    stops advancing), for up to 1 s, twice. A training thread in the same process is never idle, so
    every key cost 2 s (a dialog test typed 8 keys: 18 s). Every test here waits for the condition it
    needs (`until`, `wait_for`), so the press itself only has to give the app a moment."""
    app_module = sys.modules.get("textual.app")
    if app_module is None:
        return
    real = app_module.wait_for_idle

    async def brief(min_sleep: float = 0.0, max_sleep: float = 1.0) -> None:
        await real(min_sleep, min(max_sleep, PRESS_IDLE_WAIT_S))

    monkeypatch.setattr(app_module, "wait_for_idle", brief)
