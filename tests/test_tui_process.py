"""The real `lossmon` process under a pseudo-terminal: keys typed into the terminal steer training,
signals stop it gracefully with the terminal restored, and the exit status says how it ended.
(CI has no terminal, but it can open a pty.)"""

from __future__ import annotations

import fcntl
import json
import os
import pty
import select
import signal
import struct
import subprocess
import termios
import time
from pathlib import Path

import pytest

from conftest import PYTHON

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
        self.proc = subprocess.Popen(args, stdin=slave, stdout=slave, stderr=slave, env=env,
                                     start_new_session=True, close_fds=True)
        os.close(slave)
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


def started(out: bytes) -> bool:
    return ALT_SCREEN_ON in out and b" loss " in out  # training has logged


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)])
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


def test_a_training_exception_stays_on_screen_until_quit_and_exits_1(tmp_path, subprocess_env):
    script = tmp_path / "raiser.py"
    script.write_text(RAISER)
    p = PtyProcess([PYTHON, str(script), str(tmp_path / "run")], subprocess_env)
    p.read_until(lambda out: b"bad batch at step 200" in out and b"failed" in out)
    time.sleep(0.3)
    assert p.proc.poll() is None  # the app stays open with the curves and the traceback
    p.type("q")
    assert p.wait() == 1
    tail = p.after_ui()
    assert "ValueError: bad batch at step 200" in tail and "lossmon: failed at step 200" in tail
    assert (tmp_path / "run" / "output.log").read_text() == "about to fail\n"
    assert meta(tmp_path)["state"] == "failed"


def test_no_terminal_means_plain_output(tmp_path, subprocess_env):
    p = subprocess.run([PYTHON, "-m", "lossmon", "demo", "healthy", "--steps", "50", "--run-dir",
                        str(tmp_path / "run")], capture_output=True, env=subprocess_env, timeout=120)
    assert p.returncode == 0
    assert ALT_SCREEN_ON not in p.stdout and b"lossmon: finished at step 50" in p.stdout
