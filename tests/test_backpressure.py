"""Back-pressure by age: a loop that logs wide rows as fast as it can (60 metrics, no sleep) never
has a point waiting seconds to reach run.jsonl (the README's SIGKILL promise is 0.5 s; the
crash trials measure it), and log() itself never waits long. Before, back-pressure began at 100k queued rows whatever their
width: seconds of 60-metric rows."""

from __future__ import annotations

import bisect
import time

from lossmon.session.session import Session

WIDTH = 60
RUN_S = 3.0


def test_wide_rows_at_full_speed_reach_the_run_log_within_half_a_second(tmp_path):
    session = Session("bp", tmp_path / "r")
    run, writer = session.run, session.writer
    written: list[tuple[float, int]] = []  # (when, highest step) per write of the run log
    real_write = writer.write

    def write(text):
        real_write(text)
        written.append((time.monotonic(), run.step))  # at least every step logged before the drain

    writer.write = write
    row = {f"m{i}": 0.5 for i in range(WIDTH - 1)}
    logged: list[tuple[float, int]] = []
    worst_wait = 0.0
    try:
        t_end = time.monotonic() + RUN_S
        while True:
            t0 = time.monotonic()
            if t0 > t_end:
                break
            for _ in range(256):
                run.log(loss=1.0, **row)
            t1 = time.monotonic()
            worst_wait = max(worst_wait, t1 - t0)
            logged.append((t0, run.step - 256 + 1))  # the first step of the block, logged at t0 or later
    finally:
        session.close("finished", 0)
    assert run.step > 5000  # it did log at speed
    times, steps = [w[0] for w in written], [w[1] for w in written]
    lags = []
    for t, s in logged:
        i = bisect.bisect_left(steps, s)  # the first write that holds step s
        lags.append((times[i] if i < len(times) else time.monotonic()) - t)
    # The 0.5 s promise itself is measured by benchmarks/crash_trials.py (60 of 60 SIGKILL trials);
    # this guards against the backlog of seconds (2.95 s here before) with room for a loaded machine.
    assert max(lags) < 1.0, f"a point waited {max(lags):.2f} s for the run log"
    assert worst_wait < 1.0, f"a block of 256 log() calls took {worst_wait:.2f} s"  # never long (GIVE_UP_S)
