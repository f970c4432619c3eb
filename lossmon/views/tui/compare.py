"""The comparison view (`lossmon compare A B`, `lossmon watch A B`): several runs' train and val
curves overlaid, one colour per run, with the table under them (compare/table.py).

Read-only on purpose: with several runs on screen a steering key would act on a run the user did
not point at, so none is bound (watch one run to steer it). The runs are WatchedRuns whose poll
threads the caller starts; the live ones update here at `plot_hz`. `x` aligns the runs by seconds
since each one's start instead of by step (where their logs hold wall times: lossmon runs, JSONL).
"""

from __future__ import annotations

import asyncio
import signal
from typing import Any

import numpy as np
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.css.query import NoMatches
from textual.widgets import Footer

from lossmon import names
from lossmon.compare.runs import row, run_log
from lossmon.compare.table import cells
from lossmon.compare.walltime import StepClock
from lossmon.recording.smoothing import Smoothed
from lossmon.recording.store import Series
from lossmon.views.tui.overlay import Curve, fmt_seconds, render_curves
from lossmon.views.tui.palette import run_styles, theme_styles
from lossmon.views.tui.widgets import LossPlot, TextLines

SMOOTHING = 0.9  # train curves are smoothed (raw minibatch losses of several runs are a blur)
MAX_CONFIG_COLUMNS = 6
READ_ONLY_NOTE = "read-only: no key steers a job here (watch one run to steer it)"


