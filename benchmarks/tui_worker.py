"""Child process of bench_tui.py, run with a pty as its terminal. Trains the overfit demo's model
(1 torch thread) in interleaved arms: the bare loop (no lossmon at all), the same loop under plain
mode (`lossmon.run(ui="plain")`, status lines to the pty), under the TUI run headless (the whole app,
nothing drawn to the terminal) and under the TUI in the pty, timed from inside the loop. Results go
to the JSON file named on the command line."""

from __future__ import annotations

import json
import os
import sys
import threading
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from torch import nn  # noqa: E402

from lossmon.demos import IN_DIM, make_data  # noqa: E402
from lossmon.session import Session, run as lossmon_run  # noqa: E402
from lossmon.session.lifecycle import LocalJob  # noqa: E402
from lossmon.views.tui.app import LossmonApp  # noqa: E402

WARMUP_S = 1.5


def thread_cpu_s(native_id: int) -> float:
    """CPU seconds (user + system) one thread of this process has used."""
    fields = Path(f"/proc/self/task/{native_id}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # app start-up and first frames are not part of the steady state


def main() -> None:
    out_path, reps, arm_s = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    latency_s = float(sys.argv[4]) if len(sys.argv) > 4 else 0.0
    torch.set_num_threads(1)
    torch.manual_seed(0)
    x, y = make_data(512, 1.0, seed=0)
    model = nn.Sequential(nn.Linear(IN_DIM, 256), nn.ReLU(), nn.Linear(256, 256), nn.ReLU(), nn.Linear(256, 1))
    opt = torch.optim.AdamW(model.parameters(), lr=3e-5)
    gen = torch.Generator().manual_seed(0)


    def loop(seconds: float, run=None, on_warm=None) -> float:
        """Steps/s of the training loop between WARMUP_S and `seconds`."""
        t_start = time.perf_counter()
        n0 = t0 = None
        step = 0
        while True:
            idx = torch.randint(0, len(x), (32,), generator=gen)
            loss = nn.functional.mse_loss(model(x[idx]), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            if run is not None:
                run.log(loss=loss)
                if step % 100 == 0:
                    run.log(val_loss=loss.detach() * 1.1, epoch=step / 16)
            step += 1
            now = time.perf_counter()
            if t0 is None and now - t_start >= min(WARMUP_S, seconds / 3):
                n0, t0 = step, now
                if on_warm is not None:
                    on_warm()
            if now - t_start >= seconds:
                return (step - n0) / (now - t0)

    results = {"bare": [], "plain": [], "headless": [], "tui": [], "tui_windows": []}
    with tempfile.TemporaryDirectory() as tmp:
        def plain_arm(i: int, seconds: float) -> float:
            box = {}

            def train(run):
                run.watch(opt)
                box["rate"] = loop(seconds, run)
                run._lr.unwatch_all()

            lossmon_run(train, run_dir=Path(tmp) / f"plain{i}", ui="plain")
            return box["rate"]

        def tui_arm(i: int, seconds: float, headless: bool = False, preload: int = 0) -> float:
            session = Session("bench", Path(tmp) / f"run{i}{'h' if headless else ''}")
            box = {}
            if preload:  # a long run's history, straight into the store: the view must stay prompt
                store = session.run.store
                rng = np.random.default_rng(0)
                for k in range(0, preload, 1_000_000):
                    steps = np.arange(k + 1, min(preload, k + 1_000_000) + 1)
                    store.append_points({"loss": (steps, 2.0 * steps ** -0.3 * np.exp(rng.normal(0, 0.2, len(steps))))})
                vsteps = np.arange(1000, preload + 1, 1000)
                store.append_points({"val_loss": (vsteps, 2.0 * vsteps ** -0.3)})
                session.run.log(step=preload, loss=float(store.series("loss").last()[1]))

            main_id = threading.main_thread().native_id

            def train(run):
                run.watch(opt)
                def warm():
                    box["cpu0"], box["t0"] = thread_cpu_s(main_id), time.time()

                box["rate"] = loop(seconds, run, warm)
                box["window"] = (box["t0"], time.time())
                box["ui_cpu"] = (thread_cpu_s(main_id) - box["cpu0"]) / (time.time() - box["t0"])
                app.call_from_thread(app.exit)

            app = LossmonApp(session.run, LocalJob(session.run, train), started=session.started,
                             fps=float(os.environ.get("LOSSMON_FPS", 10)), plot_hz=float(os.environ.get("LOSSMON_PLOT_HZ", 4)),
                             ui_budget=float(os.environ.get("LOSSMON_UI_BUDGET", 0.02)))
            app.run(headless=headless)
            session.close("finished", 0)
            run = session.run
            run._lr.unwatch_all()
            key = "headless" if headless else ""
            results[f"{key}tui_windows"] = results.get(f"{key}tui_windows", []) + [box["window"]]
            results.setdefault(f"{key}ui_cpu", []).append(box["ui_cpu"])
            return box["rate"]

        arms = {"bare": lambda i: loop(arm_s), "plain": lambda i: plain_arm(i, arm_s),
                "headless": lambda i: tui_arm(i, arm_s, headless=True), "tui": lambda i: tui_arm(i, arm_s)}
        order = list(arms)
        for i in range(reps):  # interleaved, order rotated each round: drift hits every arm alike
            for name in order[i % 4:] + order[:i % 4]:
                results[name].append(arms[name](i))
        if latency_s:
            print("<<latency arm>>", flush=True)  # tells bench_tui.py to start typing keys
            tui_arm(reps, latency_s, preload=int(os.environ.get("LOSSMON_BENCH_PRELOAD", 0)))
    Path(out_path).write_text(json.dumps(results))


if __name__ == "__main__":
    main()
