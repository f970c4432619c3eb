"""Cost of one `run.log()` call, side by side with a bare loop and with what people use today
(TensorBoard's SummaryWriter.add_scalar, tqdm's update + set_postfix).

All variants run in one process, interleaved round by round (these machines are noisy), with the
pump thread draining in the background as in a real run. Prints medians in microseconds per call.

    python benchmarks/bench_log.py [--calls N] [--rounds R] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from lossmon.recording.pump import Pump  # noqa: E402
from lossmon.training.run import Run  # noqa: E402

from figures import Figures  # noqa: E402


def timed(fn, calls: int) -> float:
    t0 = time.perf_counter()
    fn(calls)
    return (time.perf_counter() - t0) / calls * 1e6


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=200_000)
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    torch.set_num_threads(1)

    run = Run("bench")
    pump = Pump(run).start()  # drains into the store every 0.1 s, like a live run
    cpu_tensor = torch.tensor(0.5)

    def noop(**kw):
        return None

    def bare(n):
        x = 0.5
        for _ in range(n):
            pass
        return x

    def call_noop(n):
        for _ in range(n):
            noop(loss=0.5)

    def lossmon_float(n):
        log = run.log
        for _ in range(n):
            log(loss=0.5)

    def lossmon_tensor(n):
        log = run.log
        for _ in range(n):
            log(loss=cpu_tensor)

    quiet = Run("quiet")  # no pump: log()'s own cost; its queue is emptied every 10k calls instead
    from collections import deque

    q: deque = deque()

    def lossmon_float_no_pump(n):
        log = quiet.log
        clear = quiet._pending.clear
        for _ in range(n // 10_000):
            for _ in range(10_000):
                log(loss=0.5)
            clear()

    def tuple_into_deque(n):  # DESIGN.md's reference point: 0.1 us on the machine it was measured on
        push = q.append
        for i in range(n // 10_000):
            for _ in range(10_000):
                push((i, 0.5))
            q.clear()

    variants = {"bare loop": bare, "no-op f(loss=x)": call_noop, "tuple into a deque": tuple_into_deque,
                "lossmon log(float)": lossmon_float, "lossmon log(float), no pump": lossmon_float_no_pump,
                "lossmon log(CPU tensor)": lossmon_tensor}
    tmp = tempfile.TemporaryDirectory()
    try:
        from torch.utils.tensorboard import SummaryWriter

        writer = SummaryWriter(tmp.name)
        step = [0]

        def tensorboard(n):
            add = writer.add_scalar
            s = step[0]
            for i in range(n):
                add("loss", 0.5, s + i)
            step[0] = s + n

        variants["tensorboard add_scalar"] = tensorboard
    except ImportError:
        print("(tensorboard not installed: pip install 'lossmon[bench]' for that column)")
    try:
        import tqdm

        devnull = open(os.devnull, "w")
        bar = tqdm.tqdm(total=None, file=devnull)

        def tqdm_postfix(n):  # the usual progress-bar pattern: count the step, show the loss
            update, post = bar.update, bar.set_postfix
            for _ in range(n):
                update(1)
                post(loss=0.5)

        variants["tqdm update+set_postfix"] = tqdm_postfix
    except ImportError:
        print("(tqdm not installed: pip install 'lossmon[bench]' for that column)")

    results: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            slow = "tensorboard" in name or "tqdm" in name
            calls = args.calls if not slow else max(1, args.calls // 20)
            results[name].append(timed(fn, calls))
    pump.stop()
    base = statistics.median(results["bare loop"])
    print(f"{'variant':28s} {'median us/call':>15s} {'min':>8s} {'max':>8s}")
    for name, xs in results.items():
        med = statistics.median(xs)
        print(f"{name:28s} {med:15.3f} {min(xs):8.3f} {max(xs):8.3f}")
    lm = statistics.median(results["lossmon log(float)"])
    own = statistics.median(results["lossmon log(float), no pump"])
    print(f"\nlossmon log(float) minus bare loop: {lm - base:.3f} us/call with the pump sharing the GIL,"
          f" {own - base:.3f} us/call for log() alone (budget 1 us)")
    ref = statistics.median(results["tuple into a deque"])
    print(f"log() alone = {own / ref:.1f}x a tuple into a deque on this machine"
          f" (DESIGN.md: that costs ~0.1 us where the 1 us budget was set)")
    if "tensorboard add_scalar" in results:
        print(f"tensorboard add_scalar / lossmon log(float): {statistics.median(results['tensorboard add_scalar']) / lm:.1f}x")
    if "tqdm update+set_postfix" in results:
        print(f"tqdm update+set_postfix / lossmon log(float): {statistics.median(results['tqdm update+set_postfix']) / lm:.1f}x")
    print(f"points recorded by the pump: {len(run.store.series('loss'))}")
    fig = Figures()
    fig.add("log(float) minus bare loop, pump running", lm - base, "us/call", "<= 1 us", lm - base <= 1.0)
    fig.add("log(float) minus bare loop, log() alone", own - base, "us/call", "<= 1 us", own - base <= 1.0)
    fig.add("log() alone, scaled to DESIGN.md's machine (deque append = 0.1 us)", (own - base) * 0.1 / ref,
            "us/call", "<= 1 us", (own - base) * 0.1 / ref <= 1.0)
    fig.add("log(CPU tensor) minus bare loop", statistics.median(results["lossmon log(CPU tensor)"]) - base, "us/call")
    for name in ("tensorboard add_scalar", "tqdm update+set_postfix"):
        if name in results:
            theirs = statistics.median(results[name])
            fig.add(f"{name}", theirs, "us/call")
            fig.add(f"{name} / lossmon log(float)", theirs / lm, "x", fmt="{:.1f}")
        else:
            fig.note(f"{name}: not installed")
    fig.write(args.json)
    if "tensorboard add_scalar" in results:
        writer.close()
    if "tqdm update+set_postfix" in results:
        bar.close()
        devnull.close()
    tmp.cleanup()


if __name__ == "__main__":
    main()