class CompareApp(App[int]):
    """Several WatchedRuns on one plot, with their table."""

    CSS = """
    #cmp-status { height: 1; background: $panel; }
    #cmp-plot { width: 1fr; height: 1fr; border: round $primary 60%; border-title-color: $text; }
    #cmp-table { border: round $secondary; border-title-color: $text; }
    """
    TITLE = "lossmon compare"
    BINDINGS = [
        Binding("x", "toggle_time", "x: step / wall time"),
        Binding("y", "toggle_log", "log/lin y"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "quit", "quit", show=False, priority=True),
    ]

    def __init__(self, runs: list[Any], *, plot_hz: float = 4.0, handle_signals: bool = False) -> None:
        super().__init__()
        if not runs:
            raise ValueError("nothing to compare")
        self.runs = runs
        self.plot_hz = float(plot_hz)
        self.handle_signals = handle_signals
        self.wall_time = False
        self.log_y = True
        self.signum: int | None = None
        self._smoothed: list[Smoothed | None] = [None] * len(runs)
        self._clocks: list[StepClock | None] = [None] * len(runs)
        self._timed: dict[tuple, Series] = {}
        self._drawn: tuple | None = None
        self._styles: tuple[str, dict] | None = None

    def compose(self) -> ComposeResult:
        yield TextLines(id="cmp-status")
        yield LossPlot(id="cmp-plot")
        yield TextLines(id="cmp-table")
        yield Footer()

    def on_mount(self) -> None:
        plot = self.query_one("#cmp-plot", LossPlot)
        plot.border_title = f"loss: {len(self.runs)} runs"
        plot.on_new_size = self.redraw
        self.query_one("#cmp-table").border_title = "runs"
        if self.handle_signals:
            loop = asyncio.get_running_loop()
            for name in ("SIGTERM", "SIGHUP", "SIGINT"):
                sig = getattr(signal, name, None)
                if sig is not None and signal.getsignal(sig) is not signal.SIG_IGN:
                    loop.add_signal_handler(sig, self._on_signal, sig)
        self.tick()
        self.set_interval(1.0 / self.plot_hz, self.tick)

    def _on_signal(self, sig: int) -> None:
        self.signum = sig
        self.exit()

    # ---- drawing ------------------------------------------------------------------------------

    def palette(self) -> dict:
        if self._styles is None or self._styles[0] != self.theme:
            self._styles = (self.theme, {**theme_styles(self), **run_styles(self, len(self.runs))})
        return self._styles[1]

    def tick(self) -> None:
        for w in self.runs:  # a source replaced or unreadable, a refused request: said once, as a toast
            while w.notices:
                severity, note = w.notices.popleft()
                self.notify(f"{w.name}: {note}", severity=severity, timeout=8)
        try:
            self._draw()
        except NoMatches:  # a timer that fired while the app tears its screen down
            pass

    def redraw(self) -> None:
        self._drawn = None
        self.tick()

    def _draw(self) -> None:
        plot = self.query_one("#cmp-plot", LossPlot)
        versions = tuple((id(w.store), w.store.version, w.state, w.error) for w in self.runs)
        key = (versions, plot.size, self.wall_time, self.log_y, self.theme)
        if key == self._drawn:
            return
        self._drawn = key
        styles = self.palette()
        curves, legend, missing_time = self._curves()
        image = render_curves(plot.size.width, plot.size.height, curves, legend=legend, log=self.log_y,
                              x_fmt=fmt_seconds if self.wall_time else _step_fmt)
        plot.show(image, styles)
        self.query_one("#cmp-status", TextLines).show(self._status(missing_time, image.notes))
        self.query_one("#cmp-table", TextLines).show(self._table(styles))

    def _curves(self) -> tuple[list[Curve], list[tuple[str, str]], list[str]]:
        curves: list[Curve] = []
        legend: list[tuple[str, str]] = []
        missing_time: list[str] = []
        for i, w in enumerate(self.runs):
            train, val = w.store.by_role(names.TRAIN_LOSS), w.store.by_role(names.VAL_LOSS)
            if train is not None:
                sm = self._smoothed[i]
                if sm is None or sm.source is not train:
                    sm = self._smoothed[i] = Smoothed(train, SMOOTHING)
                sm.update()
                train = sm.series
            shown = [(train, f"run{i}_train"), (val, f"run{i}")]
            if self.wall_time:
                clock = self._clock(i)
                if not clock.known:
                    missing_time.append(w.name)
                    shown = []
                else:
                    shown = [(self._in_time(i, kind, s, clock), style) for kind, (s, style) in enumerate(shown)]
            curves += [Curve(s, style) for s, style in shown if s is not None]
            legend += [(" ━ ", f"run{i}"), (w.name, f"run{i}")]
        legend.append(("   (train smoothed 0.9, faint; val bold)", "legend"))
        return curves, legend, missing_time

    def _clock(self, i: int) -> StepClock:
        clock = self._clocks[i]
        if clock is None:
            clock = self._clocks[i] = StepClock(run_log(self.runs[i]))
        clock.poll()
        return clock

    def _in_time(self, i: int, kind: int, series: Series | None, clock: StepClock) -> Series | None:
        """The series with milliseconds since its run's start for steps (cached per version)."""
        if series is None or not len(series):
            return None
        key = (i, kind, id(series), len(series), len(clock.steps))
        out = self._timed.get(key)
        if out is None:
            self._timed = {k: v for k, v in self._timed.items() if k[:2] != (i, kind)}
            steps, values = series.points()
            ms = np.rint(clock.seconds(steps) * 1000.0)
            ok = np.isfinite(ms)
            ms, values = ms[ok].astype(np.int64), values[ok]
            order = np.argsort(ms, kind="stable")
            out = self._timed[key] = Series(series.name)
            out.extend(ms[order], values[order])
        return out

    def _status(self, missing_time: list[str], notes: list[str]) -> Text:
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append(f" comparing {len(self.runs)} runs", style="bold")
        t.append(" · x: " + ("seconds since each run's start" if self.wall_time else "step"))
        if missing_time:
            t.append(f" · no wall times in {', '.join(missing_time)} (not shown)", style="yellow")
        for n in notes:
            t.append(f" · {n}")
        for w in self.runs:
            if w.error:
                t.append(f" · {w.name}: stopped reading ({w.error})", style="red")
        t.append(" · " + READ_ONLY_NOTE, style="dim")
        return t

    def _table(self, styles: dict) -> Text:
        header, body = cells([row(w) for w in self.runs], MAX_CONFIG_COLUMNS)
        widths = [min(32, max(len(h), *(len(b[i]) for b in body))) for i, h in enumerate(header)]
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("  " + "  ".join(_fit(h, w, i) for i, (h, w) in enumerate(zip(header, widths))), style="bold")
        for r, cells_ in enumerate(body):
            t.append("\n")
            t.append("━ ", style=styles.get(f"run{r}"))
            for i, (c, w) in enumerate(zip(cells_, widths)):
                t.append(("  " if i else "") + _fit(c, w, i), style=styles.get(f"run{r}") if i == 0 else None)
        return t

    # ---- keys ---------------------------------------------------------------------------------

    def action_toggle_time(self) -> None:
        self.wall_time = not self.wall_time
        self.redraw()

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.redraw()


def _step_fmt(step: float) -> str:
    from lossmon.formatting import step_label

    return step_label(step)


def _fit(text: str, width: int, col: int) -> str:
    if len(text) > width:
        text = text[: width - 1] + "…"
    return text.rjust(width) if 2 <= col <= 5 else text.ljust(width)
