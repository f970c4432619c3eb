"""SIGKILL at random moments: a plain-mode run killed without warning must leave a run log that
loads, with every point logged more than GRACE_S before the kill.

    python benchmarks/crash_trials.py [--trials 60] [--seed 0] [--json PATH] [--metrics 60 --no-sleep]

Each trial starts a training script in its own process (plain mode, a step every ~0.2 ms, or
with --no-sleep as fast as log() goes, --metrics a step in one call; a
validation point every 50 steps, an LR event now and then) and kills it after a random delay: one
trial in four 0.05 to 4 s after the start (start-up included: importing torch takes seconds), the
others 0 to 3 s after the first step. Then it checks what the run left:

- no run log yet, or no point in it (killed during start-up) is allowed, and counted as early;
- otherwise the run log reads with no malformed line (a torn last line is tolerated, not counted);
- the train steps are exactly 1..n, nothing missing in between, and every step the script reported
  (on stdout, with its clock) more than GRACE_S before the kill is there;
- a watcher (`lossmon watch`'s source, which must fall back to run.jsonl for a killed run) reads the
  same points.

tests/test_crash_safety.py runs a few of these trials in CI.
"""

from __future__ import annotations

import argparse
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

GRACE_S = 0.5  # the README's promise: batches reach the OS every 0.1 s; 0.5 s allows for a busy machine

SCRIPT = textwrap.dedent("""
    import sys, time, lossmon
    import torch

    WIDTH, PAUSE = int(sys.argv[2]), float(sys.argv[3])  # metrics a step; the step's sleep (0: none)
    OTHERS = [f"m{i}" for i in range(WIDTH - 1)]

    def train(run):
        p = torch.nn.Parameter(torch.zeros(1))
        opt = torch.optim.SGD([p], lr=0.1)
        run.watch(opt)
        step = 0
        while True:
            step += 1
            opt.step()
            if PAUSE:
                time.sleep(PAUSE)  # a small model's step
            if OTHERS:
                row = dict.fromkeys(OTHERS, 0.5)
                row["loss"] = float(step)
                run.log(**row)
            else:
                run.log(loss=float(step))
            if step % 50 == 0:
                run.log(val_loss=float(step) / 2)
            if step % 700 == 0:
                run.scale_lr(0.9)
            if step % 100 == 0:
                print(step, time.monotonic(), flush=True)

    lossmon.run(train, run_dir=sys.argv[1], ui="plain")
""")


def trial(work: Path, delay: float, env: dict | None = None, after_first_step: bool = False,
          metrics: int = 1, pause: float = 0.0002) -> dict:
    """Start, kill after `delay` seconds (counted from the first reported step if
    `after_first_step`, else from the start), check. Returns {"outcome": "ok" | "early" | "FAILED",
    "why": ..., "steps": n, "checked": the newest step that had to be there}."""
    from lossmon.rundir.layout import RUN_LOG
    from lossmon.rundir.runlog import RunLogReader
    from lossmon import sources

    script = work / "train.py"
    script.write_text(SCRIPT)
    run_dir = work / "r"
    proc = subprocess.Popen([sys.executable, str(script), str(run_dir), str(metrics), str(pause)], stdin=subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    early_lines = []
    try:
        if after_first_step:
            assert proc.stdout is not None
            while not early_lines or not early_lines[-1][:1].isdigit():
                line = proc.stdout.readline()
                if not line:
                    break
                early_lines.append(line)
        time.sleep(delay)
        killed_at = time.monotonic()
        proc.send_signal(signal.SIGKILL)
        out, _ = proc.communicate(timeout=30)
    finally:
        proc.kill()
        proc.wait()
    reported = []
    for line in early_lines + out.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit():
            reported.append((int(parts[0]), float(parts[1])))
    must = max((s for s, t in reported if t < killed_at - GRACE_S), default=0)
    if not (run_dir / "run.jsonl").exists():
        if must:
            return {"outcome": "FAILED", "why": f"no run log, though step {must} was logged", "steps": 0, "checked": must}
        return {"outcome": "early", "why": "killed before the run log existed", "steps": 0, "checked": 0}
    reader = RunLogReader(run_dir / RUN_LOG)  # the record itself, strictly as written
    steps: list[int] = []
    try:
        for batch in reader.read_chunks():
            steps += batch.points.get("loss", ([], []))[0]
    except Exception as e:  # noqa: BLE001 - any failure to read is what this looks for
        return {"outcome": "FAILED", "why": f"reading the run log raised {type(e).__name__}: {e}", "steps": 0,
                "checked": must}
    n = len(steps)
    if reader.malformed:
        why = f"{reader.malformed} malformed lines"
    elif steps != list(range(1, n + 1)):
        why = "train steps are not exactly 1..n"
    elif n < must:
        why = f"step {must} was logged {GRACE_S} s before the kill but the log ends at {n}"
    else:
        why = ""
    if not why and n == 0:
        return {"outcome": "early", "why": "killed before the first point reached the run log", "steps": 0,
                "checked": must}
    if not why:
        got = sources.load(run_dir).points.get("loss", ([], []))[0]
        if list(got) != steps:
            why = f"the watcher's source read {len(got)} train points, the run log has {n}"
    lost = max(0, must - n)  # steps logged more than GRACE_S before the kill and missing
    return {"outcome": "FAILED" if why else "ok", "why": why, "steps": n, "checked": must, "lost": lost}


def main() -> None:
    from figures import Figures

    ap = argparse.ArgumentParser()
    ap.add_argument("--trials", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    ap.add_argument("--metrics", type=int, default=1, help="metrics logged each step (one call)")
    ap.add_argument("--no-sleep", action="store_true", help="log at full speed: no sleep in the step")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    counts = {"ok": 0, "early": 0, "FAILED": 0}
    failures = []
    checked = []
    lost: list[int] = []
    for i in range(args.trials):
        # one trial in four at a moment of the whole life, start-up included; the rest while training
        from_start = i % 4 == 0
        delay = rng.uniform(0.05, 4.0) if from_start else rng.uniform(0.0, 3.0)
        with tempfile.TemporaryDirectory() as tmp:
            res = trial(Path(tmp), delay, after_first_step=not from_start, metrics=args.metrics,
                        pause=0.0 if args.no_sleep else 0.0002)
        counts[res["outcome"]] += 1
        checked.append(res["checked"])
        if res["outcome"] == "FAILED":
            failures.append(f"trial {i} (kill {delay:.2f} s after {'start' if from_start else 'the first step'}): {res['why']}")
        print(f"trial {i:3d}: kill {delay:4.2f} s after {'start' if from_start else 'the first step'} -> {res['outcome']:6s} {res['steps']:6d} steps in the log"
              f" (needed >= {res['checked']}) {res['why']}", flush=True)
        lost.append(res.get("lost", 0))
    print(f"\n{args.trials} trials: {counts['ok']} ok, {counts['early']} killed before the first point was written,"
          f" {counts['FAILED']} failed")
    print(f"steps lost that were logged more than {GRACE_S} s before the kill: {sum(lost)} in all,"
          f" worst trial {max(lost, default=0)}, trials losing any: {sum(1 for x in lost if x)}")
    for f in failures:
        print("  " + f)
    fig = Figures()
    fig.add("SIGKILL trials that left a complete, loadable run log", counts["ok"] + counts["early"], f"of {args.trials}",
            "all", counts["FAILED"] == 0, fmt="{:.0f}")
    fig.add("trials killed before the first point was written", counts["early"], "", fmt="{:.0f}")
    fig.write(args.json)
    if failures:
        sys.exit(1)


if __name__ == "__main__":
    main()
