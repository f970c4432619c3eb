"""The real `lossmon` process under a pseudo-terminal: keys typed into the terminal steer training,
signals stop it gracefully with the terminal restored, and the exit status says how it ended.
(CI has no terminal, but it can open a pty.)

Every way out (q, Ctrl+C then q, SIGINT, SIGTERM, SIGHUP, a training exception, a trainer that never
returns) must leave the terminal as it found it: the alternate screen left, the cursor shown, and the
line discipline back in canonical mode with echo (read through the pty's master side)."""

from __future__ import annotations

import fcntl
import json
import os
import pty
import re
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import PYTHON
from runlogs import load_run

pytestmark = pytest.mark.slow  # pty: the real lossmon process under a pseudo-terminal

ALT_SCREEN_ON, ALT_SCREEN_OFF = b"\x1b[?1049h", b"\x1b[?1049l"

try:  # a container without /dev/pts cannot run these; the pilot tests still cover the app
    for fd in os.openpty():
        os.close(fd)
except OSError as e:  # pragma: no cover
    pytest.skip(f"no pseudo-terminals here: {e}", allow_module_level=True)

RAISER = """
import math, sys, time
import lossmon

def train(run):
    for i in range(1, 10**6):
        run.log(loss=1.0 / math.sqrt(i))
        if i == 200:
            print("about to fail")
            raise ValueError("bad batch at step 200")
        time.sleep(0.002)

lossmon.run(train, run_dir=sys.argv[1])
"""


class PtyProcess:
    """A command with a pty as its terminal (stdin, stdout, stderr), of a given size."""

    started: list["PtyProcess"] = []

    def __init__(self, args: list[str], env: dict, cols: int = 120, rows: int = 36) -> None:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
        env = dict(env, TERM="xterm-256color", COLUMNS=str(cols), LINES=str(rows))
        self.initial_attrs = termios.tcgetattr(slave)
        # SIGINT at its default, as from a foreground shell (a suite started in the background
        # hands its children SIGINT ignored, and lossmon rightly leaves an ignored signal alone)
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True,
                                     preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
        os.close(slave)
        self.final_attrs: list | None = None
        PtyProcess.started.append(self)
        self.master = master
        self.out = bytearray()

    def read_until(self, predicate, timeout: float = 60.0) -> bytes:
        deadline = time.monotonic() + timeout
        while not predicate(bytes(self.out)):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; last output: {bytes(self.out[-600:])!r}")
            self._read(0.05)
        return bytes(self.out)

    def _read(self, wait: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], wait)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed the terminal
            return False
        if not chunk:
            return False
        self.out += chunk
        return True

    def type(self, keys: str) -> None:
        os.write(self.master, keys.encode())

    def wait(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while self.proc.poll() is None or self._read(0.0):
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"did not exit; last output: {bytes(self.out[-600:])!r}")
            self._read(0.05)
        self.final_attrs = termios.tcgetattr(self.master)  # the master side reads the slave's settings
        os.close(self.master)
        return self.proc.returncode

    def after_ui(self) -> str:
        """What was printed after the UI left the alternate screen (the summary lines)."""
        data = bytes(self.out)
        assert data.count(ALT_SCREEN_ON) >= 1, "the UI never started"
        tail = data[data.rindex(ALT_SCREEN_OFF):]
        return tail.decode("utf-8", "replace")


@pytest.fixture(autouse=True)
def kill_leftovers():
    """A failed test must not leave its child training in the background."""
    yield
    for p in PtyProcess.started:
        if p.proc.poll() is None:
            p.proc.kill()
            p.proc.wait(10)
    PtyProcess.started.clear()


def demo(tmp_path: Path, subprocess_env, *extra: str, steps: int = 200_000) -> PtyProcess:
    return PtyProcess([PYTHON, "-m", "lossmon", "demo", "healthy", "--steps", str(steps),
                       "--run-dir", str(tmp_path / "run"), *extra], subprocess_env)


def meta(tmp_path: Path) -> dict:
    return json.loads((tmp_path / "run" / "meta.json").read_text())


def events(tmp_path: Path) -> list[dict]:
    lines = (tmp_path / "run" / "run.jsonl").read_text().splitlines()
    return [e for e in map(json.loads, lines) if "event" in e]


def assert_terminal_restored(p: PtyProcess) -> None:
    data = bytes(p.out)
    assert ALT_SCREEN_OFF in data[data.rindex(ALT_SCREEN_ON):]  # left the alternate screen
    assert b"\x1b[?25h" in data[data.rindex(ALT_SCREEN_ON):]  # cursor shown again
    lflag = p.final_attrs[3]
    assert lflag & termios.ECHO and lflag & termios.ICANON and lflag & termios.ISIG
    assert p.final_attrs == p.initial_attrs  # exactly the settings it started with


