"""Regenerate docs/screenshot.svg: the overfit demo under the live UI, mid-run, 160x48.

    .venv/bin/python demos/screenshot.py [--at-step 3000] [--lr-key-at 1500]

Runs headless (no terminal needed); presses `]` once at --lr-key-at so the LR mark shows.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


async def save(app, pilot, out: Path) -> None:
    """Draw the numbers and the plot as they are now, let them land, write the SVG."""
    app.tick()
    app.redraw_now()
    await pilot.pause(0.2)
    app.save_screenshot(str(out.name), path=str(out.parent))


async def shoot(at_step: int, lr_key_at: int, out: Path) -> None:
    import torch

    from lossmon.demos import training_function
    from lossmon.session import Session
    from lossmon.session.lifecycle import LocalJob
    from lossmon.views.tui.app import LossmonApp

    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("overfit", Path(tmp) / "run")
        run = session.run
        app = LossmonApp(run, LocalJob(run, training_function("overfit")), started=session.started, ui_budget=0)
        async with app.run_test(size=(160, 48)) as pilot:
            pressed = False
            while run.store.last_step < at_step:
                if not pressed and run.store.last_step >= lr_key_at:
                    await pilot.press("right_square_bracket")
                    pressed = True
                await pilot.pause(0.05)
            await save(app, pilot, out)
            run.stop()
        session.close("stopped", 0)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--at-step", type=int, default=3000)
    ap.add_argument("--lr-key-at", type=int, default=1500)
    ap.add_argument("--out", default=str(ROOT / "docs" / "screenshot.svg"))
    args = ap.parse_args()
    asyncio.run(shoot(args.at_step, args.lr_key_at, Path(args.out)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
