"""One plot frame at 200x50 vs history length: lossmon's braille renderer, and optionally
textual-plot (the candidate DESIGN.md §3 names) on the same data.

    python benchmarks/bench_plot.py [--max-points N] [--textual-plot] [--json PATH]

A frame is everything between "the store changed" and "strips ready for Textual": envelopes of
train, smoothed train and val loss, the canvas, labels, and the Segment strips the widget hands out.
--textual-plot needs `pip install textual-plot` (not a lossmon dependency); it times that widget's
own full redraw (_render_plot) for a train and a val series of the same lengths, in a headless app.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402

from lossmon.recording.smoothing import Smoothed  # noqa: E402
from lossmon.recording.store import Series  # noqa: E402

from figures import Figures  # noqa: E402

W, H = 200, 50


def curves(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    steps = np.arange(1, n + 1)
    train = 2.0 * steps ** -0.3 * np.exp(rng.normal(0, 0.2, n))
    train[n // 2] = 50.0
    vsteps = steps[99::100] if n >= 1000 else steps
    val = 2.0 * vsteps ** -0.3 + 0.2 * (vsteps / n) ** 2
    return steps, train, vsteps, val


def time_lossmon(n: int, reps: int) -> float:
    from rich.segment import Segment
    from rich.style import Style
    from textual.strip import Strip

    from lossmon.views.tui.plotimage import render_plot

    steps, train, vsteps, val = curves(n)
    tr, va = Series("loss"), Series("val_loss")
    tr.extend(steps, train)
    va.extend(vsteps, val)
    sm = Smoothed(tr, 0.9)
    while sm.behind:
        sm.update()
    style = Style(color="blue")
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        img = render_plot(W, H, train=tr, smooth=sm.series, val=va, legend="legend")
        strips = [Strip([Segment(t, style) for t, _ in row]).adjust_cell_length(W) for row in img.rows]
        times.append(time.perf_counter() - t0)
    assert len(strips) == H
    return statistics.median(times)


def time_textual_plot(n: int, reps: int) -> float:
    from textual.app import App
    from textual_plot import PlotWidget

    steps, train, vsteps, val = curves(n)

    class PlotApp(App):
        def compose(self):
            yield PlotWidget()

    result: list[float] = []

    async def run() -> None:
        app = PlotApp()
        async with app.run_test(size=(W, H)) as pilot:
            plot = app.query_one(PlotWidget)
            plot.plot(steps.astype(float), train)
            plot.plot(vsteps.astype(float), val)
            await pilot.pause(0.2)
            for _ in range(reps):
                t0 = time.perf_counter()
                plot._render_plot()
                result.append(time.perf_counter() - t0)

    asyncio.run(run())
    return statistics.median(result)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--max-points", type=int, default=10_000_000)
    ap.add_argument("--textual-plot", action="store_true", help="also time textual-plot (needs it installed)")
    ap.add_argument("--textual-plot-max", type=int, default=100_000)
    ap.add_argument("--json", default=None, help="also write the key figures here (for run_all.py)")
    args = ap.parse_args()
    sizes = [n for n in (1_000, 10_000, 100_000, 1_000_000, 10_000_000) if n <= args.max_points]
    print(f"frame {W}x{H}: train (+ smoothed) and val loss, median ms")
    print(f"{'points':>12s} {'lossmon ms':>11s}" + (f" {'textual-plot ms':>16s} {'ratio':>7s}" if args.textual_plot else ""))
    fig = Figures()
    for n in sizes:
        ours = time_lossmon(n, reps=21) * 1e3
        fig.add(f"frame with {n:,} points", ours, "ms", "<= 10 ms", ours <= 10, fmt="{:.2f}")
        line = f"{n:>12,d} {ours:>11.2f}"
        if args.textual_plot and n <= args.textual_plot_max:
            theirs = time_textual_plot(n, reps=5 if n >= 100_000 else 11) * 1e3
            line += f" {theirs:>16.1f} {theirs / ours:>6.0f}x"
        print(line, flush=True)
    fig.write(args.json)


if __name__ == "__main__":
    main()