def assert_log_closed(run_dir: Path, state: str, code: int) -> None:
    m = json.loads((run_dir / "meta.json").read_text())
    assert m["state"] == state and m["exit_code"] == code and m["end_time"] >= m["start_time"]
    loaded = load_run(run_dir)
    assert loaded.malformed == 0 and not loaded.torn
    assert not (run_dir / "control.sock").exists()


def started(out: bytes) -> bool:
    return ALT_SCREEN_ON in out and b" loss " in out  # training has logged


def app_answers_a_key(p: PtyProcess) -> None:
    """Type `y` (log/linear y axis: a view key, nothing to do with training) and wait until the app
    has drawn its answer. Everything the app was going to do before that key -- exit on its own,
    say -- it has had its chance to do: an explicit round trip instead of a sleep."""
    mark = len(p.out)
    p.type("y")
    p.read_until(lambda out: b"y: linear" in out[mark:])


def shown_steps(out: bytes) -> set[int]:
    """The step counts the status line has shown in `out`."""
    return {int(m.replace(b",", b"")) for m in re.findall(rb"step (\d[\d,]*)", out)}


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129), (signal.SIGINT, 130)])
def test_signal_stops_gracefully_and_restores_the_terminal(tmp_path, subprocess_env, sig, code):
    p = demo(tmp_path, subprocess_env)
    p.read_until(started)
    p.proc.send_signal(sig)
    assert p.wait() == code
    tail = p.after_ui()
    assert "lossmon: interrupted at step" in tail
    data = bytes(p.out)
    assert data.rindex(ALT_SCREEN_OFF) > data.rindex(ALT_SCREEN_ON)  # left the alternate screen
    assert b"\x1b[?25h" in data[data.rindex(ALT_SCREEN_ON):]  # cursor shown again
    m = meta(tmp_path)
    assert m["state"] == "interrupted" and m["exit_code"] == code and m["steps"] > 0
    assert any(e["event"] == "stop" and e["source"] == signal.Signals(sig).name for e in events(tmp_path))
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "interrupted", code)


def test_keys_typed_in_the_terminal_steer_training_then_quit(tmp_path, subprocess_env):
    p = demo(tmp_path, subprocess_env)
    p.read_until(started)
    p.type("]")
    p.read_until(lambda out: b"x2 manual" in out)
    p.type("p")
    p.read_until(lambda out: b" paused " in out)
    p.type("q")
    p.read_until(lambda out: b"Stop it at the next step and quit?" in out)
    p.type("y")
    assert p.wait() == 0
    kinds = [(e["event"], e.get("source")) for e in events(tmp_path)]
    assert ("lr_change", "key") in kinds and ("pause", "key") in kinds and ("stop", "key") in kinds
    assert meta(tmp_path)["state"] == "stopped"
    assert "lossmon: stopped at step" in p.after_ui()
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "stopped", 0)


def test_ctrl_c_typed_stops_training_and_keeps_the_app_then_q_leaves(tmp_path, subprocess_env):
    p = demo(tmp_path, subprocess_env)
    p.read_until(started)
    p.type("\x03")  # raw mode: Ctrl+C arrives as a key, not as SIGINT
    p.read_until(lambda out: b"stopped" in out[-20000:])
    app_answers_a_key(p)
    assert p.proc.poll() is None  # the app stays open to look at the curves
    p.type("q")  # training has returned: no question
    assert p.wait() == 0
    assert "lossmon: stopped at step" in p.after_ui()
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "stopped", 0)


def test_q_after_training_finished_leaves_at_once_with_status_0(tmp_path, subprocess_env):
    p = demo(tmp_path, subprocess_env, steps=300)
    p.read_until(lambda out: b"finished" in out)
    p.type("q")
    assert p.wait() == 0
    assert "lossmon: finished at step 300" in p.after_ui()
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "finished", 0)


STUBBORN = """
import math, sys, time
import lossmon

def train(run):  # never looks at run.should_stop
    i = 0
    while True:
        i += 1
        run.log(loss=1.0 / math.sqrt(i))
        time.sleep(0.002)

lossmon.run(train, run_dir=sys.argv[1])
"""


