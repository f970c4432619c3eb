"""Detector throughput, detection delay per kind, and false alarms on healthy runs.

    python benchmarks/bench_detectors.py [--seeds 24] [--reps 5] [--json PATH]

Throughput: every detector at once on a synthetic 1M-step run (train loss, grad norm, LR every
step; val loss every 100 steps), counting every point handed to the diagnoser; fed in 16k-step
chunks (as `lossmon check` does) and in 750-step batches (a live run at 750 steps/s hands them a
batch a second). Then the live cost per training step on a short (4k) and a long (100k) run of the
demo's shape (loss, LR, val every 100). Delays and false alarms come from the same synthetic
generator as the tests.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from lossmon.diagnosis import Diagnoser  # noqa: E402
from lossmon.diagnosis.synthetic import SCHEDULES, generate  # noqa: E402

from figures import Figures  # noqa: E402


def throughput(curve, batch: int, reps: int) -> tuple[float, float]:
    batches = list(curve.batches(batch))
    n = sum(len(v[1]) for b in batches for v in b.values())
    rates = []
    for _ in range(reps):
        d = Diagnoser()
        t = time.perf_counter()
        for b in batches:
            d.feed(b)
        rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates), n / statistics.median(rates) / len(batches)


def first(d, kind, severities):
    for a in d.alerts:
        if a["kind"] == kind and a["state"] != "resolved" and a["severity"] in severities:
            return a["step"]
    return None


EVENTS = {
    "nonfinite": (dict(nan_at=50_000), ("critical",)),
    "spike": (dict(spike_at=30_000), ("warning",)),
    "divergence": (dict(diverge_at=50_000), ("critical",)),
    "oscillation": (dict(oscillate_at=30_000), ("warning",)),
    "overfitting": (dict(overfit_at=40_000), ("warning",)),
    "plateau": (dict(plateau_at=20_000), ("info",)),
    "lr_too_low": (dict(lr_scale=0.01), ("warning",)),
}
NOISES = [0.05, 0.1, 0.2, 0.3]


def healthy_params(seed: int) -> dict:  # the same family as tests/test_diagnosis_synthetic.py
    rng = np.random.default_rng(1000 + seed)
    return dict(schedule=SCHEDULES[seed % len(SCHEDULES)], noise=float(rng.choice([0.02, 0.1, 0.2, 0.3, 0.4])),
                alpha=float(rng.uniform(0.3, 1.0)), tau=float(rng.choice([50, 200, 500])),
                floor=float(rng.uniform(0.05, 2.0)), initial=float(rng.uniform(3, 10)),
                eval_every=int(rng.choice([100, 1000, 5000])), val_noise=float(rng.choice([0.002, 0.01, 0.03])))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seeds", type=int, default=24)
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--steps", type=int, default=1_000_000)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()

    curve = generate(args.steps, seed=0, noise=0.2, tau=500, eval_every=100)
    print(f"throughput, all detectors, {args.steps:,} steps (4 series), median of {args.reps}:")
    fig = Figures()
    for batch, label in ((16384, "16k-step chunks (lossmon check)"), (750, "750-step batches (live, 1 s)")):
        rate, per_batch = throughput(curve, batch, args.reps)
        fig.add(f"all detectors, {label}", rate / 1e6, "M points/s", ">= 2 M points/s", rate >= 2e6, fmt="{:.2f}")
        print(f"  {label:34s} {rate / 1e6:6.2f} M points/s   {per_batch * 1e6:8.0f} us per batch")
    print("live cost per training step (loss + LR every step, val every 100; 750-step batches):")
    for n in (4000, 100_000):
        c = generate(n, seed=1, noise=0.2, eval_every=100, tau=50)
        batches = [{k: v for k, v in b.items() if k != "grad_norm"} for b in c.batches(750)]
        times = []
        for _ in range(args.reps):
            d = Diagnoser()
            t = time.perf_counter()
            for b in batches:
                d.feed(b)
            times.append(time.perf_counter() - t)
        print(f"  {n:>7,} steps {statistics.median(times) / n * 1e6:6.2f} us per step")
        fig.add(f"live detector cost, {n:,}-step run", statistics.median(times) / n * 1e6, "us/step", fmt="{:.2f}")

    print(f"\ndetection delay in steps after the event, {args.seeds} seeds, noise {NOISES} (100k-step runs):")
    print(f"  {'kind':12s} {'found':>7s} {'median':>8s} {'max':>8s}")
    for kind, (kw, sev) in EVENTS.items():
        delays = []
        for seed in range(args.seeds):
            noise = NOISES[seed % 4]
            kw2 = dict(kw)
            if kind == "spike":
                kw2["spike_size"] = max(4.0, float(np.expm1(8 * noise)))
            schedule = "constant" if kind in ("plateau", "lr_too_low") else ("warmup_cosine" if seed % 2 else "step")
            c = generate(100_000, seed=seed, noise=noise, schedule=schedule, **kw2)
            d = Diagnoser()
            for b in c.batches(16384):
                d.feed(b)
            s = first(d, kind, sev)
            if s is not None:
                delays.append(s - c.events[kind])
        if delays:
            print(f"  {kind:12s} {len(delays):3d}/{args.seeds:<3d} {statistics.median(delays):8.0f} {max(delays):8.0f}")
            fig.add(f"{kind}: found in {len(delays)}/{args.seeds} runs, median delay", statistics.median(delays),
                    "steps", fmt="{:.0f}")
        else:
            fig.add(f"{kind}: found in 0/{args.seeds} runs", 0, "")
            print(f"  {kind:12s}   0/{args.seeds}")

    warn = info = 0
    for seed in range(args.seeds):
        c = generate(100_000, seed=seed, **healthy_params(seed))
        d = Diagnoser()
        for b in c.batches(16384):
            d.feed(b)
        warn += sum(1 for a in d.alerts if a["state"] != "resolved" and a["severity"] != "info")
        info += sum(1 for a in d.alerts if a["state"] == "open" and a["severity"] == "info")
    print(f"\nhealthy runs: {args.seeds} x 100k steps (noise 0.02-0.4, 4 schedules, evals every 100-5000 steps)")
    print(f"  warnings or critical per 100k steps: {warn / args.seeds:.3f}   info notes per 100k steps: {info / args.seeds:.2f}")
    fig.add("false warnings on healthy runs", warn / args.seeds, "per 100k steps", fmt="{:.3f}")
    fig.write(args.json)


if __name__ == "__main__":
    main()
