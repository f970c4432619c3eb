"""The CUDA paths: logging a CUDA loss tensor costs no host-device sync per step, values arrive
exactly, and training throughput with lossmon (plain mode) vs the bare loop on a GPU model.

    python benchmarks/bench_gpu.py [--steps 3000] [--reps 3] [--json PATH]

Skipped (exit 0, one line) where there is no CUDA device.

1. No sync: each step queues ~20 ms of GPU work, then logs the loss tensor. If log() waited for
   the GPU, the host would fall behind the queue by 20 ms a step; it must instead finish its loop
   far ahead of the GPU (host time << GPU time), exactly like the same loop without lossmon.
2. Exact values: a short run logs CUDA losses; the run log holds the same floats as .item() gave.
3. Syncs counted: a small CUDA MLP trains 200 steps with `torch.cuda.set_sync_debug_mode("warn")`,
   bare and under lossmon (watch(optimizer), log(loss=tensor) every step); every synchronizing call
   is counted per thread. The training thread must show exactly as many as the bare loop (none);
   the pump thread's batched copies (one per tick at most, off the training thread) are reported.
4. Throughput: an MLP (4 x 2048, batch 512) trained for --steps, bare loop vs lossmon.run(ui="plain")
   logging the loss tensor every step with run.watch(optimizer), arms interleaved, medians.
"""

from __future__ import annotations

import argparse
import collections
import json
import statistics
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from figures import Figures  # noqa: E402


