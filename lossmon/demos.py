"""Demo runs: small real PyTorch models on synthetic data, each showing one condition.

The data is a fixed random "teacher" network plus label noise, so every run is deterministic per
seed and needs no download. Each scenario only changes the data size, the model size and the
optimizer; the training loop below is the model of how a script integrates lossmon.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

from lossmon.training.run import Run


@dataclass(frozen=True)
class Scenario:
    name: str
    blurb: str
    n_train: int  # training examples (small + noisy + wide model = overfitting)
    noise: float  # label noise std
    width: int  # hidden units of the student MLP
    optimizer: str  # "adamw" or "sgd"
    lr: float
    steps: int  # default length
    batch: int = 64
    lr_growth: float = 1.0  # per-step LR factor (> 1 drives the "nan" run to divergence)
    eval_every: int = 100


SCENARIOS: dict[str, Scenario] = {s.name: s for s in [
    Scenario("overfit", "a small noisy training set and a wide model: val loss turns up while train keeps falling",
             n_train=512, noise=1.0, width=256, optimizer="adamw", lr=3e-5, steps=4000, batch=32),
    Scenario("healthy", "plenty of data and a sensible LR: both curves fall together",
             n_train=16384, noise=0.2, width=128, optimizer="adamw", lr=3e-3, steps=4000),
    Scenario("lr-high", "SGD with an LR 4x too high: the loss blows up in its first steps and stays erratic; cutting the LR 4x calms it",
             n_train=16384, noise=0.2, width=128, optimizer="sgd", lr=0.08, steps=4000),
    Scenario("lr-low", "an LR 1000x too small: a slow, steady crawl; raising it helps",
             n_train=16384, noise=0.2, width=128, optimizer="sgd", lr=2e-5, steps=6000, batch=256),
    Scenario("nan", "the LR grows every step until the loss overflows to inf and NaN",
             n_train=16384, noise=0.2, width=128, optimizer="sgd", lr=0.01, steps=1500, lr_growth=1.01),
    # its own loop (lossmon/demo_spike.py): snapshots on, batches through run.batches
    Scenario("spike-recovery", "40 bad batches make the loss spike and leave it high; press r to roll back to the"
             " snapshot before it and skip them", n_train=16384, noise=0.2, width=128, optimizer="adamw", lr=3e-3,
             steps=4000),
]}

IN_DIM = 32


def make_data(n: int, noise: float, seed: int):
    """(x, y) from a fixed random teacher MLP, plus Gaussian label noise."""
    import torch

    g = torch.Generator().manual_seed(1234)  # the same teacher for every seed and scenario
    w1 = torch.randn(IN_DIM, 64, generator=g) / math.sqrt(IN_DIM)
    w2 = torch.randn(64, 1, generator=g) / 8.0
    gx = torch.Generator().manual_seed(seed)
    x = torch.randn(n, IN_DIM, generator=gx)
    y = torch.tanh(x @ w1) @ w2 * 3.0 + noise * torch.randn(n, 1, generator=gx)
    return x, y


def training_function(name: str = "overfit", steps: int | None = None, seed: int = 0) -> Callable[[Run], None]:
    """The training function of one scenario, ready for `lossmon.run()`."""
    if name not in SCENARIOS:
        raise ValueError(f"unknown demo {name!r}; choose one of: {', '.join(SCENARIOS)}")
    scn = SCENARIOS[name]
    total = scn.steps if steps is None else steps
    if total < 1:
        raise ValueError("--steps must be at least 1")
    if name == "spike-recovery":
        from lossmon import demo_spike

        return demo_spike.training_function(make_data, IN_DIM, total, seed)

    def train(run: Run) -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        x, y = make_data(scn.n_train, scn.noise, seed)
        x_val, y_val = make_data(2048, scn.noise, seed + 10_000)
        model = nn.Sequential(nn.Linear(IN_DIM, scn.width), nn.ReLU(),
                              nn.Linear(scn.width, scn.width), nn.ReLU(), nn.Linear(scn.width, 1))
        if scn.optimizer == "sgd":
            opt = torch.optim.SGD(model.parameters(), lr=scn.lr, momentum=0.9)
        else:
            opt = torch.optim.AdamW(model.parameters(), lr=scn.lr, weight_decay=0.0)
        sched = torch.optim.lr_scheduler.ExponentialLR(opt, gamma=scn.lr_growth)
        run.watch(opt)  # lossmon logs the effective LR and can change it between steps
        run.total_steps = total

        @run.on_checkpoint
        def save() -> str:
            path = run.dir / f"checkpoint-step{run.step}.pt"
            torch.save({"model": model.state_dict(), "optimizer": opt.state_dict(),
                        "lossmon": run.state_dict()}, path)
            return str(path)

        per_epoch = max(1, scn.n_train // scn.batch)
        gen = torch.Generator().manual_seed(seed)
        for step in range(total):
            i = step % per_epoch
            if i == 0:
                order = torch.randperm(scn.n_train, generator=gen)
            idx = order[i * scn.batch:(i + 1) * scn.batch]
            loss = nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            run.log(loss=loss)  # a 0-d tensor is fine (CUDA ones are copied in batches)
            if (step + 1) % scn.eval_every == 0:
                with torch.no_grad():
                    val = nn.functional.mse_loss(model(x_val), y_val)
                run.log(val_loss=val, epoch=(step + 1) / per_epoch)
            if run.should_stop:
                return

    train.__name__ = name.replace("-", "_")
    return train
