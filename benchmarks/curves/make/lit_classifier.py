"""A Lightning example of the usual shape: a LightningModule (an MLP classifier), a LightningDataModule
reading MNIST-format idx files, a Trainer with a CSVLogger writing metrics.csv.

    python lit_classifier.py --data /tmp/work/real/examples/data/MNIST/raw --out /tmp/lit --lr 0.1

The data here is the MNIST-format stand-in made by /tmp/work/real/make_data/make_mnist.py (10 stroke
templates + noise, 3000 train / 500 test); any MNIST raw folder works.
"""

import argparse
import os

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from lightning.pytorch.loggers import CSVLogger
from torch import nn
from torch.utils.data import DataLoader, TensorDataset


def read_idx(path):
    with open(path, "rb") as f:
        data = f.read()
    ndim = data[3]
    shape = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(shape)


class IdxDataModule(L.LightningDataModule):
    def __init__(self, root, batch_size=64, subset=0, repeat=0):
        super().__init__()
        self.root, self.batch_size, self.subset, self.repeat = root, batch_size, subset, repeat

    def setup(self, stage=None):
        def load(prefix):
            x = read_idx(os.path.join(self.root, f"{prefix}-images-idx3-ubyte")).astype(np.float32) / 255.0
            y = read_idx(os.path.join(self.root, f"{prefix}-labels-idx1-ubyte")).astype(np.int64)
            x = (x - 0.1307) / 0.3081
            return TensorDataset(torch.from_numpy(x.reshape(len(x), -1)), torch.from_numpy(y))
        self.train_set, self.val_set = load("train"), load("t10k")
        if self.subset:
            self.train_set = torch.utils.data.Subset(self.train_set, range(self.subset))

    def train_dataloader(self):
        if self.repeat:  # full-batch gradient descent: each batch is the whole train set, `repeat` steps an epoch
            n = len(self.train_set)
            return DataLoader(torch.utils.data.ConcatDataset([self.train_set] * self.repeat), batch_size=n)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True)

    def val_dataloader(self):
        return DataLoader(self.val_set, batch_size=500)


class LitClassifier(L.LightningModule):
    def __init__(self, hidden=128, lr=0.1, momentum=0.0, weight_decay=0.0):
        super().__init__()
        self.save_hyperparameters()
        if hidden:
            self.net = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU(),
                                     nn.Linear(hidden, 10))
        else:  # --hidden 0: multinomial logistic regression
            self.net = nn.Linear(784, 10)

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        x, y = batch
        loss = F.cross_entropy(self(x), y)
        self.log("train_loss", loss, on_step=True, on_epoch=False)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        self.log("val_loss", F.cross_entropy(logits, y), on_epoch=True)
        self.log("val_acc", (logits.argmax(-1) == y).float().mean(), on_epoch=True)

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.hparams.lr, momentum=self.hparams.momentum,
                               weight_decay=self.hparams.weight_decay)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/tmp/work/real/examples/data/MNIST/raw")
    ap.add_argument("--out", default="lit_logs")
    ap.add_argument("--lr", type=float, default=0.1)
    ap.add_argument("--momentum", type=float, default=0.0)
    ap.add_argument("--hidden", type=int, default=128, help="0: a linear model (logistic regression)")
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--subset", type=int, default=0, help="train on the first N examples only")
    ap.add_argument("--epochs", type=int, default=5)
    ap.add_argument("--full-batch-repeat", type=int, default=0,
                    help="full-batch GD: each step sees the whole train set, N steps per epoch")
    ap.add_argument("--log-every", type=int, default=1)
    ap.add_argument("--val-every", type=int, default=1, help="validate every N epochs")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    L.seed_everything(args.seed)
    model = LitClassifier(hidden=args.hidden, lr=args.lr, momentum=args.momentum)
    dm = IdxDataModule(args.data, batch_size=args.batch_size, subset=args.subset, repeat=args.full_batch_repeat)
    trainer = L.Trainer(max_epochs=args.epochs, accelerator="cpu", devices=1, logger=CSVLogger(args.out, name="lit"),
                        log_every_n_steps=args.log_every, enable_checkpointing=False, enable_progress_bar=False,
                        enable_model_summary=False, check_val_every_n_epoch=args.val_every)
    trainer.fit(model, datamodule=dm)


if __name__ == "__main__":
    main()