def test_a_trainer_that_never_returns_is_waited_for_on_screen_and_a_second_q_leaves_it(tmp_path, subprocess_env):
    script = tmp_path / "stubborn.py"
    script.write_text(STUBBORN)
    p = PtyProcess([PYTHON, str(script), str(tmp_path / "run")], subprocess_env)
    p.read_until(started)
    p.type("q")
    p.read_until(lambda out: b"Stop it at the next step and quit?" in out)
    p.type("y")
    p.read_until(lambda out: b"waiting for training" in out)
    mark = len(p.out)  # the app ticks on while it waits: three more step counts shown since then
    p.read_until(lambda out: len(shown_steps(out[mark:])) >= 3)
    assert p.proc.poll() is None  # still waiting: the trainer has not returned
    p.type("q")
    assert p.wait() == 130
    assert "training did not stop in time; leaving it behind" in p.after_ui()
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "interrupted", 130)


def test_keyboard_interrupt_raised_by_training_is_an_interrupted_run_not_a_crash(tmp_path, subprocess_env):
    script = tmp_path / "kbi.py"
    script.write_text(RAISER.replace('raise ValueError("bad batch at step 200")', "raise KeyboardInterrupt"))
    p = PtyProcess([PYTHON, str(script), str(tmp_path / "run")], subprocess_env)
    p.read_until(lambda out: b"interrupted" in out)
    p.type("q")
    assert p.wait() == 130
    tail = p.after_ui()
    assert "lossmon: interrupted at step 200" in tail and "Traceback" not in tail
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "interrupted", 130)


def test_a_training_exception_stays_on_screen_until_quit_and_exits_1(tmp_path, subprocess_env):
    script = tmp_path / "raiser.py"
    script.write_text(RAISER)
    p = PtyProcess([PYTHON, str(script), str(tmp_path / "run")], subprocess_env)
    p.read_until(lambda out: b"bad batch at step 200" in out and b"failed" in out)
    app_answers_a_key(p)
    assert p.proc.poll() is None  # the app stays open with the curves and the traceback
    p.type("q")
    assert p.wait() == 1
    tail = p.after_ui()
    assert "ValueError: bad batch at step 200" in tail and "lossmon: failed at step 200" in tail
    assert (tmp_path / "run" / "output.log").read_text() == "about to fail\n"
    assert meta(tmp_path)["state"] == "failed"
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "failed", 1)


def test_no_terminal_means_plain_output(tmp_path, subprocess_env):
    p = subprocess.run([PYTHON, "-m", "lossmon", "demo", "healthy", "--steps", "50", "--run-dir",
                        str(tmp_path / "run")], capture_output=True, env=subprocess_env, timeout=120)
    assert p.returncode == 0
    assert ALT_SCREEN_ON not in p.stdout and b"lossmon: finished at step 50" in p.stdout


def test_the_terminal_checks_can_fail_a_sigkilled_ui_leaves_the_terminal_raw(tmp_path, subprocess_env):
    """SIGKILL cannot be handled: the pty is left in raw mode. This is what the checks above catch."""
    p = demo(tmp_path, subprocess_env)
    p.read_until(started)
    p.proc.kill()
    p.wait()
    assert not p.final_attrs[3] & termios.ECHO and not p.final_attrs[3] & termios.ICANON
    with pytest.raises(AssertionError):
        assert_terminal_restored(p)


CATCHER = """
import time, torch
model = torch.nn.Linear(4, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.01)
try:
    for step in range(10**9):
        loss = model(torch.randn(8, 4)).pow(2).mean()
        opt.zero_grad(); loss.backward(); opt.step()
        time.sleep(0.001)
except KeyboardInterrupt:
    print("saving after KeyboardInterrupt at step", step)
"""


def test_lossmon_run_help_prints_to_the_terminal_and_leaves_nothing(tmp_path, subprocess_env):
    script = tmp_path / "train.py"
    script.write_text("import argparse\nargparse.ArgumentParser(description='my trainer').parse_args()\n")
    p = PtyProcess([PYTHON, "-m", "lossmon", "run", "--run-dir", str(tmp_path / "run"), str(script), "--help"],
                   subprocess_env)
    assert p.wait() == 0
    tail = p.after_ui()
    assert "usage: train.py" in tail and "my trainer" in tail and "lossmon:" not in tail
    assert not (tmp_path / "run").exists()
    assert_terminal_restored(p)


def test_lossmon_run_stop_key_reaches_an_unmodified_script_as_keyboard_interrupt(tmp_path, subprocess_env):
    script = tmp_path / "train.py"
    script.write_text(CATCHER)
    p = PtyProcess([PYTHON, "-m", "lossmon", "run", "--run-dir", str(tmp_path / "run"), str(script)], subprocess_env)
    p.read_until(started)
    p.type("s")
    p.read_until(lambda out: b"saving after KeyboardInterrupt" in out)
    p.type("q")
    assert p.wait() == 0
    assert "lossmon: stopped at step" in p.after_ui()
    assert_terminal_restored(p)
    assert_log_closed(tmp_path / "run", "stopped", 0)
