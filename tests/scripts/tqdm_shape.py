import argparse

import torch
import torch.nn.functional as F
from tqdm import tqdm

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=2)
args = parser.parse_args()
torch.manual_seed(0)
x = torch.randn(640, 6)
y = x @ torch.randn(6, 1)
model = torch.nn.Linear(6, 1)
opt = torch.optim.SGD(model.parameters(), lr=0.05)
for epoch in range(args.epochs):
    bar = tqdm(range(0, 512, 16), desc=f"epoch {epoch}")
    for i in bar:
        loss = F.mse_loss(model(x[i:i + 16]), y[i:i + 16])
        opt.zero_grad()
        loss.backward()
        opt.step()
        bar.set_postfix(loss=f"{loss.item():.3f}")
    with torch.no_grad():
        val = sum(F.mse_loss(model(x[j:j + 16]), y[j:j + 16]).item() for j in tqdm(range(512, 640, 16), leave=False))
    tqdm.write(f"epoch {epoch} done")
