"""The real process under a pty after job control and SIGQUIT (issue 18, item 18): after SIGSTOP
and SIGCONT, quitting still restores the terminal exactly; SIGQUIT restores it, closes the run
log as interrupted, then dumps as SIGQUIT asks (status -SIGQUIT)."""

from __future__ import annotations

import signal

import pytest

from test_tui_process import (PtyProcess, app_answers_a_key, assert_log_closed, assert_terminal_restored, demo,
                              kill_leftovers, meta, started)

pytestmark = pytest.mark.slow
__all__ = ["kill_leftovers"]  # the fixture that kills a failed test's child


def stop_and_continue(p: PtyProcess) -> None:
    p.proc.send_signal(signal.SIGSTOP)
    p.proc.send_signal(signal.SIGCONT)
    app_answers_a_key(p)  # it runs again: it drew its answer to a key


@pytest.mark.parametrize("how", ["q", "sigterm"])
def test_quitting_after_sigstop_and_sigcont_restores_the_terminal(tmp_path, subprocess_env, how):
    p = demo(tmp_path, subprocess_env)
    p.read_until(started)
    stop_and_continue(p)
    if how == "q":
        p.type("q")
        p.read_until(lambda out: b"Stop it at the next step and quit?" in out)
        p.type("y")
        assert p.wait() == 0
    else:
        p.proc.send_signal(signal.SIGTERM)
        assert p.wait() == 143
    assert_terminal_restored(p)


def test_sigquit_restores_the_terminal_and_closes_the_run_then_dumps(tmp_path, subprocess_env):
    p = demo(tmp_path, subprocess_env)
    p.read_until(started)
    p.proc.send_signal(signal.SIGQUIT)
    assert p.wait() == -signal.SIGQUIT  # killed by SIGQUIT, as without lossmon (a core where enabled)
    assert_terminal_restored(p)
    assert meta(tmp_path)["state"] == "interrupted"
    assert_log_closed(tmp_path / "run", "interrupted", 131)
