"""Metric store at scale: bytes per point and envelope query time vs history length.

    python benchmarks/bench_store.py [--max-points N] [--json PATH]

Bytes per point are counted two ways: the arrays' allocated size (capacity included) and the growth
of the process's resident memory, both at the largest size.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from lossmon.recording.store import Series  # noqa: E402

from figures import Figures  # noqa: E402


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-points", type=int, default=10_000_000)
    ap.add_argument("--columns", type=int, default=200)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    rng = np.random.default_rng(0)
    sizes = [n for n in (1_000, 100_000, 1_000_000, 10_000_000) if n <= args.max_points]
    print(f"{'points':>12s} {'append Mpts/s':>14s} {'envelope ms (median)':>21s} {'zoomed ms':>10s} {'bytes/pt alloc':>15s} {'bytes/pt RSS':>13s}")
    fig = Figures()
    for n in sizes:
        chunk = min(n, 100_000)  # pump-sized batches; a 10 Hz pump at 1M steps/s hands over 100k
        vals = rng.normal(size=chunk)
        rss0 = rss_bytes()
        s = Series("loss")
        t0 = time.perf_counter()
        for k in range(0, n, chunk):
            s.extend(np.arange(k, k + chunk), vals)
        append_rate = n / (time.perf_counter() - t0) / 1e6
        rss = rss_bytes() - rss0
        full, zoom = [], []
        for _ in range(51):
            t = time.perf_counter()
            s.envelope(args.columns)
            full.append(time.perf_counter() - t)
            a = int(rng.integers(0, n // 2 + 1))
            t = time.perf_counter()
            s.envelope(args.columns, a, a + n // 10)
            zoom.append(time.perf_counter() - t)
        print(f"{n:12,d} {append_rate:14.1f} {statistics.median(full) * 1e3:21.3f} {statistics.median(zoom) * 1e3:10.3f}"
              f" {s.nbytes() / n:15.1f} {rss / n:13.1f}")
        if n == sizes[-1]:
            fig.add(f"store memory at {n:,} points (allocated)", s.nbytes() / n, "B/pt", "<= 24 B/pt",
                    s.nbytes() / n <= 24, fmt="{:.1f}")
            fig.add(f"store memory at {n:,} points (RSS growth)", rss / n, "B/pt", "<= 24 B/pt", rss / n <= 24, fmt="{:.1f}")
            fig.add(f"full-range envelope at {n:,} points", statistics.median(full) * 1e3, "ms", fmt="{:.2f}")
        del s
    fig.write(args.json)


if __name__ == "__main__":
    main()
