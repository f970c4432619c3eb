"""A long plain-mode run: memory stays within the store's budget, with no growth anywhere else.

    python benchmarks/bench_long_run.py [--steps 10000000] [--json PATH]

`lossmon.run(ui="plain")` trains a loop that only logs, as fast as lossmon takes it: `loss` every
step and `val_loss` every 1000 (the run log, the columns, the diagnoser and the plain printer all
run as in a real job). Every 5 % of the run the training thread waits for the pump to drain,
then notes the process's resident memory and the bytes the store has allocated. Reported: the
store's bytes per point at the end (budget <= 24), and the whole process's RSS growth per point
over the last 80 % of the run (start-up and first allocations excluded), which must stay within the
same budget: anything other than the store keeping per-step state would push it over.
"""

from __future__ import annotations

import argparse
import ctypes
import shutil
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from figures import Figures  # noqa: E402


def rss_bytes() -> int:
    """Resident memory after returning freed heap to the OS (glibc's malloc_trim, where there is
    one): the queue of rows between log() and the pump leaves freed arenas behind that would
    otherwise look like growth."""
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=10_000_000)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    import lossmon

    samples: list[tuple[int, float, int, int]] = []  # (step, seconds, rss, store bytes)
    every = max(1, args.steps // 20)
    tmp = Path(tempfile.mkdtemp())
    try:
        def store_bytes(run) -> int:
            return sum(run.store.series(n).nbytes() for n in run.store.names())

        def train(run):
            rss0 = rss_bytes()
            samples.append((0, 0.0, rss0, store_bytes(run)))
            t0 = time.perf_counter()
            log = run.log
            for step in range(1, args.steps + 1):
                log(loss=1.0 / step)
                if step % 1000 == 0:
                    log(val_loss=2.0 / step)
                if step % every == 0:
                    wait = time.perf_counter()  # let the pump drain the queue: the store holds it all
                    while len(run.store.series("loss") or ()) < step and time.perf_counter() - wait < 30:
                        time.sleep(0.01)
                    t0 += time.perf_counter() - wait  # the rate counts logging time only
                    samples.append((step, time.perf_counter() - t0, rss_bytes(), store_bytes(run)))

        run = lossmon.run(train, run_dir=tmp / "run", ui="plain")
        points = sum(len(run.store.series(n)) for n in run.store.names())
        log_mb = (tmp / "run" / "run.jsonl").stat().st_size / 1e6
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    base_rss, base_store = samples[0][2], samples[0][3]
    print(f"{args.steps:,} steps in plain mode, {points:,} points, run log {log_mb:.0f} MB")
    print(f"{'step':>12s} {'s':>7s} {'RSS +MB':>9s} {'store MB':>9s} {'other +MB':>10s}")
    other = []
    for step, t, rss, sb in samples:
        o = (rss - base_rss) - (sb - base_store)
        other.append(o)
        print(f"{step:12,d} {t:7.1f} {(rss - base_rss) / 1e6:9.1f} {sb / 1e6:9.1f} {o / 1e6:10.1f}")
    final_store = samples[-1][3]
    per_pt = final_store / points
    i20 = len(samples) // 5
    grew = samples[-1][2] - samples[i20][2]
    pts_late = (samples[-1][0] - samples[i20][0]) * (1 + 1 / 1000)  # loss every step, val_loss every 1000
    late = grew / pts_late
    print(f"store: {per_pt:.1f} B/pt allocated (budget <= 24). Whole process over the last 80 % of the run:"
          f" RSS +{grew / 1e6:.1f} MB for {pts_late:,.0f} points = {late:.1f} B/pt (raw values are 16 B/pt,"
          f" plus the store's pyramid and capacity)")
    fig = Figures()
    fig.add(f"store memory after {args.steps:,} steps (allocated)", per_pt, "B/pt", "<= 24 B/pt", per_pt <= 24, fmt="{:.1f}")
    fig.add("whole-process RSS growth per point, last 80 % of the run", late, "B/pt", "<= 24 B/pt", late <= 24,
            fmt="{:.1f}")
    fig.add("logging rate, whole run", args.steps / samples[-1][1], "steps/s", fmt="{:,.0f}")
    fig.write(args.json)


if __name__ == "__main__":
    main()
