"""Regenerate docs/watch.svg: `lossmon watch` on a TensorBoard log directory, 160x48, read-only.

    .venv/bin/python demos/watch_screenshot.py

Writes a TensorBoard run with torch's SummaryWriter (tags `Loss/train`, `Loss/val`, `lr`, as in
PyTorch's TensorBoard tutorial): the train loss keeps falling while the validation loss turns up
after step ~1500 and the LR is cut at 2000. Then shows it headless in the watch view.
"""

from __future__ import annotations

import asyncio
import math
import random
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def write_log(logdir: Path, steps: int = 3000) -> None:
    from torch.utils.tensorboard import SummaryWriter

    rng = random.Random(0)
    w = SummaryWriter(str(logdir))
    for i in range(1, steps + 1):
        lr = 1e-3 if i < 2000 else 3e-4
        w.add_scalar("Loss/train", 2.0 / i ** 0.3 * math.exp(rng.gauss(0, 0.12)), i)
        w.add_scalar("lr", lr, i)
        if i % 100 == 0:
            w.add_scalar("Loss/val", 2.0 / i ** 0.25 + 0.00025 * max(0, i - 1500) + rng.gauss(0, 0.004), i)
    w.close()


async def shoot(out: Path) -> None:
    from screenshot import save  # demos/screenshot.py, beside this file

    from lossmon.sources import open_source
    from lossmon.views.tui.app import LossmonApp
    from lossmon.watched import WatchedRun

    with tempfile.TemporaryDirectory() as tmp:
        logdir = Path(tmp) / "tb_logs" / "mnist-mlp"
        write_log(logdir)
        watched = WatchedRun(open_source(logdir)).start()
        app = LossmonApp(watched, watched, capture_output=False, ui_budget=0)
        async with app.run_test(size=(160, 48)) as pilot:
            while not (watched.loaded and app.state == "read-only" and app.feed):
                await pilot.pause(0.05)
            await pilot.pause(0.5)
            await save(app, pilot, out)
        watched.close()


def main() -> None:
    out = ROOT / "docs" / "watch.svg"
    asyncio.run(shoot(out))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
