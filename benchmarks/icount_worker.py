"""One arm of bench_icount.py: train the demo-sized MLP for N steps, bare or monitored.

The pump is driven by step count here, not by its 0.1 s timer: under valgrind a step takes ~50x
longer, so a timer would tick ~50x more often per step than in a real run and inflate the per-tick
share. ROWS_PER_TICK is what the timer collects natively at this model's ~750 steps/s; the
diagnosis batch is likewise one second's worth of native steps."""

import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402
from torch import nn  # noqa: E402

from lossmon.demos import IN_DIM, make_data  # noqa: E402
from lossmon.diagnosis.live import TickBuffer  # noqa: E402
from lossmon.session import Session  # noqa: E402

ROWS_PER_TICK = 75
NATIVE_STEPS_PER_S = 750  # rows (x2 points: loss, lr) the diagnosis batch holds natively


def main() -> None:
    mode, n = sys.argv[1], int(sys.argv[2])
    torch.set_num_threads(1)
    x, y = make_data(4096, 0.2, seed=0)
    g = torch.Generator().manual_seed(0)
    batches = [torch.randint(0, len(x), (64,), generator=g) for _ in range(n)]
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(IN_DIM, 128), nn.ReLU(), nn.Linear(128, 128), nn.ReLU(), nn.Linear(128, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    with tempfile.TemporaryDirectory() as tmp:
        session = Session("icount", Path(tmp) / "run")  # both arms pay the same set-up
        session.pump._halt.set()  # stop the timer thread; ticks are driven below
        session.pump._thread.join()
        if mode == "monitored":
            session.run.watch(opt)
            for sub in session.pump.subscribers:  # the detectors get a batch per second of native time
                if isinstance(sub, TickBuffer):
                    sub.interval, sub.max_points = float("inf"), 2 * NATIVE_STEPS_PER_S
        for i, idx in enumerate(batches, 1):
            loss = nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if mode == "monitored":
                session.run.log(loss=loss)
                if i % ROWS_PER_TICK == 0:
                    session.pump.tick()
        session.close("finished", 0)


if __name__ == "__main__":
    main()
