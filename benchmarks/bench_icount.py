"""Monitoring cost in instructions, for machines too noisy to resolve 1 % in wall time.

Runs icount_worker.py under `valgrind --tool=callgrind` (all threads counted, the pump's included)
for N0 and N1 steps, bare and monitored; the per-step instruction count of each arm is the
difference divided by N1 - N0, so start-up cancels out. Slow (minutes): valgrind runs ~50x slower.

    python benchmarks/bench_icount.py [--n0 10] [--n1 510]
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

WORKER = Path(__file__).resolve().parent / "icount_worker.py"


def instructions(mode: str, steps: int, tmp: str) -> int:
    out = subprocess.run(["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/cg-{mode}-{steps}",
                          sys.executable, str(WORKER), mode, str(steps)],
                         capture_output=True, text=True, check=True)
    m = re.search(r"Collected : (\d+)", out.stderr)
    if not m:
        raise RuntimeError(out.stderr[-2000:])
    return int(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n0", type=int, default=10)
    ap.add_argument("--n1", type=int, default=510)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ThreadPoolExecutor(2) as pool:
        jobs = {(m, n): pool.submit(instructions, m, n, tmp) for m in ("bare", "monitored") for n in (args.n0, args.n1)}
        counts = {k: f.result() for k, f in jobs.items()}
    per_step = {m: (counts[(m, args.n1)] - counts[(m, args.n0)]) / (args.n1 - args.n0) for m in ("bare", "monitored")}
    print(f"instructions per training step (callgrind, {args.n1 - args.n0} steps, all threads)")
    print(f"bare loop    {per_step['bare']:14,.0f}")
    print(f"monitored    {per_step['monitored']:14,.0f}   (+{per_step['monitored'] - per_step['bare']:,.0f})")
    print(f"ratio        {per_step['bare'] / per_step['monitored'] * 100:14.2f} % of the bare loop's work per step")


if __name__ == "__main__":
    main()
