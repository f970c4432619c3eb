"""Regenerate docs/spike-recovery.svg: the spike-recovery demo's curve after a rollback, 160x48.

    .venv/bin/python demos/rollback_screenshot.py [--out docs/spike-recovery.svg]

It trains the demo's model on the demo's batch stream (lossmon/demo_spike.py) by hand, the way
the rollback does it -- a copy of the model and optimizer every 100 steps, the bad batches from
1500 on, a rollback at step 1560 to the copy from step 1500 with 200 batches skipped -- and logs
what a run would log (points, the rollback event, the detectors' alerts) into a run's store, so
the picture is made without a terminal or a live job. The faint stretch is the abandoned branch.
"""

from __future__ import annotations

import argparse
import asyncio
import copy
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

ROLLBACK_AT, SKIP, TOTAL = 1560, 200, 4000


def train_with_a_rollback(run) -> None:
    import torch
    from torch import nn

    from lossmon.demo_spike import BatchStream
    from lossmon.demos import IN_DIM, make_data
    from lossmon.diagnosis import Diagnoser

    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = make_data(16384, 0.2, 0)
    x_val, y_val = make_data(2048, 0.2, 10_000)
    model = nn.Sequential(nn.Linear(IN_DIM, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    diag = Diagnoser(sink=lambda a: run.store.append_events([{**a, "time": time.time()}]))
    stream = iter(BatchStream(x, y, 64, 0))
    snaps: dict[int, tuple] = {}
    step, batch, rows, events, rolled = 0, 0, {"loss": ([], []), "val_loss": ([], [])}, [], False

    def flush() -> None:
        points = {k: v for k, v in rows.items() if v[0]}
        run.store.append_points(points)
        run.store.append_events(events)
        diag.feed(points, list(events))
        for v in rows.values():
            v[0].clear()
            v[1].clear()
        events.clear()

    while step < TOTAL:
        if step % 100 == 0:
            snaps[step] = (copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()), batch)
        if step == ROLLBACK_AT and not rolled:
            to = max(s for s in snaps if s <= 1500)
            m, o, at = snaps[to]
            model.load_state_dict(m)
            opt.load_state_dict(o)
            for _ in range(batch, at + SKIP):  # the stream is at `batch`: on to the snapshot's position + SKIP
                next(stream)
            events.append({"event": "rollback", "step": to, "time": time.time(), "source": "key", "applied": True,
                           "from": step, "to": to, "skipped": SKIP, "batch": at + SKIP})
            flush()
            step, batch, rolled = to, at + SKIP, True
        xb, yb = next(stream)
        batch += 1
        loss = nn.functional.mse_loss(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        opt.step()
        step += 1
        rows["loss"][0].append(step)
        rows["loss"][1].append(float(loss.detach()))
        if step % 100 == 0:
            with torch.no_grad():
                rows["val_loss"][0].append(step)
                rows["val_loss"][1].append(float(nn.functional.mse_loss(model(x_val), y_val)))
        if step % 50 == 0:
            flush()
    flush()


async def shoot(out: Path) -> None:
    from lossmon.training.run import Run
    from lossmon.views.tui.app import LossmonApp

    class Shown(Run):
        """The run as the live view saw it: keeping snapshots (so its alerts name the key r)."""

        snapshotting = True

    run = Shown("spike-recovery")
    run.total_steps = TOTAL
    train_with_a_rollback(run)
    app = LossmonApp(run, clock=lambda: 60.0, started=0.0, ui_budget=0)
    async with app.run_test(size=(160, 48)) as pilot:
        app.tick()
        app.redraw_now()
        await pilot.pause(0.3)
        app.save_screenshot(str(out.name), path=str(out.parent))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default=str(ROOT / "docs" / "spike-recovery.svg"))
    args = ap.parse_args()
    asyncio.run(shoot(Path(args.out)))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
