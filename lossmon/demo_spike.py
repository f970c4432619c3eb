"""The `spike-recovery` demo: bad batches make the loss spike; a rollback (key r) recovers it.

A deterministic stream of batches (batch i is always the same data) in which batches BAD hold
corrupted labels (scaled and shifted, as a broken shard would): AdamW takes a few huge steps on
them, its second-moment estimates inflate, and the run then crawls at a loss well above where it
would have been for thousands of steps. With snapshots on (`run.snapshot_every`) and the batches
read through `run.batches(...)`, pressing r restores the snapshot before the spike and skips the
batches after it, and the run goes on below the damaged curve.
"""

from __future__ import annotations

import time
from typing import Callable

from lossmon.training.run import Run

BAD = range(1500, 1540)  # the corrupted batches, by position in the stream
SNAPSHOT_EVERY, KEEP = 100, 40  # every 100 steps, the last 40: the whole default run stays reachable
STEP_DELAY_S = 0.004  # paced so that a person sees the spike and has time to press r


class BatchStream:
    """Batches of (x, y) in a fixed order, epoch after epoch, forever; `bad` positions corrupted."""

    def __init__(self, x, y, batch: int, seed: int, bad=BAD) -> None:
        self.x, self.y, self.batch, self.seed, self.bad = x, y, batch, seed, set(bad)

    def __iter__(self):
        import torch

        n = len(self.x)
        per_epoch = max(1, n // self.batch)
        i = 0
        while True:
            epoch, j = divmod(i, per_epoch)
            if j == 0:
                order = torch.randperm(n, generator=torch.Generator().manual_seed(self.seed + epoch))
            idx = order[j * self.batch:(j + 1) * self.batch]
            xb, yb = self.x[idx], self.y[idx]
            if i in self.bad:
                yb = yb * 30.0 + 20.0
            yield xb, yb
            i += 1


def training_function(make_data: Callable, in_dim: int, steps: int = 4000, seed: int = 0,
                      delay: float = STEP_DELAY_S) -> Callable[[Run], None]:
    """The demo's training function, ready for `lossmon.run()`; the data is the other demos'
    (lossmon/demos.py hands over its make_data and input width)."""

    def spike_recovery(run: Run) -> None:
        import torch
        from torch import nn

        torch.manual_seed(seed)
        x, y = make_data(16384, 0.2, seed)
        x_val, y_val = make_data(2048, 0.2, seed + 10_000)
        model = nn.Sequential(nn.Linear(in_dim, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
        opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
        run.watch(opt)
        run.total_steps = steps
        run.snapshot_every(SNAPSHOT_EVERY, keep=KEEP)  # the model and optimizer, in memory
        for xb, yb in run.batches(BatchStream(x, y, 64, seed)):
            loss = nn.functional.mse_loss(model(xb), yb)
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.log(loss=loss)
            if run.step % 100 == 0:
                with torch.no_grad():
                    run.log(val_loss=nn.functional.mse_loss(model(x_val), y_val))
            if run.should_stop or run.step >= steps:
                return
            if delay:
                time.sleep(delay)

    return spike_recovery
