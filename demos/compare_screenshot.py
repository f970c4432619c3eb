"""Regenerate docs/compare.svg: `lossmon compare` on three small recorded runs that differ only in
their LR, 160x48.

    .venv/bin/python demos/compare_screenshot.py

Trains the same tiny MLP on the same synthetic regression data three times with SGD at LR 0.3,
0.1 and 0.03 (a few hundred steps each, a second or two), each under `lossmon.run(...,
config_values=...)` with its argparse-like config, then shows the three run directories in the
comparison view (its table: the config key that differs, `lr`, gets a column; `batch` does not).
"""

from __future__ import annotations

import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

LRS = (0.3, 0.1, 0.03)


def record(root: Path, lr: float, steps: int = 400) -> Path:
    import torch

    import lossmon

    torch.manual_seed(0)
    x = torch.randn(512, 16)
    y = (x[:, :4].sum(dim=1, keepdim=True)).tanh() + 0.1 * torch.randn(512, 1)
    xv, yv = x[448:], y[448:]
    x, y = x[:448], y[:448]
    model = torch.nn.Sequential(torch.nn.Linear(16, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
    opt = torch.optim.SGD(model.parameters(), lr=lr)

    def train(run):
        run.watch(opt)
        g = torch.Generator().manual_seed(1)
        for step in range(1, steps + 1):
            idx = torch.randint(0, len(x), (32,), generator=g)
            loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            run.log(loss=loss)
            if step % 25 == 0:
                with torch.no_grad():
                    run.log(val_loss=torch.nn.functional.mse_loss(model(xv), yv))

    run_dir = root / f"mlp-lr{lr:g}"
    lossmon.run(train, name=f"mlp-lr{lr:g}", run_dir=run_dir, ui="plain",
                config_values={"lr": lr, "batch": 32, "hidden": 64, "optimizer": "sgd"})
    return run_dir


async def shoot(out: Path) -> None:
    from lossmon.compare.runs import load, open_runs
    from lossmon.views.tui.compare import CompareApp

    with tempfile.TemporaryDirectory() as tmp:
        dirs = [record(Path(tmp), lr) for lr in LRS]
        runs = open_runs(dirs)
        for w in runs:
            load(w)
        app = CompareApp(runs)
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(0.3)
            app.redraw()
            await pilot.pause(0.2)
            app.save_screenshot(str(out.name), path=str(out.parent))


def main() -> None:
    import torch

    torch.set_num_threads(1)
    out = ROOT / "docs" / "compare.svg"
    asyncio.run(shoot(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
