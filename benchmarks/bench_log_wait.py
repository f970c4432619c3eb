"""log()'s worst-case wait, and how long a point waits to reach run.jsonl, in a loop that does
nothing but log (the back-pressure case): a live session (run log, columns, store, detectors),
every log() call timed.

    python benchmarks/bench_log_wait.py [--steps 1000000] [--metrics 1]

Run it with PYTHONPATH pointing at another checkout to compare versions side by side.
"""

from __future__ import annotations

import argparse
import bisect
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from lossmon.session.session import Session  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--metrics", type=int, default=1)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("wait", Path(tmp) / "r")
        run, writer = session.run, session.writer
        written: list[tuple[float, int]] = []
        real_write = writer.write

        def write(text):
            real_write(text)
            written.append((time.perf_counter(), run.step))

        writer.write = write
        row = {f"m{i}": 0.5 for i in range(args.metrics - 1)}
        waits = []
        logged = []
        clock = time.perf_counter
        log = run.log
        t_start = clock()
        for i in range(args.steps):
            t0 = clock()
            log(loss=1.0, **row)
            waits.append(clock() - t0)
            if not i & 255:
                logged.append((t0, i + 1))
        took = clock() - t_start
        session.close("finished", 0)
    times, steps = [w[0] for w in written], [w[1] for w in written]
    lag = 0.0
    for t, s in logged:
        j = bisect.bisect_left(steps, s)
        lag = max(lag, (times[j] if j < len(times) else clock()) - t)
    waits.sort()
    print(f"{args.steps} steps x {args.metrics} metrics in {took:.1f} s ({args.steps / took:,.0f} steps/s):"
          f" log() worst {waits[-1] * 1e3:.1f} ms, p99.99 {waits[int(len(waits) * 0.9999)] * 1e3:.2f} ms,"
          f" calls > 100 ms: {sum(w > 0.1 for w in waits)}, > 10 ms: {sum(w > 0.01 for w in waits)};"
          f" a point's longest wait for run.jsonl {lag:.2f} s")


if __name__ == "__main__":
    main()
