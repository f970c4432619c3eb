"""Bytes written to the terminal by `lossmon demo overfit` at 160x48 over a 30 s run, as an SSH
client would receive them.

    python benchmarks/bench_terminal.py [--seconds 30] [--cols 160 --rows 48] [--json PATH]

The demo runs in a pseudo-terminal of the given size with enough steps to still be training when
the window ends; every byte it writes is read and timestamped. Reported: the average over the
whole window (start-up paints included), the median of one-second bins after the first 2 s (the
steady state), and the busiest second. Budget: <= 100 KB/s at 160x48 (DESIGN.md §7). Then `q` is
typed, then `y` to its question (training is still running), and the exit is checked: status 0
and the alternate screen left.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import pty
import select
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from figures import Figures  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=30.0)
    ap.add_argument("--cols", type=int, default=160)
    ap.add_argument("--rows", type=int, default=48)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", args.rows, args.cols, 0, 0))
        env = dict(os.environ, TERM="xterm-256color", COLORTERM="truecolor", PYTHONPATH=str(HERE.parent))
        steps = str(int(max(args.seconds, 5) * 2000))  # ~600 steps/s here: still training at the end
        proc = subprocess.Popen([sys.executable, "-m", "lossmon", "demo", "overfit", "--steps", steps],
                                stdin=slave, stdout=slave, stderr=slave, env=env, cwd=tmp, start_new_session=True)
        os.close(slave)
        reads: list[tuple[float, int]] = []
        tail = b""
        t0 = time.monotonic()
        end = t0 + args.seconds
        quit_at = None
        while True:
            now = time.monotonic()
            if quit_at is None and now >= end:
                os.write(master, b"q")  # training is still running: the app asks first
                quit_at = now
                confirmed = False
            if quit_at is not None and not confirmed and now - quit_at > 0.5:
                os.write(master, b"y")
                confirmed = True
            if quit_at is not None and now - quit_at > 20:
                proc.kill()
                break
            ready, _, _ = select.select([master], [], [], 0.05)
            if not ready:
                if proc.poll() is not None:
                    break
                continue
            try:
                data = os.read(master, 1 << 16)
            except OSError:  # EIO: the child closed the terminal
                break
            if not data:
                break
            if quit_at is None:
                reads.append((now - t0, len(data)))
            tail = (tail + data)[-4096:]
        code = proc.wait()
        os.close(master)
    total = sum(n for _, n in reads)
    bins = [0] * int(args.seconds)
    for t, n in reads:
        if int(t) < len(bins):
            bins[int(t)] += n
    steady = [b / 1000 for b in bins[2:]] or [total / 1000 / args.seconds]
    avg = total / args.seconds / 1000
    restored = b"\x1b[?1049l" in tail
    print(f"lossmon demo overfit in a {args.cols}x{args.rows} pty for {args.seconds:g} s:"
          f" {total / 1000:.0f} KB written, {avg:.1f} KB/s on average (start-up included);"
          f" steady state median {statistics.median(steady):.1f} KB/s, busiest second {max(bins) / 1000:.1f} KB")
    print(f"after q, y: exit status {code}, alternate screen {'left' if restored else 'NOT left'}")
    budget = (args.cols, args.rows) == (160, 48)
    fig = Figures()
    fig.add(f"demo at {args.cols}x{args.rows}, average over {args.seconds:g} s", avg, "KB/s",
            "<= 100 KB/s" if budget else "", avg <= 100 if budget else None, fmt="{:.1f}")
    fig.add("steady state (median second after the first 2 s)", statistics.median(steady), "KB/s", fmt="{:.1f}")
    fig.add("busiest second", max(bins) / 1000, "KB", fmt="{:.1f}")
    if code != 0 or not restored:
        fig.note(f"after q: exit status {code}, alternate screen {'left' if restored else 'NOT left'}")
    fig.write(args.json)
    if code != 0 or not restored:
        sys.exit(1)


if __name__ == "__main__":
    main()
