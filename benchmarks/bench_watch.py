"""`lossmon watch` at scale: time to the first complete frame of a 1M-line run log, memory, and
write-to-screen latency while tailing.

    python benchmarks/bench_watch.py [--lines 1000000] [--reps 3]

1. A run directory with `--lines` metric lines is written the way the pump writes one (batches of
   1000 rows through encode_rows and the column writer; val_loss every 500 steps; a few events).
2. First frame: `lossmon watch DIR` is started in a 200x50 pseudo-terminal; the time until its
   output shows the last step (the whole run loaded and drawn), medians over `--reps`, interleaved
   with the same command on a copy of the directory without columns (the run log parsed line by
   line: the baseline). Budget <= 2 s.
3. Memory: in a fresh process, RSS after the watcher has loaded the run minus RSS before, against
   the raw values (16 bytes a point: int64 step + float64 value). Budget <= 2x.
4. Latency: a job in another process logs a step every 10 ms through a real lossmon session; a
   headless watch app here tails its directory; for each step, the time from its line being
   written (the line's own timestamp) to the first status line showing it. Budget <= 250 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import json
import os
import pty
import select
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import termios
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from figures import Figures  # noqa: E402


def write_run(run_dir: Path, lines: int) -> tuple[int, int]:
    """A lossmon run directory as the pump writes it; returns (points, last step)."""
    from lossmon.rundir.columns import ColumnWriter
    from lossmon.rundir.meta import initial_meta, write_meta
    from lossmon.rundir.runlog import RunLogWriter, encode_event, encode_rows

    run_dir.mkdir(parents=True)
    writer = RunLogWriter(run_dir / "run.jsonl")
    columns = ColumnWriter(run_dir)
    points = 0
    step = 0
    t = time.time()
    written = 0
    while written < lines:
        rows = []
        for _ in range(1000):
            step += 1
            rows.append({"loss": 2.0 / step ** 0.3, "lr": 3e-4, "step": step})
            if step % 500 == 0:
                rows.append({"val_loss": 2.2 / step ** 0.3, "step": step})
        rows = rows[: lines - written]
        written += len(rows)
        last = rows[-1]["step"]
        pts: dict[str, tuple[list, list]] = {}
        for r in rows:
            for k, v in r.items():
                if k != "step":
                    p = pts.setdefault(k, ([], []))
                    p[0].append(r["step"])
                    p[1].append(v)
                    points += 1
        text = encode_rows(rows, t)
        if step % 100_000 < 1000:
            text += encode_event({"event": "lr_change", "step": step, "time": t, "source": "key", "applied": True,
                                  "request": "x0.5", "old": [3e-4], "new": [1.5e-4], "scale": 0.5})
        writer.write(text)
        columns.write(pts)
    writer.close()
    columns.close()
    meta = initial_meta("bench")
    meta.update(state="finished", exit_code=0, steps=last)
    write_meta(run_dir, meta)
    return points, last


def first_frame(path: Path, needle: bytes, cols: int = 200, rows: int = 50, timeout: float = 60.0) -> float:
    """Seconds from starting `lossmon watch PATH` in a pty until `needle` appears in its output."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.environ.update(TERM="xterm-256color", PYTHONPATH=str(HERE.parent))
        os.execv(sys.executable, [sys.executable, "-m", "lossmon.cli", "watch", str(path)])
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))
    t0 = time.monotonic()
    buf = b""
    found = None
    while time.monotonic() - t0 < timeout:
        r, _, _ = select.select([fd], [], [], 0.05)
        if r:
            try:
                chunk = os.read(fd, 1 << 16)
            except OSError:
                break
            buf = buf[-4096:] + chunk
            if needle in buf:
                found = time.monotonic() - t0
                break
    os.write(fd, b"q")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            break
        select.select([fd], [], [], 0.05)
        try:
            os.read(fd, 1 << 16)
        except OSError:
            pass
    else:
        os.kill(pid, 9)
        os.waitpid(pid, 0)
    os.close(fd)
    if found is None:
        raise RuntimeError(f"no first frame within {timeout}s; the terminal's last output: {buf[-300:]!r}")
    return found


def memory(path: Path) -> dict:
    code = f"""
import json, sys, gc
sys.path.insert(0, {str(HERE.parent)!r})
def rss():
    with open('/proc/self/statm') as f:
        return int(f.read().split()[1]) * 4096
from lossmon.sources import open_source
from lossmon.watched import WatchedRun
import lossmon.views.tui.app  # what the view imports, so the delta is the data
gc.collect(); before = rss()
w = WatchedRun(open_source({str(path)!r}))
while w.poll():
    pass
gc.collect(); after = rss()
points = sum(len(w.store.series(n)) for n in w.store.names())
print(json.dumps({{"before": before, "after": after, "points": points, "store_bytes": sum(w.store.series(n).nbytes() for n in w.store.names())}}))
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


JOB = """
import sys, time, lossmon
def train(run):
    t_end = time.monotonic() + float(sys.argv[2])
    while time.monotonic() < t_end:
        run.log(loss=1.0 / (run.step + 1))
        time.sleep(0.01)
