"""Per-step cost of LR control: the optimizer-step hooks, and the DDP control exchange.

1. Hooks: `optimizer.step()` on the demo-sized MLP, bare vs watched (multiplier 1) vs watched with
   a multiplier (u*s set and restored every step), SGD and AdamW, interleaved rounds, 1 thread.
2. DDP (gloo, 2 CPU processes): a DDP training step bare vs with lossmon watching (adaptive
   exchange interval); reports the median step time, the ratio and the interval rank 0 chose.

    python benchmarks/bench_lr.py [--steps N] [--rounds R] [--no-ddp] [--json PATH]
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402

from figures import Figures  # noqa: E402
from torch import nn  # noqa: E402

from lossmon.training.run import Run  # noqa: E402


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(32, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))


def hooks(steps: int, rounds: int, fig: Figures) -> None:
    print("1. optimizer.step() with lossmon's hooks (us/step, median of rounds)")
    for opt_name, make in (("SGD", lambda p: torch.optim.SGD(p, lr=0.01, momentum=0.9)),
                           ("AdamW", lambda p: torch.optim.AdamW(p, lr=1e-3))):
        variants = {}
        for label in ("bare", "watched, x1", "watched, x0.5"):
            model = mlp()
            opt = make(model.parameters())
            for p in model.parameters():
                p.grad = torch.zeros_like(p)
            if label != "bare":
                run = Run()
                run.watch(opt)
                if label.endswith("x0.5"):
                    run.scale_lr(0.5)
                variants[label] = (opt, run)
            else:
                variants[label] = (opt, None)
        results = {k: [] for k in variants}
        for _ in range(rounds):
            for label, (opt, run) in variants.items():
                t = time.perf_counter()
                for _ in range(steps):
                    opt.step()
                results[label].append((time.perf_counter() - t) / steps * 1e6)
                if run is not None:
                    run.drain()
        base = statistics.median(results["bare"])
        for label, xs in results.items():
            med = statistics.median(xs)
            print(f"   {opt_name:6s} {label:14s} {med:8.1f} us   (+{med - base:5.1f} us)")
        # The hooks alone, called as the optimizer calls them: the overhead without the step's noise.
        for label in ("watched, x1", "watched, x0.5"):
            opt, run = variants[label]
            lr = run._lr
            costs = []
            for _ in range(rounds):
                t = time.perf_counter()
                for _ in range(steps):
                    lr._pre(opt, 0)
                    lr._after(opt, 0)
                costs.append((time.perf_counter() - t) / steps * 1e6)
                lr.pending_metrics = None
            print(f"   {opt_name:6s} {label:14s} hooks alone: {statistics.median(costs):.2f} us/step")
            fig.add(f"LR hooks per optimizer step, {opt_name}, {label}", statistics.median(costs), "us/step", fmt="{:.2f}")


def _ddp_worker(rank: int, port: int, steps: int, rounds: int, out: str) -> None:
    import torch.distributed as dist

    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    model = nn.parallel.DistributedDataParallel(mlp())
    opt = torch.optim.SGD(model.parameters(), lr=0.01)
    x, y = torch.randn(64, 32), torch.randn(64, 1)

    def step():
        loss = nn.functional.mse_loss(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()

    for _ in range(50):
        step()
    run = Run()
    bare, watched = [], []
    for r in range(rounds):
        dist.barrier()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        bare.append((time.perf_counter() - t) / steps * 1e6)
        if r == 0:
            run.join_distributed()
            run.watch(opt)
        dist.barrier()
        t = time.perf_counter()
        for _ in range(steps):
            step()
        watched.append((time.perf_counter() - t) / steps * 1e6)
        run.drain()
    if rank == 0:
        b, w = statistics.median(bare), statistics.median(watched)
        with open(out, "w") as f:
            f.write(f"   bare DDP step     {b:8.1f} us\n   with lossmon      {w:8.1f} us   (+{w - b:.1f} us, "
                    f"{b / w * 100:.1f} % throughput)\n   exchange interval {run.distributed_sync.interval} steps; "
                    f"{run.distributed_sync.exchanges} exchanges in {rounds * steps} steps; one exchange "
                    f"{run.distributed_sync.exchange_s * 1e6:.0f} us\n")
    dist.destroy_process_group()


def ddp(steps: int, rounds: int) -> None:
    import tempfile

    import torch.multiprocessing as mp

    print("2. DDP training step, gloo, 2 CPU processes (median of rounds)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "ddp.txt")
        mp.spawn(_ddp_worker, args=(port, steps, rounds, out), nprocs=2)
        print(open(out).read(), end="")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--no-ddp", action="store_true")
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    fig = Figures()
    hooks(args.steps, args.rounds, fig)
    fig.write(args.json)
    if not args.no_ddp and torch.distributed.is_available():
        ddp(max(200, args.steps // 4), args.rounds)


if __name__ == "__main__":
    main()
