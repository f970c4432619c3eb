"""A SIGKILLed run leaves a loadable run log holding every point logged more than 0.5 s before."""

import random
import signal
import subprocess
import textwrap
import time

import pytest

from conftest import PYTHON, wait_for
from lossmon.runlog import load_run

GRACE_S = 0.5  # the README's promise: batches reach the OS every 0.1 s; 0.5 s allows for a busy machine

SCRIPT = textwrap.dedent("""
    import sys, time, lossmon

    def train(run):
        step = 0
        while True:
            step += 1
            time.sleep(0.0002)  # a small model's step
            run.log(loss=float(step))
            if step % 100 == 0:
                print(step, time.monotonic(), flush=True)

    lossmon.run(train, run_dir=sys.argv[1], ui="plain")
""")


@pytest.mark.parametrize("trial", range(3))
def test_sigkill_loses_nothing_older_than_the_flush_interval(tmp_path, subprocess_env, trial):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    run_dir = tmp_path / "r"
    proc = subprocess.Popen([PYTHON, str(script), str(run_dir)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=subprocess_env)
    try:
        first = proc.stdout.readline()  # the banner
        assert first.startswith("lossmon:")
        marks = []
        wait_for(lambda: marks.append(proc.stdout.readline()) or len(marks) > 3, timeout=60)
        time.sleep(random.Random(trial).uniform(0.8, 2.0))  # long enough for points older than GRACE_S
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        rest, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
    logged = []
    for line in marks + rest.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            logged.append((int(parts[0]), float(parts[1])))
    old_enough = [s for s, t in logged if t < killed_at - GRACE_S]
    assert old_enough, "the run was killed before anything was old enough to check"
    loaded = load_run(run_dir)  # loads despite the kill (a torn last line is tolerated)
    assert loaded.malformed == 0
    steps = loaded.store.series("loss").steps()
    assert steps[-1] >= max(old_enough)
    assert steps.tolist() == list(range(1, len(steps) + 1))  # nothing missing in between
