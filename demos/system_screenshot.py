"""Regenerate docs/system.svg: the overfit demo under the live UI with the system panel, 160x48.

    .venv/bin/python demos/system_screenshot.py [--at-step 3000] [--out docs/system.svg]

Runs headless, on any machine: the GPU rows come from a scripted NVML (lossmon.system.fake_nvml)
through the real sampler -- gpu0 busy, gpu1 idling with its memory nearly full, so the panel's
warning colour and the gpu_memory alert show -- sampled 5 times a second so a short demo run
fills the sparklines; CPU, RSS and the step time are this process's own.
"""

from __future__ import annotations

import argparse
import asyncio
import math
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def shoot(at_step: int, out: Path) -> None:
    import torch

    from lossmon.demos import training_function
    from lossmon.session import Session
    from lossmon.session.lifecycle import LocalJob
    from lossmon.system.fake_nvml import FakeGpu, FakeNVML
    from lossmon.system.sampler import SystemSampler
    from lossmon.views.tui.app import LossmonApp

    torch.set_num_threads(1)
    boards = [FakeGpu(util=lambda k: 82 + 12 * math.sin(k / 4), used_mb=lambda k: min(52000, 21000 + 900 * k),
                      total_mb=81559, temp=lambda k: 55 + min(15, k / 3), power_w=lambda k: 290 + 20 * math.sin(k / 4)),
              FakeGpu(util=lambda k: 18 + 6 * math.sin(k / 3), used_mb=lambda k: min(79650, 60000 + 1500 * k),
                      total_mb=81559, temp=47.0, power_w=None)]
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("overfit", Path(tmp) / "run", system=False)
        run = session.run
        sampler = SystemSampler(run, interval=0.2, nvml=FakeNVML(boards)).start()
        app = LossmonApp(run, LocalJob(run, training_function("overfit")), started=session.started, ui_budget=0)
        async with app.run_test(size=(160, 48)) as pilot:
            while run.store.last_step < at_step:
                await pilot.pause(0.05)
            app.tick()
            app.redraw_now()
            await pilot.pause(0.3)
            app.save_screenshot(str(out.name), path=str(out.parent))
            run.stop()
        sampler.stop()
        session.close("stopped", 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--at-step", type=int, default=3000)
    ap.add_argument("--out", default=str(ROOT / "docs" / "system.svg"))
    args = ap.parse_args()
    asyncio.run(shoot(args.at_step, Path(args.out)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
