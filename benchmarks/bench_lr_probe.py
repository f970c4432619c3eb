"""The LR probe's verdict against what keeping the factor would really have done.

For each small real model (an MLP on a regression and on a 5-class task, SGD and Adam, LRs from
far too small to unstable, two seeds), four runs from the same seed and the same batches:

- x1: the run as it is;
- kept: LR x2 from the probe's first step on (the counterfactual "keep it");
- probe: `run.probe_lr(2, 200)` through lossmon, judged by the diagnosis (diagnosis/probe.py);
- null: `run.probe_lr(1, 200)`, a probe that changes nothing: any verdict there is a false one.

Truth: the mean loss over the 200 steps after the window, kept / x1: below 0.97 "faster" (x2
was better: the LR was too small), above 1.03 "slower", else "same". Reported: how often the
probe's verdict agrees, is the opposite, or says "no clear difference"; how often the null probe
gives a verdict at all.

    python benchmarks/bench_lr_probe.py [--quick] [--seeds N] [--json PATH]
"""

from __future__ import annotations

import argparse
import sys
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402

from figures import Figures  # noqa: E402
from lossmon.diagnosis import Diagnoser  # noqa: E402
from lossmon.training.run import Run  # noqa: E402

AT, WINDOW, AFTER = 400, 200, 200
CONFIGS = [(kind, opt, lr) for kind in ("regression", "classification")
           for opt, lrs in (("sgd", (0.003, 0.03, 0.3)), ("adam", (1e-4, 1e-3, 1e-2, 3e-2))) for lr in lrs]


def task(kind: str, seed: int):
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(1024, 20, generator=g)
    if kind == "regression":
        y = torch.sin(X @ torch.randn(20, 1, generator=g)) + 0.1 * torch.randn(1024, 1, generator=g)
        return X, y, torch.nn.functional.mse_loss, 1
    y = (X @ torch.randn(20, 5, generator=g) + 0.5 * torch.randn(1024, 5, generator=g)).argmax(1)
    return X, y, torch.nn.functional.cross_entropy, 5


def train(kind: str, opt_name: str, lr: float, seed: int, mode: str):
    """mode: "x1", "kept" (x2 from AT on, by hand), "probe" (probe_lr(2)) or "null" (probe_lr(1)).
    Returns the losses (x1, kept) or the probe's verdict (probe, null)."""
    X, y, crit, out = task(kind, seed)
    torch.manual_seed(seed)
    model = torch.nn.Sequential(torch.nn.Linear(20, 64), torch.nn.Tanh(), torch.nn.Linear(64, out))
    opt = (torch.optim.Adam if opt_name == "adam" else torch.optim.SGD)(model.parameters(), lr=lr)
    run = Run()
    run.watch(opt)
    batches = torch.Generator().manual_seed(seed + 1)
    losses = []
    for i in range(AT + WINDOW + AFTER):
        if i == AT and mode in ("probe", "null"):
            run.probe_lr(2.0 if mode == "probe" else 1.0, WINDOW)
        if i == AT and mode == "kept":
            run.scale_lr(2.0)
        idx = torch.randint(0, 1024, (64,), generator=batches)
        loss = crit(model(X[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        run.log(loss=losses[-1])
    if mode in ("x1", "kept"):
        return np.array(losses)
    items = run.drain()
    rows = [it for it in items if "event" not in it]
    d = Diagnoser()
    d.feed({"loss": ([r["step"] for r in rows], [r["loss"] for r in rows])}, [it for it in items if "event" in it])
    notes = [a for a in d.alerts if a["kind"] == "lr_probe"]
    return notes[0].get("verdict", "none") if notes else "none"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--quick", action="store_true", help="two configurations, one seed: checks the script runs")
    ap.add_argument("--json", help="write the key figures here (benchmarks/run_all.py)")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    configs = [CONFIGS[4], CONFIGS[9]] if args.quick else CONFIGS
    seeds = range(1 if args.quick else args.seeds)
    tally, null = Counter(), Counter()
    print(f"{'task':15s} {'opt':5s} {'lr':>7s} seed  kept/x1  truth   probe   null")
    for kind, opt_name, lr in configs:
        for seed in seeds:
            base = train(kind, opt_name, lr, seed, "x1")
            kept = train(kind, opt_name, lr, seed, "kept")
            after = slice(AT + WINDOW, AT + WINDOW + AFTER)
            ratio = float(np.mean(kept[after]) / np.mean(base[after]))
            if not np.isfinite(ratio):
                truth = "diverged"
            else:
                truth = "faster" if ratio < 0.97 else "slower" if ratio > 1.03 else "same"
            verdict = train(kind, opt_name, lr, seed, "probe")
            nv = train(kind, opt_name, lr, seed, "null")
            if truth != "diverged":
                if verdict == truth:
                    tally["agrees"] += 1
                elif {verdict, truth} == {"faster", "slower"}:
                    tally["opposite"] += 1
                elif verdict in ("faster", "slower"):
                    tally["verdict where there is no difference"] += 1
                elif verdict == "unknown":
                    tally["no verdict (forecast too wide)"] += 1
                else:
                    tally["no clear difference"] += 1
                tally["runs"] += 1
            null[nv] += 1
            print(f"{kind:15s} {opt_name:5s} {lr:7g} {seed:4d}  {ratio:7.3f}  {truth:7s} {verdict:7s} {nv}", flush=True)
    runs = tally["runs"]
    n_null = sum(null.values())
    false_null = null["faster"] + null["slower"]  # "same" and "unknown" are both right for a probe that changes nothing
    print(f"\nprobe x2 on {runs} runs with finite losses: agrees {tally['agrees']}, opposite {tally['opposite']},"
          f" a verdict where keeping x2 made no difference {tally['verdict where there is no difference']},"
          f" no clear difference where there was one {tally['no clear difference']},"
          f" no verdict (the forecast before it too wide) {tally['no verdict (forecast too wide)']}")
    print(f"null probe (x1) on {n_null} runs: a verdict {false_null} times ({dict(null)})")
    fig = Figures()
    fig.add("probe x2: verdict agrees with keeping x2", tally["agrees"], f"of {runs}", fmt="{:.0f}")
    fig.add("probe x2: opposite verdict", tally["opposite"], f"of {runs}", "0", tally["opposite"] == 0, fmt="{:.0f}")
    fig.add("null probe (x1): a verdict (false)", false_null, f"of {n_null}", fmt="{:.0f}")
    if args.quick:
        fig.note("quick run: two configurations, one seed; not a measurement")
    fig.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
