"""What the system sampler costs the training loop: paired blocks with the sampler on and off.

The demo-sized MLP of bench_overhead.py trains in one process (1 torch thread) under a session
with its pump, in interleaved blocks: off, on, off. One sampler thread runs throughout and
samples only during "on" blocks, at its real rate (1/s) and, to make a cost visible at all, at
100/s (an upper bound: 100x the real rate). Also the time one sample takes on its own. Prints
medians of the paired ratios (on vs the mean of the off blocks either side) and their spread
(the 25th-75th percentiles), and the A/A noise floor (off vs off).

    python benchmarks/bench_system.py [--blocks N] [--block-steps K] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from lossmon.demos import IN_DIM, make_data  # noqa: E402
from lossmon.session import Session  # noqa: E402
from lossmon.system.sampler import SystemSampler  # noqa: E402

from bench_overhead import make  # noqa: E402

from figures import Figures  # noqa: E402


class Switched(SystemSampler):
    """Samples only while `on` (the thread and its timer run in both arms)."""

    on = False

    def sample_once(self):
        if self.on:
            self.samples += 1
            return super().sample_once()
        return {}

    samples = 0


def quartiles(xs: list[float]) -> tuple[float, float]:
    q = statistics.quantiles(xs, n=4)
    return q[0], q[2]


def arm(run, step, blocks: int, interval: float) -> dict:
    sampler = Switched(run, interval=interval).start()
    time.sleep(0.05)  # its sources opened
    try:
        step(False)
        off1, on, off2 = [], [], []
        for _ in range(blocks):
            off1.append(step(False))
            sampler.on = True
            on.append(step(True))
            sampler.on = False
            off2.append(step(False))
    finally:
        sampler.stop()
    paired = [2 * b / (a + c) for a, b, c in zip(off1, on, off2)]
    aa = [a / c for a, c in zip(off1, off2)]
    return {"ratio": statistics.median(paired), "spread": quartiles(paired), "noise": statistics.median(aa),
            "noise_spread": quartiles(aa), "samples": sampler.samples, "block_s": statistics.median(on)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=20)
    ap.add_argument("--block-steps", type=int, default=400)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    x, y = make_data(4096, 0.2, seed=0)
    batches = [torch.randint(0, len(x), (64,)) for _ in range(args.block_steps)]
    model, opt = make()  # bench_overhead's model: the same loop, with and without the sampler
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("bench", Path(tmp) / "run", system=False)
        run = session.run

        def step(_on: bool) -> float:
            t = time.perf_counter()
            for idx in batches:
                loss = nn.functional.mse_loss(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                run.log(loss=loss)
            return time.perf_counter() - t

        one = SystemSampler(run)
        one.open()
        t = time.perf_counter()
        for _ in range(200):
            one.sample_once()
        per_sample_us = (time.perf_counter() - t) / 200 * 1e6
        real = arm(run, step, args.blocks, 1.0)
        fast = arm(run, step, args.blocks, 0.01)
        session.close("finished", 0)
    print(f"{args.blocks} x (off, on, off) blocks of {args.block_steps} steps (~{real['block_s']:.2f} s each),"
          f" 1 torch thread, AdamW MLP {IN_DIM}-128-128-1, pump recording")
    print(f"one sample (process + GPUs + timing), on its own: {per_sample_us:.0f} us")
    for label, r in (("sampler at 1/s (real)", real), ("sampler at 100/s (100x)", fast)):
        lo, hi = r["spread"]
        nlo, nhi = r["noise_spread"]
        print(f"{label:24} on/off {100 / r['ratio']:6.2f} % of the off speed (IQR {100 / hi:.2f}-{100 / lo:.2f});"
              f" off/off {100 / r['noise']:6.2f} % (IQR {100 / nhi:.2f}-{100 / nlo:.2f}); {r['samples']} samples")
    fig = Figures()
    fig.add("system sampler at 1/s, paired blocks", 100 / real["ratio"], "% of off", ">= 99 %", 100 / real["ratio"] >= 99,
            fmt="{:.2f}")
    fig.add("system sampler at 100/s, paired blocks", 100 / fast["ratio"], "% of off", fmt="{:.2f}")
    fig.add("one system sample", per_sample_us, "us", fmt="{:.0f}")
    fig.write(args.json)


if __name__ == "__main__":
    main()