def count_syncs(torch, fn) -> collections.Counter:
    """Run `fn` with CUDA sync debugging on; count synchronizing calls per thread name."""
    counts: collections.Counter = collections.Counter()

    def show(message, category, filename, lineno, file=None, line=None):
        if "synchroniz" in str(message):
            counts[threading.current_thread().name] += 1

    with warnings.catch_warnings():
        warnings.simplefilter("always")
        warnings.showwarning = show  # restored by catch_warnings; sees every thread's warnings
        torch.cuda.set_sync_debug_mode("warn")
        try:
            fn()
        finally:
            torch.cuda.set_sync_debug_mode("default")
    return counts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    import torch

    fig = Figures()
    if not torch.cuda.is_available():
        print("bench_gpu: skipped (no CUDA device)")
        fig.note("skipped: no CUDA device on this machine")
        fig.write(args.json)
        return
    import lossmon

    dev = torch.device("cuda")
    print(f"device: {torch.cuda.get_device_name(0)}, torch {torch.__version__}")
    tmp = Path(tempfile.mkdtemp())

    # 1. no host-device sync in log()
    a = torch.randn(8192, 8192, device=dev)
    torch.cuda.synchronize()
    t = time.perf_counter()
    for _ in range(3):
        a @ a
    torch.cuda.synchronize()
    per = (time.perf_counter() - t) / 3
    reps = max(1, int(0.02 / per))
    steps = 50

    def queue_step():
        b = a
        for _ in range(reps):
            b = a @ a
        return b[0, 0] * 0 + 1.0  # a 0-d CUDA tensor, ready only when the work is done

    def host_loop(log):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        for _ in range(steps):
            log(queue_step())
        host = time.perf_counter() - t0
        torch.cuda.synchronize()
        return host, time.perf_counter() - t0

    bare_host, bare_total = host_loop(lambda x: None)
    result = {}

    def train(run):
        result["host"], result["total"] = host_loop(lambda x: run.log(loss=x))

    lossmon.run(train, run_dir=tmp / "sync", ui="plain")
    print(f"no sync: {steps} steps of ~{reps * per * 1000:.0f} ms GPU work; host loop done after"
          f" {result['host']:.3f}s with lossmon.log(cuda tensor) vs {bare_host:.3f}s bare; GPU done after"
          f" {result['total']:.2f}s vs {bare_total:.2f}s -> {'OK (no per-step sync)' if result['host'] < 0.25 * result['total'] else 'SYNCS'}")
    fig.add("host loop time / GPU time, logging CUDA losses", result["host"] / result["total"], "", "well below 1",
            result["host"] < 0.25 * result["total"], fmt="{:.3f}")

    # 2. exact values
    torch.manual_seed(0)
    expect = []

    def train_exact(run):
        x = torch.randn(256, 64, device=dev)
        w = torch.randn(64, 1, device=dev, requires_grad=True)
        for i in range(500):
            loss = (x @ w).pow(2).mean() / (i + 1)
            run.log(loss=loss.detach())
            expect.append(loss)

    lossmon.run(train_exact, run_dir=tmp / "exact", ui="plain")
    got = [json.loads(line)["loss"] for line in (tmp / "exact" / "run.jsonl").read_text().splitlines() if '"loss"' in line]
    want = [float(e.item()) for e in expect]
    print(f"exact values: {sum(g == w for g, w in zip(got, want))}/{len(want)} logged CUDA losses equal .item()")
    fig.add("logged CUDA losses equal to .item()", sum(g == w for g, w in zip(got, want)) / len(want) * 100, "%",
            "100 %", got == want, fmt="{:.1f}")

    # 3. synchronizing calls, counted per thread
    def small():
        torch.manual_seed(0)
        model = torch.nn.Sequential(torch.nn.Linear(64, 256), torch.nn.ReLU(), torch.nn.Linear(256, 1)).to(dev)
        return model, torch.optim.AdamW(model.parameters(), lr=1e-3)

    xs, ys = torch.randn(64, 64, device=dev), torch.randn(64, 1, device=dev)

    def small_loop(model, opt, log, n=200):
        for _ in range(n):
            loss = torch.nn.functional.mse_loss(model(xs), ys)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            log(loss.detach())
        torch.cuda.synchronize()

    model, opt = small()
    small_loop(model, opt, lambda v: None, 20)  # warm-up outside the count
    bare_syncs = count_syncs(torch, lambda: small_loop(model, opt, lambda v: None))
    box = {}

    def train_counted(run):
        m, o = small()
        run.watch(o)
        small_loop(m, o, lambda v: None, 20)
        box["thread"] = threading.current_thread().name
        box["counts"] = count_syncs(torch, lambda: small_loop(m, o, lambda v: run.log(loss=v)))
        time.sleep(0.3)  # let the pump move (and count) its last batched copies

    lossmon.run(train_counted, run_dir=tmp / "syncs", ui="plain")
    counts = box["counts"]
    trainer = counts.get(box["thread"], 0)
    bare_n = sum(bare_syncs.values())
    others = {k: v for k, v in counts.items() if k != box["thread"]}
    print(f"syncs over 200 steps (torch.cuda.set_sync_debug_mode): bare loop {bare_n}; under lossmon the training"
          f" thread {trainer}, other threads {others or 0} (the pump's batched copies)")
    fig.add("host-device syncs added to the training thread, 200 steps", trainer - bare_n, "", "0",
            trainer - bare_n <= 0, fmt="{:.0f}")
    fig.add("syncs on the pump thread (batched copies), 200 steps", sum(others.values()), "", fmt="{:.0f}")

    # 4. throughput
    def make():
        torch.manual_seed(0)
        layers = []
        for _ in range(4):
            layers += [torch.nn.Linear(2048, 2048), torch.nn.ReLU()]
        model = torch.nn.Sequential(*layers, torch.nn.Linear(2048, 1)).to(dev)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        return model, opt

    x = torch.randn(512, 2048, device=dev)
    y = torch.randn(512, 1, device=dev)

    def loop(model, opt, n, log=None):
        for _ in range(n):
            loss = torch.nn.functional.mse_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if log is not None:
                log(loss.detach())

    def bare():
        model, opt = make()
        loop(model, opt, 50)
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        loop(model, opt, args.steps)
        torch.cuda.synchronize()
        return args.steps / (time.perf_counter() - t0)

    quiet = {k: {"enabled": False} for k in ("nonfinite", "spike", "divergence", "oscillation", "plateau",
                                              "lr_too_low", "overfitting")}

    def monitored(i, watch=True, config=None):
        out = {}

        def train(run):
            model, opt = make()
            if watch:
                run.watch(opt)
            loop(model, opt, 50, lambda v: run.log(loss=v))
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            loop(model, opt, args.steps, lambda v: run.log(loss=v))
            torch.cuda.synchronize()
            out["rate"] = args.steps / (time.perf_counter() - t0)

        lossmon.run(train, run_dir=tmp / f"tp{i}-{watch}-{config is None}", ui="plain", config=config)
        return out["rate"]

    arms = {"bare": bare, "lossmon plain": lambda i: monitored(i),
            "  without watch(opt)": lambda i: monitored(i, watch=False),
            "  detectors off": lambda i: monitored(i, config=quiet)}
    rates: dict[str, list[float]] = {k: [] for k in arms}
    for i in range(args.reps):
        for name, fn in arms.items():
            rates[name].append(fn() if name == "bare" else fn(i))
    mb = statistics.median(rates["bare"])
    for name, rs in rates.items():
        m = statistics.median(rs)
        print(f"throughput {name}: median {m:.0f} steps/s {['%.0f' % r for r in rs]}; {m / mb * 100:.1f} % of bare")
        if name == "lossmon plain":
            fig.add("plain mode throughput, CUDA MLP 4x2048", m / mb * 100, "% of bare", ">= 99 %", m / mb >= 0.99,
                    fmt="{:.1f}")
    fig.write(args.json)


if __name__ == "__main__":
    main()
