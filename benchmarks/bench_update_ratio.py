"""The update-to-weight ratio: what it costs per step, and how far apart a sane and a tiny LR put it.

1. Overhead: a training step (forward, backward, optimizer step, log) with `update_ratio` on vs
   off, two copies of the same model, in interleaved blocks (the order alternates), 1 thread. For
   a tiny MLP (~0.2 ms a step) and a wider one (~20 ms a step). Reports the median per-step time
   of each, the spread of the blocks (min-max), the median of the per-block differences as a % of
   the step, and what the meter itself accounts (hook cost / (K x step interval)) with its K.
2. Separation: the median r over a run of the same models at a sane LR and at LR x0.01, SGD and
   Adam -- the gap diagnosis can rely on (Karpathy: ~-3 healthy, below ~-4.5 too small).

    python benchmarks/bench_update_ratio.py [--blocks B] [--block-s S] [--quick] [--json PATH]
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
from torch import nn  # noqa: E402

from figures import Figures  # noqa: E402
from lossmon.recording.pump import resolve_device_values  # noqa: E402
from lossmon.training.run import Run  # noqa: E402
from lossmon.training.update_ratio import RatioMeter  # noqa: E402

MODELS = {
    # name: (widths, batch)
    "tiny MLP": ((16, 64, 64, 1), 32),
    "wide MLP": ((256, 1024, 1024, 1), 128),
}


def make_model(widths, seed=0):
    torch.manual_seed(seed)
    layers = []
    for a, b in zip(widths[:-1], widths[1:]):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class Trainer:
    """One model, its optimizer and a Run watching it; `steps(n)` trains n steps."""

    def __init__(self, widths, batch, opt="sgd", lr=None, ratio=True, seed=0):
        self.model = make_model(widths, seed)
        params = self.model.parameters()
        if opt == "sgd":
            self.opt = torch.optim.SGD(params, lr=0.01 if lr is None else lr, momentum=0.9)
        else:
            self.opt = torch.optim.Adam(params, lr=1e-3 if lr is None else lr)
        self.run = Run("bench", update_ratio=ratio)
        self.run.watch(self.opt)
        g = torch.Generator().manual_seed(seed)
        teacher = make_model(widths, seed + 1)
        self.data = []  # a pool of noisy minibatches: the loss has a floor, as real training's has
        with torch.no_grad():
            for _ in range(16):
                x = torch.randn(batch, widths[0], generator=g)
                y = teacher(x)
                self.data.append((x, y + 0.5 * y.std() * torch.randn(y.shape, generator=g)))
        self.i = 0
        self.rows: list[dict] = []

    def steps(self, n: int, keep: bool = False) -> None:
        model, opt, run, data = self.model, self.opt, self.run, self.data
        for _ in range(n):
            x, y = data[self.i % 16]
            self.i += 1
            loss = nn.functional.mse_loss(model(x), y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            run.log(loss=loss.detach())
        items = run.drain()  # the pump's part, outside the timed loop's per-step path
        if keep:
            rows = [r for r in items if "event" not in r]
            resolve_device_values(rows)
            self.rows += rows

    def meter(self) -> RatioMeter | None:
        for hook in self.opt._optimizer_step_pre_hooks.values():
            for cell in hook.__closure__ or ():
                if isinstance(cell.cell_contents, RatioMeter):
                    return cell.cell_contents
        return None


def time_block(t: Trainer, n: int) -> float:
    t0 = time.perf_counter()
    t.steps(n)
    return (time.perf_counter() - t0) / n


def overhead(name: str, blocks: int, block_s: float, fig: Figures) -> None:
    widths, batch = MODELS[name]
    on, off = Trainer(widths, batch, ratio=True), Trainer(widths, batch, ratio=False)
    step_s = time_block(off, 5)
    n = max(3, int(block_s / step_s))
    warm = max(3 * n, 120)  # K settles within ~100 steps (it grows x4 per measurement)
    on.steps(warm)
    off.steps(warm)
    times = {"on": [], "off": []}
    diffs = []
    for b in range(blocks):
        order = (("on", on), ("off", off)) if b % 2 == 0 else (("off", off), ("on", on))
        got = {label: time_block(t, n) for label, t in order}
        for label, v in got.items():
            times[label].append(v)
        diffs.append((got["on"] - got["off"]) / got["off"] * 100)
    m = on.meter()
    med_on, med_off = statistics.median(times["on"]), statistics.median(times["off"])
    d = statistics.median(diffs)
    q = statistics.quantiles(diffs, n=4) if len(diffs) >= 4 else [min(diffs), d, max(diffs)]
    accounted = m.cost / (m.k * m.interval) * 100 if m and m.cost and m.interval else float("nan")
    print(f"   {name:9s} {n} steps x {blocks} blocks each")
    print(f"     off {med_off * 1e3:8.3f} ms/step  (blocks {min(times['off']) * 1e3:.3f}-{max(times['off']) * 1e3:.3f})")
    print(f"     on  {med_on * 1e3:8.3f} ms/step  (blocks {min(times['on']) * 1e3:.3f}-{max(times['on']) * 1e3:.3f})")
    print(f"     on - off, per block: median {d:+.2f} %  (quartiles {q[0]:+.2f} .. {q[2]:+.2f} %)")
    print(f"     the meter's own account: hook {m.cost * 1e6:.0f} us every K={m.k} steps of "
          f"{m.interval * 1e3:.3f} ms = {accounted:.3f} % of the step")
    fig.add(f"update ratio overhead, {name} ({med_off * 1e3:.2g} ms step), on - off", d, "%", fmt="{:+.2f}")
    fig.add(f"update ratio hook cost / step time, {name} (meter, K={m.k})", accounted, "%", "< 0.5 %",
            accounted < 0.5, fmt="{:.3f}")


def separation(names: list[str], steps: int, fig: Figures) -> None:
    print(f"\n2. r = log10(||dw||/||w||), median over {steps} steps (first group), sane LR vs LR x0.01")
    for name in names:
        widths, batch = MODELS[name]
        for opt, sane in (("sgd", 0.01), ("adam", 1e-3)):
            r = {}
            for label, lr in (("sane", sane), ("x0.01", sane * 0.01)):
                t = Trainer(widths, batch, opt=opt, lr=lr)
                t.steps(steps, keep=True)
                vals = [row["update_ratio"] for row in t.rows if "update_ratio" in row]
                later = vals[len(vals) // 4:] or vals  # past the first steps (Adam's first is lr*sign(g))
                r[label] = statistics.median(later)
                loss = [row["loss"] for row in t.rows]
                print(f"   {name:9s} {opt.upper():4s} lr {lr:<8.3g} r median {r[label]:+.2f}"
                      f"  (min {min(later):+.2f}, max {max(later):+.2f}, {len(vals)} measurements)"
                      f"  loss {loss[0]:.3g} -> {loss[-1]:.3g}")
            fig.add(f"update ratio r, {name}, {opt.upper()} sane LR {sane:g}", r["sane"], "log10", fmt="{:+.2f}")
            fig.add(f"update ratio r, {name}, {opt.upper()} LR x0.01", r["x0.01"], "log10", fmt="{:+.2f}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--blocks", type=int, default=20, help="timed blocks per variant (default 20)")
    ap.add_argument("--block-s", type=float, default=1.0, help="seconds per block (default 1)")
    ap.add_argument("--steps", type=int, default=600, help="steps per run for the r values (default 600)")
    ap.add_argument("--quick", action="store_true", help="tiny sizes, the tiny MLP only: a smoke run")
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    torch.set_num_threads(1)
    fig = Figures()
    models = list(MODELS)
    if args.quick:
        args.blocks, args.block_s, args.steps, models = 2, 0.05, 40, ["tiny MLP"]
    print("1. a training step with update_ratio on vs off (interleaved blocks, 1 thread)")
    for name in models:
        overhead(name, args.blocks, args.block_s, fig)
    separation(models, args.steps, fig)
    fig.write(args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
