"""Cost of rollback snapshots (issue 22) for a ~100M-parameter model with AdamW, on the CPU.

What a snapshot costs the training thread (model + AdamW state + RNGs, cloned to host memory; or
written with torch.save to disk), what a restore costs, and the amortised cost per step for
snapshots every N steps, against the model's own training step. Medians over repeated runs, with
the spread (min..max).

    python benchmarks/bench_snapshot.py [--params 100e6] [--reps 7] [--no-disk] [--json PATH]
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

from figures import Figures  # noqa: E402

from lossmon.training.snapshot import Snapshots  # noqa: E402

EVERY = (100, 500, 1000)


def model_of(params: float) -> tuple[torch.nn.Module, int]:
    """Square Linear layers of width d: about `params` parameters (6 x 4096^2 ~ 100.7M)."""
    layers = 6
    d = max(16, int((params / layers) ** 0.5))
    torch.manual_seed(0)
    m = torch.nn.Sequential(*[torch.nn.Linear(d, d) for _ in range(layers)])
    return m, d


def timed(fn, reps: int) -> list[float]:
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def spread(xs: list[float]) -> str:
    return f"median {statistics.median(xs) * 1e3:.0f} ms (min {min(xs) * 1e3:.0f}, max {max(xs) * 1e3:.0f}, n={len(xs)})"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--params", type=float, default=100e6)
    ap.add_argument("--reps", type=int, default=7)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--no-disk", action="store_true")
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    fig = Figures()

    model, d = model_of(args.params)
    n = sum(p.numel() for p in model.parameters())
    opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
    x = torch.randn(args.batch, d)

    def step():
        opt.zero_grad()
        model(x).square().mean().backward()
        opt.step()

    step()  # AdamW state exists from here on
    state_mb = (sum(p.numel() * p.element_size() for p in model.parameters())
                + sum(t.numel() * t.element_size() for s in opt.state.values() for t in s.values()
                      if isinstance(t, torch.Tensor))) / 2**20
    print(f"model: {n / 1e6:.1f}M parameters (6 x Linear({d}, {d})), AdamW; state to copy {state_mb:.0f} MiB;"
          f" {torch.get_num_threads()} torch threads")
    steps = timed(step, max(3, args.reps // 2))
    step_s = statistics.median(steps)
    print(f"training step (batch {args.batch}): {spread(steps)}")

    snaps = Snapshots(1, keep=2, modules=[model])
    clock = [0]

    def take():
        clock[0] += 1
        snaps.take(clock[0], clock[0], None, [opt], [], {"version": 1, "step": clock[0], "lr_scale": 1.0})

    mem = timed(take, args.reps)
    snap = snaps.pick(None)

    def restore():
        snaps.restore(snaps.load(snap), [opt], [])

    back = timed(restore, args.reps)
    med = statistics.median(mem)
    print(f"snapshot to host memory: {spread(mem)}  ({state_mb / 1024 / med:.2f} GiB/s)")
    print(f"restore from memory:     {spread(back)}")
    fig.add("snapshot, memory", med * 1e3, "ms", fmt="{:.0f}")
    fig.add("restore, memory", statistics.median(back) * 1e3, "ms", fmt="{:.0f}")
    for every in EVERY:
        per = med / every
        print(f"  every {every:>4} steps: {per * 1e3:.2f} ms/step amortised = {100 * per / step_s:.2f} % of the step")
        fig.add(f"per step, every {every}", 100 * per / step_s, "% of step", fmt="{:.2f}")

    if not args.no_disk:
        with tempfile.TemporaryDirectory() as tmp:
            disk = Snapshots(1, keep=2, modules=[model], on_disk=True, run_dir=Path(tmp))
            on_thread, written = [], []
            for _ in range(max(3, args.reps)):  # the first fills a fresh buffer (page faults)
                clock[0] += 1
                t0 = time.perf_counter()
                disk.take(clock[0], clock[0], None, [opt], [], {"version": 1, "step": clock[0], "lr_scale": 1.0})
                on_thread.append(time.perf_counter() - t0)  # what the training thread waits for
                assert disk.wait_written()
                written.append(time.perf_counter() - t0)  # until the file is complete (writer thread)
            dsnap = disk.pick(None)
            dback = timed(lambda: disk.restore(disk.load(dsnap), [opt], []), max(2, args.reps // 3))
        ds = on_thread
        print(f"snapshot to disk, training thread (copy to a host buffer): {spread(ds)}")
        print(f"snapshot to disk, until the file is complete (torch.save + fsync on the writer thread): {spread(written)}")
        print(f"restore from disk:       {spread(dback)}")
        fig.add("snapshot, disk (training thread)", statistics.median(ds) * 1e3, "ms", fmt="{:.0f}")
        fig.add("snapshot, disk (until written)", statistics.median(written) * 1e3, "ms", fmt="{:.0f}")
        for every in EVERY:
            per = statistics.median(ds) / every
            print(f"  every {every:>4} steps: {per * 1e3:.2f} ms/step amortised = {100 * per / step_s:.2f} % of the step"
                  + ("" if every * step_s > statistics.median(written) else "  (but the write outlasts the interval:"
                     " the next snapshot waits for it)"))
    fig.write(args.json)


if __name__ == "__main__":
    main()
