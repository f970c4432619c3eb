"""Training throughput with lossmon in plain mode vs the bare loop, on the demo model.

The same training function runs against a do-nothing stand-in for `Run` (the bare loop) and under
`lossmon.run(..., ui="plain")` (store, pump thread, run log, status printer), interleaved A/B/A/B
in one process with 1 torch thread. Prints median steps/s and the ratio (budget: >= 99 %).

    python benchmarks/bench_overhead.py [--steps N] [--rounds R] [--scenario NAME]
"""

from __future__ import annotations

import argparse
import io
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from lossmon.demos import training_function  # noqa: E402
from lossmon.plain import run_plain  # noqa: E402
from lossmon.session import Session  # noqa: E402


class NullRun:
    """Everything a training function calls on a Run, doing nothing."""

    should_stop = False
    step = 0
    dir = None

    def log(self, step=None, **metrics):
        pass

    def watch(self, optimizer):
        pass

    def on_checkpoint(self, fn):
        return fn

    def state_dict(self):
        return {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--scenario", default="healthy")
    args = ap.parse_args()
    torch.set_num_threads(1)
    train = training_function(args.scenario, steps=args.steps)
    train(NullRun())  # warm-up
    bare, plain = [], []
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):
            t0 = time.perf_counter()
            train(NullRun())
            bare.append(args.steps / (time.perf_counter() - t0))
            session = Session("bench", Path(tmp) / f"r{r}")
            took: list[float] = []

            def timed_train(run, took=took):  # time the training itself, not set-up and teardown
                t = time.perf_counter()
                train(run)
                took.append(time.perf_counter() - t)

            code = run_plain(session, timed_train, out=io.StringIO())
            plain.append(args.steps / took[0])
            assert code == 0 and len(session.run.store.series("loss")) == args.steps
    b, p = statistics.median(bare), statistics.median(plain)
    print(f"scenario {args.scenario}, {args.steps} steps x {args.rounds} rounds, 1 torch thread")
    print(f"bare loop      {b:9.1f} steps/s (median; runs: {', '.join(f'{x:.0f}' for x in bare)})")
    print(f"lossmon plain  {p:9.1f} steps/s (median; runs: {', '.join(f'{x:.0f}' for x in plain)})")
    print(f"ratio          {p / b * 100:9.1f} % of the bare loop (budget >= 99 %)")


if __name__ == "__main__":
    main()
