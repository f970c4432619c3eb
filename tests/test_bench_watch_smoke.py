"""benchmarks/bench_watch.py at a tiny size: it runs and prints every figure (no timings are
checked; the figures themselves come from running it in full)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_watch_runs_at_a_tiny_size():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_watch.py"), "--lines", "3000",
                          "--reps", "1", "--latency-s", "2"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for needle in ("first frame", "memory: RSS", "on screen while tailing: median"):
        assert needle in out.stdout
