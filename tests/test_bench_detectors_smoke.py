"""benchmarks/bench_detectors.py at a tiny size: it runs and prints every section (no timings
are checked; the figures themselves come from running it in full)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_bench_detectors_runs_at_a_tiny_size():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "bench_detectors.py"), "--seeds", "1",
                          "--reps", "1", "--steps", "3000"], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    for needle in ("M points/s", "us per step", "nonfinite", "lr_too_low", "warnings or critical per 100k"):
        assert needle in out.stdout
