"""Lightning-shaped: a plain `Trainer.fit` (no lossmon integration), its own tqdm bar with
val_loss in the postfix, a closure-driven optimizer step, validation under no_grad."""

import lightning as L
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader, TensorDataset


class Regressor(L.LightningModule):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(8, 1)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.mse_loss(self.layer(x), y)
        self.log("train_loss", loss, prog_bar=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        self.log("val_loss", F.mse_loss(self.layer(x), y), prog_bar=True)

    def configure_optimizers(self):
        return torch.optim.Adam(self.parameters(), lr=1e-2)


if __name__ == "__main__":
    torch.manual_seed(0)
    w = torch.randn(8, 1)
    x = torch.randn(640, 8)
    y = x @ w
    train = DataLoader(TensorDataset(x[:512], y[:512]), batch_size=32)
    val = DataLoader(TensorDataset(x[512:], y[512:]), batch_size=32)
    trainer = L.Trainer(max_epochs=5, accelerator="cpu", logger=False, enable_checkpointing=False)
    trainer.fit(Regressor(), train, val)