lossmon.run(train, run_dir=sys.argv[1], ui="plain")
"""


def latency(seconds: float = 8.0) -> list[float]:
    """Run-log line written -> the watch app's status line showing it, per step, in seconds.

    The job is another process (as it would be); each line's "time" is when its batch was
    written. The watch app runs headless here and notes, at every tick, the step its status
    line shows."""
    from lossmon.sources import open_source
    from lossmon.views.tui.app import LossmonApp
    from lossmon.session.watching import WATCH_UI_BUDGET
    from lossmon.watched import WatchedRun

    tmp = Path(tempfile.mkdtemp())
    job = subprocess.Popen([sys.executable, "-c", JOB, str(tmp / "job"), str(seconds + 3)],
                           env=dict(os.environ, PYTHONPATH=str(HERE.parent)), stdout=subprocess.DEVNULL)
    while not (tmp / "job" / "run.jsonl").exists():
        time.sleep(0.01)
    watched = WatchedRun(open_source(tmp / "job")).start()
    app = LossmonApp(watched, watched, capture_output=False, ui_budget=WATCH_UI_BUDGET)  # as `lossmon watch` runs it
    stored: dict[int, float] = {}
    poll = watched.poll

    def timed_poll() -> bool:  # when each step reaches the watcher's store
        more = poll()
        now = time.time()
        for s in range(len(stored) + 1, watched.store.last_step + 1):
            stored[s] = now
        return more

    watched.poll = timed_poll
    shown: dict[int, float] = {}
    last = [0]
    tick = app._tick

    def timed_tick() -> None:  # the status line is drawn here from the store: note what it shows
        tick()
        step, now = app.run_.store.last_step, time.time()
        for s in range(last[0] + 1, step + 1):
            shown[s] = now
        last[0] = max(last[0], step)

    app._tick = timed_tick

    async def drive():
        async with app.run_test(size=(160, 48)) as pilot:
            await pilot.pause(seconds)
            await pilot.press("q")

    steady = time.time() + 1.0  # lines written before the view caught up are not tailing
    asyncio.run(drive())
    watched.close()
    job.wait(30)
    written = {}
    for line in (tmp / "job" / "run.jsonl").read_text().splitlines():
        rec = json.loads(line)
        if "loss" in rec:
            written[rec["step"]] = rec["time"]
    shutil.rmtree(tmp, ignore_errors=True)
    keep = [s for s in shown if s in written and s in stored and written[s] > steady]
    return [shown[s] - written[s] for s in keep], [stored[s] - written[s] for s in keep]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--lines", type=int, default=1_000_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--latency-s", type=float, default=8.0)
    ap.add_argument("--json", default=None, help="also write the figures here")
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp())
    try:
        run = tmp / "run"
        t = time.monotonic()
        points, last_step = write_run(run, args.lines)
        size = (run / "run.jsonl").stat().st_size
        print(f"run log: {args.lines:,} lines, {points:,} points, {size / 1e6:.1f} MB (written in {time.monotonic() - t:.1f}s)")
        plain = tmp / "plain"
        shutil.copytree(run, plain)
        shutil.rmtree(plain / "columns")
        needle = f"step {last_step:,}".encode()
        cols, parse = [], []
        for _ in range(args.reps):
            cols.append(first_frame(run, needle))
            parse.append(first_frame(plain, needle))
        mc, mp = statistics.median(cols), statistics.median(parse)
        print(f"first frame (200x50 pty, whole run drawn): columns median {mc:.2f}s {['%.2f' % x for x in cols]};"
              f" run log parsed line by line median {mp:.2f}s {['%.2f' % x for x in parse]}; ratio {mp / mc:.1f}x"
              f" (budget <= 2 s)")
        mem = memory(run)
        grew = mem["after"] - mem["before"]
        raw = mem["points"] * 16
        print(f"memory: RSS +{grew / 1e6:.1f} MB for {mem['points']:,} points = {grew / raw:.2f}x the raw values"
              f" ({raw / 1e6:.1f} MB at 16 B/pt); store {mem['store_bytes'] / 1e6:.1f} MB (budget <= 2x)")
        lat, to_store = latency(args.latency_s)
        lat_ms = sorted(x * 1000 for x in lat)
        store_ms = sorted(x * 1000 for x in to_store)
        if not lat_ms:
            raise SystemExit("bench_watch: no step reached the screen while tailing (a loaded machine? a longer --latency-s)")
        p = statistics.quantiles(lat_ms, n=100) if len(lat_ms) > 1 else [lat_ms[0]] * 99
        print(f"run log line written -> on screen while tailing: median {statistics.median(lat_ms):.0f} ms,"
              f" p95 {p[94]:.0f} ms, max {lat_ms[-1]:.0f} ms over {len(lat_ms)} steps (watcher poll 50 ms, view look 50 ms;"
              f" log() -> file adds the job's pump interval, <= 100 ms) (budget <= 250 ms);"
              f" of which file -> watcher's store: median {statistics.median(store_ms):.0f} ms, max {store_ms[-1]:.0f} ms")
        fig = Figures()
        fig.add(f"first frame, {args.lines:,}-line run log", mc, "s", "<= 2 s", mc <= 2, fmt="{:.2f}")
        fig.add("first frame, run log parsed line by line (baseline)", mp, "s", fmt="{:.2f}")
        fig.add("watcher memory vs raw values (16 B/pt)", grew / raw, "x", "<= 2x", grew / raw <= 2, fmt="{:.2f}")
        fig.add("line written -> on screen while tailing (median)", statistics.median(lat_ms), "ms", "<= 250 ms",
                statistics.median(lat_ms) <= 250, fmt="{:.0f}")
        fig.add("line written -> on screen while tailing (p95)", p[94], "ms", fmt="{:.0f}")
        fig.write(args.json)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
