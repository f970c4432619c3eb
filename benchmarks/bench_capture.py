"""Per-step cost of `lossmon run`'s zero-code capture, side by side with the bare loop and with
the explicit API (`run.watch(opt)` + `run.log(loss=loss)`), in interleaved blocks.

The step is the demo-sized MLP (forward, cross-entropy, backward, AdamW step) on one torch thread,
or a bigger one with `--wide`. Both recording variants have a pump running, as in a real run, so
the difference between them is capture's own work: the wrapped backward, the wrapped loss
function, the optimizer-step hook, and the log() it makes. The eval side is timed per loss call
under no_grad (the wrapper's weighing of the batch).

    python benchmarks/bench_capture.py [--steps N] [--rounds R] [--wide | --tiny] [--json PATH]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from figures import Figures  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from torch import nn  # noqa: E402

from lossmon.capture import Capture  # noqa: E402
from lossmon.recording.pump import Pump  # noqa: E402
from lossmon.training.run import Run  # noqa: E402


def make(wide):
    torch.manual_seed(0)
    if wide == "tiny":  # a step of tens of microseconds: capture's own cost stands out
        model = nn.Linear(32, 10)
        return model, torch.optim.SGD(model.parameters(), lr=1e-3)
    w = 512 if wide else 128
    model = nn.Sequential(nn.Linear(32, w), nn.ReLU(), nn.Linear(w, w), nn.ReLU(), nn.Linear(w, 10))
    return model, torch.optim.AdamW(model.parameters(), lr=1e-3)


def block(variant: str, steps: int, wide: bool, data) -> float:
    """Seconds per step for one block of `steps` steps."""
    run = pump = cap = None
    if variant != "bare":
        run = Run("bench")
        pump = Pump(run, None).start()
        if variant == "capture":
            cap = run.capture = Capture(run).install()
    try:
        model, opt = make(wide)  # made inside the block: capture watches optimizers as they are made
        if variant == "api":
            run.watch(opt)
        x, y = data
        for i in range(10):  # warm up
            F.cross_entropy(model(x[i]), y[i]).backward()
            opt.step()
            opt.zero_grad()
        t = time.perf_counter()
        for i in range(steps):
            loss = F.cross_entropy(model(x[i % 64]), y[i % 64])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if variant == "api":
                run.log(loss=loss)
        return (time.perf_counter() - t) / steps
    finally:
        if cap is not None:
            cap.uninstall()
        if pump is not None:
            pump.stop()


def eval_calls(calls: int, captured: bool) -> float:
    """Seconds per F.cross_entropy call under no_grad, with or without capture's wrapper."""
    logits, target = torch.randn(64, 10), torch.randint(0, 10, (64,))
    cap = Capture(Run("bench")).install() if captured else None
    try:
        with torch.no_grad():
            t = time.perf_counter()
            for _ in range(calls):
                F.cross_entropy(logits, target)
            return (time.perf_counter() - t) / calls
    finally:
        if cap is not None:
            cap.finish()
            cap.uninstall()


def spread(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=4) if len(xs) >= 4 else [min(xs), 0, max(xs)]
    return f"IQR {q[0] * 1e6:.1f}-{q[2] * 1e6:.1f}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--rounds", type=int, default=15)
    ap.add_argument("--wide", action="store_true", help="a 512-wide MLP instead of the demo's 128")
    ap.add_argument("--tiny", action="store_true", help="one Linear layer and SGD: capture's own cost in us")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    g = torch.Generator().manual_seed(1)
    data = (torch.randn(64, 32, 32, generator=g), torch.randint(0, 10, (64, 32), generator=g))
    size = "tiny" if args.tiny else args.wide
    variants = ["bare", "api", "capture"]
    times: dict[str, list[float]] = {v: [] for v in variants}
    ratios: dict[str, list[float]] = {"api": [], "capture": []}
    for r in range(args.rounds):
        order = variants[r % 3:] + variants[:r % 3]  # each variant goes first as often as the others
        got = {v: block(v, args.steps, size, data) for v in order}
        for v in variants:
            times[v].append(got[v])
        for v in ratios:
            ratios[v].append(got["bare"] / got[v])
    model = "one Linear(32, 10), SGD" if args.tiny else f"{'512' if args.wide else '128'}-wide MLP, AdamW"
    print(f"capture cost per step ({model}, {args.threads} thread(s), "
          f"{args.rounds} rounds x {args.steps} steps, interleaved)")
    bare = statistics.median(times["bare"])
    fig = Figures()
    for v in variants:
        med = statistics.median(times[v])
        extra = "" if v == "bare" else (f"  +{(med - bare) * 1e6:.1f} us/step; speed vs bare: median "
                                        f"{statistics.median(ratios[v]):.3f} (min {min(ratios[v]):.3f}, "
                                        f"max {max(ratios[v]):.3f})")
        print(f"  {v:8s} {med * 1e6:8.1f} us/step ({spread(times[v])}){extra}")
        if v != "bare":
            fig.add(f"{'capture' if v == 'capture' else 'run.log + watch'}: added per step", (med - bare) * 1e6,
                    "us/step", fmt="{:.1f}")
    e_bare = statistics.median(eval_calls(2000, False) for _ in range(5))
    e_cap = statistics.median(eval_calls(2000, True) for _ in range(5))
    print(f"  eval: F.cross_entropy under no_grad {e_bare * 1e6:.1f} us/call bare, {e_cap * 1e6:.1f} us/call"
          f" captured (+{(e_cap - e_bare) * 1e6:.1f} us)")
    fig.add("capture: added per no-grad loss call", (e_cap - e_bare) * 1e6, "us/call", fmt="{:.1f}")
    fig.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
