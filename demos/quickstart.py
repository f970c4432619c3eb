"""The whole integration in one file: a model, a loop, four lossmon lines.

    python demos/quickstart.py
"""

import torch
from torch import nn

import lossmon


def train(run: lossmon.Run) -> None:
    torch.manual_seed(0)
    x, y = torch.randn(4096, 16), torch.randn(4096, 1)
    y = y * 0.1 + x[:, :1] * 2.0  # a learnable signal plus noise
    x_val, y_val = x[-512:], y[-512:]
    model = nn.Sequential(nn.Linear(16, 64), nn.ReLU(), nn.Linear(64, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=3000)
    run.watch(opt)  # lossmon logs the effective LR and can change it safely under any scheduler
    for step in range(3000):
        idx = torch.randint(0, 3584, (64,))
        loss = nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        run.log(loss=loss)  # float or 0-d tensor; no GPU sync per step
        if step % 100 == 99:
            with torch.no_grad():
                run.log(val_loss=nn.functional.mse_loss(model(x_val), y_val))
        if run.should_stop:  # set by Ctrl+C, SIGTERM, the keys, or run.stop()
            return


if __name__ == "__main__":
    lossmon.run(train, name="quickstart")
