"""A Lightning model under lossmon: one call instead of trainer.fit (needs `lossmon[lightning]`).

    python demos/lightning_demo.py [--steps 3000]

A small MLP on a synthetic regression task, with a cosine schedule Lightning steps every batch;
try ] / [ to change the LR, p to pause, c to checkpoint (saved in the run directory), s to stop.
"""

import argparse

import lightning.pytorch as L
import torch
from torch import nn
from torch.utils.data import DataLoader, TensorDataset

import lossmon.integrations.lightning as lm


class Regressor(L.LightningModule):
    def __init__(self, steps: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
        self.steps = steps

    def training_step(self, batch, batch_idx):
        x, y = batch
        return nn.functional.mse_loss(self.net(x), y)

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", nn.functional.mse_loss(self.net(x), y))

    def configure_optimizers(self):
        opt = torch.optim.AdamW(self.parameters(), lr=3e-3)
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=self.steps)
        return {"optimizer": opt, "lr_scheduler": {"scheduler": sched, "interval": "step"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=3000)
    args = ap.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(1)
    x = torch.randn(4096, 16)
    y = x[:, :1] * 2.0 + torch.randn(4096, 1) * 0.1
    train = DataLoader(TensorDataset(x[:3584], y[:3584]), batch_size=64, shuffle=True)
    val = DataLoader(TensorDataset(x[3584:], y[3584:]), batch_size=256)
    trainer = L.Trainer(max_steps=args.steps, val_check_interval=100, check_val_every_n_epoch=None,
                        accelerator="cpu", logger=False, enable_checkpointing=False,
                        enable_progress_bar=False, enable_model_summary=False)
    lm.fit(trainer, Regressor(args.steps), train, val)


if __name__ == "__main__":
    main()
