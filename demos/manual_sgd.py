"""Steering a script that has no torch optimizer: updates written by hand, with one lossmon line.

    lossmon run demos/manual_sgd.py          # the live UI; ] and [ change the LR used below
    python demos/manual_sgd.py               # plain python: a recorded run `lossmon watch` steers

A small character-level bigram model trained on this file's own text by plain SGD on `p.data`,
the way many research scripts and tutorials do it (no optimizer for lossmon to watch). The one
lossmon line is `lossmon.lr(lr)`: the LR to use now, the script's own value times lossmon's
multiplier, so the LR keys act from the next step. The loss comes from backward() (lossmon run's
capture) or from the `lossmon.log` call at the end of the loop (plain python).
"""

import argparse
from pathlib import Path

import torch
import torch.nn.functional as F

import lossmon

parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
parser.add_argument("--steps", type=int, default=3000)
parser.add_argument("--lr", type=float, default=5.0)
args = parser.parse_args()

text = Path(__file__).read_text()
chars = sorted(set(text))
idx = torch.tensor([chars.index(c) for c in text])
split = int(0.9 * len(idx))
train, val = idx[:split], idx[split:]
torch.manual_seed(0)
W = torch.zeros(len(chars), len(chars), requires_grad=True)
lr = args.lr

for step in range(args.steps):
    i = torch.randint(0, len(train) - 1, (256,))
    loss = F.cross_entropy(W[train[i]], train[i + 1])
    W.grad = None
    loss.backward()
    with torch.no_grad():
        W -= lossmon.lr(lr) * W.grad  # the one line: lossmon's LR keys act here
    if step == args.steps // 2:
        lr /= 2  # the script's own schedule; lossmon's multiplier applies on top of it
    if step % 100 == 0:
        with torch.no_grad():
            val_loss = F.cross_entropy(W[val[:-1]], val[1:]).item()
        print(f"step {step}: train loss {loss.item():.3f}, val loss {val_loss:.3f}")
    lossmon.log(loss=loss)
