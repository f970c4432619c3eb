"""Training throughput with lossmon recording (plain mode's machinery) vs the bare loop.

One demo-sized MLP trains in one process, 1 torch thread, in short alternating blocks: bare, then
with `run.watch(opt)` hooks and `run.log(loss=...)` while the session's pump thread records into the
store and run.jsonl (the hooks are removed again after each monitored block). The same model and
optimizer serve both arms: two copies differ by up to 8 % from memory layout alone here, and whole
runs swing by +-10 % on this machine. Prints the median block time of each arm and the ratio
(budget: plain mode >= 99 % of the bare loop).

    python benchmarks/bench_overhead.py [--blocks N] [--block-steps K] [--json PATH]
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

from figures import Figures  # noqa: E402


def make(seed: int = 0):
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(IN_DIM, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    return model, opt


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--blocks", type=int, default=60)
    ap.add_argument("--block-steps", type=int, default=100)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    x, y = make_data(4096, 0.2, seed=0)
    batches = [torch.randint(0, len(x), (64,)) for _ in range(args.block_steps)]
    model, opt = make()
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("bench", Path(tmp) / "run")
        run = session.run

        def block(log):
            if log:
                run.watch(opt)
            t = time.perf_counter()
            for idx in batches:
                loss = nn.functional.mse_loss(model(x[idx]), y[idx])
                opt.zero_grad()
                loss.backward()
                opt.step()
                if log:
                    run.log(loss=loss)
            took = time.perf_counter() - t
            run._lr.unwatch_all()
            return took

        block(False)
        block(True)  # warm-up both
        bare, again, monitored = [], [], []
        for _ in range(args.blocks):
            bare.append(block(False))
            monitored.append(block(True))
            again.append(block(False))  # an A/A arm: how far two bare arms differ is the noise floor
        session.close("finished", 0)
        recorded = len(session.run.store.series("loss"))
    b, m, a = statistics.median(bare), statistics.median(monitored), statistics.median(again)
    per_step = (m - b) / args.block_steps * 1e6
    print(f"{args.blocks} alternating blocks of {args.block_steps} steps, 1 torch thread, AdamW MLP {IN_DIM}-128-128-1")
    print(f"bare loop         {args.block_steps / b:9.1f} steps/s (median block)")
    print(f"lossmon recording {args.block_steps / m:9.1f} steps/s (median block); {recorded} points recorded")
    print(f"ratio             {b / m * 100:9.1f} % of the bare loop (budget >= 99 %); {per_step:+.1f} us/step")
    print(f"noise floor       {b / a * 100:9.1f} % (bare vs bare, same blocks)")
    paired = statistics.median(2 * m_ / (b_ + a_) for b_, m_, a_ in zip(bare, monitored, again))
    print(f"paired            {100 / paired:9.1f} % (median over blocks of monitored vs the mean of the bare blocks"
          " on either side)")
    fig = Figures()
    fig.add("plain-mode recording, paired blocks", 100 / paired, "% of bare", ">= 99 %", 100 / paired >= 99, fmt="{:.1f}")
    fig.add("added time per step", per_step, "us/step", fmt="{:+.1f}")
    fig.add("noise floor (bare vs bare)", b / a * 100, "%", fmt="{:.1f}")
    fig.write(args.json)


if __name__ == "__main__":
    main()
