"""The live terminal UI: a Textual app that shows a Run's store and steers it with keys.

Data flows one way (DESIGN.md §2): the training thread only appends to the Run; this app polls the
store on two timers -- numbers at `fps`, the plot at `plot_hz` -- and repaints only what changed.
Keys act through the same Run control calls a script can use. The training function runs on
lossmon's own daemon thread rather than a Textual worker: Textual's thread workers live on
asyncio's default executor, which the interpreter joins at exit, so a trainer that never returns
would hang the process after quitting; with a daemon thread a second `q` always gets out.

The same app shows a `WatchedRun` (lossmon watch): a job started elsewhere, read from its files,
its keys sent over the job's control socket; quitting then never touches the job.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Any, Callable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, RichLog

from lossmon import names
from lossmon.views.text import describe, fmt_lr, fmt_value
from lossmon.views.plain import fmt_duration
from lossmon.views.rate import RateMeter
from lossmon.training.run import Run
from lossmon.session import TrainerThread
from lossmon.recording.smoothing import Smoothed
from lossmon.recording.store import Series
from lossmon.watch import ENDED, WatchedRun
from lossmon.views.tui.axes import fmt_step
from lossmon.views.tui.capture import OutputCapture
from lossmon.views.tui.governor import Governor
from lossmon.views.tui.plotimage import Mark, render_plot
from lossmon.views.tui.screens import ConfirmQuit, HelpScreen, LRDialog
from lossmon.views.tui.sparkline import spark_text
from lossmon.views.tui.widgets import LossPlot, TextLines, TextPanel, theme_styles

SMOOTHING = (0.0, 0.6, 0.9, 0.99)
WINDOWS = ("all", "last 10 %", "last 1k steps")
STEERING = frozenset({"lr", "lr_reset", "lr_dialog", "pause", "checkpoint", "stop"})
SEVERITY_STYLE = {"info": "alert_info", "warning": "alert_warning", "critical": "alert_critical"}
_EVENT_STYLE = {"error": "error", "lr_change": "lr_mark", "lr_commit": "lr_mark", "checkpoint": "ok"}
WATCH_LOOK_S = 0.05  # how often a watcher's view looks for new data between ticks
MAX_SPARKS = 7  # metric rows in the side panel
_NARROW, _SHORT = 110, 32  # below these the side panels stack under the plot / the log pane hides


class LossmonApp(App[int]):
    """Shows one Run live. With `train_fn` it runs training on a thread; without, it shows a store
    as it is (tests, snapshots), or a WatchedRun: a job started elsewhere."""

    CSS_PATH = "app.tcss"
    TITLE = "lossmon"
    BINDINGS = [
        Binding("right_square_bracket", "lr(2.0)", "LR x2", key_display="]"),
        Binding("left_square_bracket", "lr(0.5)", "LR /2", key_display="["),
        Binding("plus", "lr(1.25)", "LR x1.25", show=False),
        Binding("minus", "lr(0.8)", "LR x0.8", show=False),
        Binding("0", "lr_reset", "LR x1", show=False),
        Binding("l", "lr_dialog", "set LR"),
        Binding("p,space", "pause", "pause"),
        Binding("c", "checkpoint", "ckpt"),
        Binding("s", "stop", "stop"),
        Binding("q", "quit", "quit"),
        Binding("ctrl+c", "interrupt", "stop", show=False, priority=True),
        Binding("y", "toggle_log", "log/lin y", show=False),
        Binding("m", "smoothing", "smoothing", show=False),
        Binding("w", "window", "window", show=False),
        Binding("a", "ack", "ack alerts", show=False),
        Binding("question_mark", "help", "help", key_display="?"),
    ]

    def __init__(self, run: Run | WatchedRun, train_fn: Callable[[Run], Any] | None = None, *,
                 fps: float = 10.0, plot_hz: float = 4.0, ui_budget: float = 0.02, handle_signals: bool = False,
                 capture_output: bool = True, started: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        if not fps > 0 or not plot_hz > 0:
            raise ValueError("fps and plot_hz must be > 0")
        self.run_ = run
        self.watching = isinstance(run, WatchedRun)  # a job started elsewhere: steered over its socket
        self.train_fn = train_fn
        self.governor = Governor(float(fps), float(plot_hz), ui_budget)
        self.handle_signals = handle_signals
        self.clock = clock
        self.started = clock() if started is None else started
        self.capture = (OutputCapture(run.dir / "output.log" if run.dir else None)
                        if capture_output and not self.watching else None)
        self.trainer: TrainerThread | None = None
        self.state = "running" if train_fn is not None else "idle"
        self._generation = 0
        self._ticked_version = -1
        if self.watching:
            self.state = "loading"
        self.ended_at: float | None = None
        self.signum: int | None = None
        self.forced = False
        self.quitting = False
        self.log_y = True
        self.smoothing_i = 2  # 0.9: a per-step minibatch loss needs more than TensorBoard's 0.6
        self.window_i = 0
        self.acked = 0  # alerts acknowledged (the first `acked` alert events)
        self.lr_note = ""  # an LR request waiting for the next optimizer step
        self._smoothed: Smoothed | None = None
        self._drawn_key: tuple | None = None
        self._events_seen = 0
        self._marks: list[Mark] = []
        self._feed: list[tuple[int, str, str]] = []  # (step, style key, text), oldest first
        self._alerts = 0
        self._last_toast = -1e9
        self._rate = RateMeter()
        self._signals_installed: list[int] = []
        self._styles: tuple[str, dict] | None = None

    # ---- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TextLines(id="status")
        with Horizontal(id="main"):
            yield LossPlot(id="plot")
            with Vertical(id="side"):
                yield TextLines(id="sparks")
                yield TextPanel(id="events")
        yield RichLog(id="output", max_lines=5000, markup=False, wrap=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        plot = self.query_one("#plot", LossPlot)
        plot.border_title = "loss"
        plot.on_new_size = self._redraw_now
        self.query_one("#sparks").border_title = "metrics"
        self.query_one("#events").border_title = "alerts & events"
        out = self.query_one("#output", RichLog)
        out.border_title = "training output"
        out.can_focus = False
        self._layout_for(self.size.width, self.size.height)
        self.set_class(self.watching, "-watch")
        if self.watching:
            plot.border_subtitle = self.run_.source.describe()
        if self.capture is not None:
            self.capture.install()
        if self.handle_signals:
            self._install_signals()
        if self.train_fn is not None:
            self.trainer = TrainerThread(self.train_fn, self.run_).start()
        self.tick()
        self.plot_tick()
        self._heartbeat()

    def on_unmount(self) -> None:
        if self.capture is not None:
            self.capture.restore()
        self._remove_signals()

    def on_resize(self, event) -> None:
        self._layout_for(event.size.width, event.size.height)

    def _layout_for(self, width: int, height: int) -> None:
        # on the app, not self.screen: a dialog may be the current screen when the terminal resizes
        self.set_class(width < _NARROW, "-narrow")
        self.set_class(height < _SHORT, "-short")

    # ---- signals ------------------------------------------------------------------------------

    def _install_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for name in ("SIGTERM", "SIGHUP", "SIGINT"):
            sig = getattr(signal, name, None)
            if sig is None or signal.getsignal(sig) is signal.SIG_IGN:  # nohup: SIGHUP stays ignored
                continue
            loop.add_signal_handler(sig, self._on_signal, sig)
            self._signals_installed.append(sig)

    def _remove_signals(self) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return
        for sig in self._signals_installed:
            loop.remove_signal_handler(sig)
        self._signals_installed.clear()

    def _on_signal(self, sig: int) -> None:
        """SIGTERM/SIGHUP/SIGINT: stop training gracefully and leave the UI at once, so the terminal
        is restored; the runner waits for the trainer after that."""
        if self.signum is None:
            self.signum = sig
            if not self.watching:  # a watched job is not ours to stop
                self.run_.stop(source=signal.Signals(sig).name)
        self.exit()

    # ---- timers -------------------------------------------------------------------------------

    def _heartbeat(self) -> None:
        """Do what is due, then sleep until the next thing is (a one-shot timer each time).

        A watcher also looks at its store every 50 ms and shows new data at once: the data is
        another process's, already up to a poll old, and the numbers are cheap to draw."""
        numbers, plot = self.governor.due()
        if not numbers and self.watching and self.run_.store.version != self._ticked_version:
            numbers = True
        if numbers:
            self.tick()
        if plot:
            self.plot_tick()
        if self.is_running:
            wait = self.governor.wait()
            self.set_timer(min(wait, WATCH_LOOK_S) if self.watching else wait, self._heartbeat)

    def tick(self) -> None:
        """Numbers, events and captured output, at `fps` (or slower: see governor.py)."""
        try:
            self._tick()
        except NoMatches:  # a timer that fired while the app tears its screen down
            pass

    def _tick(self) -> None:
        self._ticked_version = self.run_.store.version
        self._drain_output()  # before the trainer's end, so a traceback follows what it printed
        if self.watching:
            self._poll_watched()
        else:
            self._poll_trainer()
        self._take_events()
        self._rate.add(self.clock(), self.run_.store.last_step)
        self.query_one("#status", TextLines).show(self.status_text())
        if self.quitting and not self.training_alive:
            self.exit()

    def plot_tick(self) -> None:
        """The plot and sparklines, at `plot_hz` (or slower), only when the store or the view changed."""
        try:
            self._plot_tick()
        except NoMatches:
            pass

    def _plot_tick(self) -> None:
        store = self.run_.store
        train = store.by_role(names.TRAIN_LOSS)
        if train is not None and SMOOTHING[self.smoothing_i] > 0:
            if self._smoothed is None or self._smoothed.source is not train:
                self._smoothed = Smoothed(train, SMOOTHING[self.smoothing_i])
            self._smoothed.update()
        plot = self.query_one("#plot", LossPlot)
        key = (store.version, plot.size, self.log_y, self.smoothing_i, self.window_i, len(self._marks),
               self._smoothed.behind if self._smoothed else False, self.theme)
        if key == self._drawn_key and not (self._smoothed and self._smoothed.behind):
            return
        self._drawn_key = key
        styles = self.palette()
        start, end = self.window()
        smooth = self._smoothed.series if (self._smoothed and SMOOTHING[self.smoothing_i] > 0) else None
        plot.show(render_plot(plot.size.width, plot.size.height, train=train, smooth=smooth,
                              val=store.by_role(names.VAL_LOSS), start=start, end=end, log=self.log_y,
                              marks=self._marks, legend=self.legend()), styles)
        self.query_one("#sparks", TextLines).show(self.sparks_text(start, end))

    # ---- what the widgets show ----------------------------------------------------------------

    def palette(self) -> dict:
        """Plot and text styles for the current theme (computed once per theme)."""
        cached = self._styles
        if cached is None or cached[0] != self.theme:
            cached = self._styles = (self.theme, theme_styles(self))
        return cached[1]

    @property
    def training_alive(self) -> bool:
        if self.watching:
            return self.run_.steerable
        return self.trainer is not None and self.trainer.is_alive()

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """A read-only view hides the steering keys; a watched job that has ended greys them."""
        if self.watching and action in STEERING:
            if self.run_.read_only:
                return False
            if self.run_.job != "running":
                return None
        return True

    def window(self) -> tuple[float | None, float | None]:
        mode = WINDOWS[self.window_i]
        store = self.run_.store
        last = store.last_step
        if mode == "all":
            return None, None
        if mode == "last 1k steps":
            return last - 1000 + 1, None
        present = [s for s in (store.by_role(names.TRAIN_LOSS), store.by_role(names.VAL_LOSS)) if s is not None and len(s)]
        first = min(int(s.steps()[0]) for s in present) if present else 0
        return last - 0.1 * (last - first), None

    def legend(self) -> str:
        beta = SMOOTHING[self.smoothing_i]
        y, window = f"y: {'log' if self.log_y else 'linear'}", f"window: {WINDOWS[self.window_i]}"
        parts = [f"━ train (smoothed {beta:g})  ⠤ raw" if beta else "━ train",
                 "━• val", "▲ LR change", "! alert", "× NaN/inf", y, window]
        text = "  ".join(parts)
        if len(text) > self.query_one("#plot").size.width:
            text = "  ".join([f"━ train ({beta:g})" if beta else "━ train", "━• val", "▲ LR", "! alert", y, window])
        return text

    def status_text(self) -> Text:
        """Two lines; parts of lower priority (a higher number) are left out when the terminal is
        too narrow, so nothing wraps and the state, step, LR and losses always show."""
        run, store = self.run_, self.run_.store
        st = self.palette()
        now = self.clock() if self.ended_at is None else self.ended_at
        state = self.display_state()
        state_style = st["error"] if state in ("failed", "gone") else (
            st["warning"] if state in ("paused", "pausing", "stopping", "loading", "interrupted") else st["ok"])
        step = store.last_step
        line1: list[tuple[str, Any, int]] = [
            (f" {run.name} ", "bold reverse", 0), (f" {state} ", state_style, 0),
            (f"  step {step:,}" + (f"/{run.total_steps:,}" if run.total_steps else ""), None, 0)]
        epoch = store.by_role(names.EPOCH)
        if epoch is not None and epoch.last() is not None:
            line1.append((f"  epoch {fmt_value(epoch.last()[1])}", None, 3))
        rate = self._rate.rate() if state == "running" else None
        if rate is not None:
            line1.append((f"  {rate:,.1f} steps/s", None, 1))
        if self.watching:
            line1.extend(self._watch_parts())
        else:
            line1.append((f"  elapsed {fmt_duration(now - self.started)}", None, 4))
        if rate and run.total_steps and run.total_steps > step:
            line1.append((f"  ETA {fmt_duration((run.total_steps - step) / rate)}", None, 2))
        lr = store.series("lr") or store.by_role(names.LR)
        line2: list[tuple[str, Any, int]] = [
            (" LR ", None, 0),
            (fmt_lr(lr.last()[1]) if lr is not None and lr.last() is not None else "-", "bold", 0)]
        if run.lr_scale != 1.0:
            line2.append((f" (x{run.lr_scale:.3g} manual)", st["lr_mark"], 0))
        if self.lr_note and run.lr_change_pending:
            line2.append((f"  {self.lr_note} at the next step", st["warning"], 0))
        for label, role in (("loss", names.TRAIN_LOSS), ("val", names.VAL_LOSS)):
            s = store.by_role(role)
            if s is not None and s.last() is not None:
                line2.append((f"  {label} {fmt_value(s.last()[1])}", None, 1))
        bad = store.nonfinite
        line2.append((f"  non-finite {bad}", st["error"] if bad else st["muted"], 1 if bad else 3))
        new_alerts = self._alerts - self.acked
        if new_alerts:
            line2.append((f"  {new_alerts} new alert{'s' if new_alerts > 1 else ''} (a: ack)", st["warning"], 2))
        width = self.size.width or 200
        t = Text(no_wrap=True, overflow="ellipsis")
        for i, parts in enumerate((line1, line2)):
            if i:
                t.append("\n")
            for level in (4, 3, 2, 1):
                if sum(len(p[0]) for p in parts) <= width:
                    break
                parts = [p for p in parts if p[2] < level]
            for text, style, _ in parts:
                t.append(text, style=style)
        return t

    def _watch_parts(self) -> list[tuple[str, Any, int]]:
        w = self.run_
        st = self.palette()
        parts: list[tuple[str, Any, int]] = []
        if w.job_detail:
            parts.append((f"  ({w.job_detail})", st["muted"], 1))
        if w.read_only and self.state != "read-only":
            parts.append(("  read-only", st["muted"], 1))
        if not w.loaded:
            n = sum(len(s) for s in (w.store.series(k) for k in w.store.names()) if s is not None)
            parts.append((f"  loading: {n:,} points so far", st["warning"], 0))
        quiet = time.monotonic() - w.last_data
        if w.read_only and w.loaded and quiet >= 10:  # is the other tool still writing?
            parts.append((f"  no new data for {fmt_duration(quiet)}", st["muted"], 2))
        if w.malformed:
            parts.append((f"  {w.malformed} malformed line{'s' if w.malformed != 1 else ''} skipped", st["warning"], 2))
        if w.error:
            parts.append((f"  {w.error}", st["error"], 0))
        return parts

    def display_state(self) -> str:
        if self.watching:
            w = self.run_
            if self.state == "running" and w.steerable:
                if w.should_stop:
                    return "stopping"
                if w.paused:
                    return "paused"
                if w.pause_requested:
                    return "pausing"
            return self.state
        if self.state != "running":
            return self.state
        if self.run_.should_stop or self.quitting:
            return "stopping"
        if self.run_.paused:
            return "paused"
        if self.run_.pause_requested:
            return "pausing"
        return "running"

    def sparks_text(self, start: float | None, end: float | None) -> Text:
        store = self.run_.store
        panel = self.query_one("#sparks", TextLines)
        width = max(10, panel.size.width)
        rows: list[tuple[str, Series]] = []
        picked: set[str] = set()
        for label, s in (("train", store.by_role(names.TRAIN_LOSS)), ("val", store.by_role(names.VAL_LOSS)),
                         ("lr", store.series("lr") or store.by_role(names.LR)),
                         ("grad norm", store.by_role(names.GRAD_NORM))):
            if s is not None:
                rows.append((label, s))
                picked.add(s.name)
        for name in store.names():
            s = store.series(name)
            if name not in picked and s is not None and s.role == names.OTHER and not name.startswith("lr/"):
                rows.append((name, s))
        rows = rows[:MAX_SPARKS]
        st = self.palette()
        style = {"train": st["train"], "val": st["val"], "lr": st["lr_mark"]}
        t = Text(no_wrap=True, overflow="ellipsis")
        label_w, value_w = 10, 9
        spark_w = max(1, width - label_w - value_w - 2)
        for i, (label, s) in enumerate(rows):
            last = s.last()
            log = self.log_y and s.role in (names.TRAIN_LOSS, names.VAL_LOSS, names.GRAD_NORM)
            t.append(label[:label_w].ljust(label_w), style=st["label"])
            t.append(spark_text(s, spark_w, start, end, log=log), style=style.get(label, st["label"]))
            value = fmt_lr(last[1]) if label == "lr" and last else fmt_value(last[1] if last else None)
            t.append(" " + value.rjust(value_w))
            if i < len(rows) - 1:
                t.append("\n")
        return t

    def events_text(self) -> Text:
        st = self.palette()
        panel = self.query_one("#events", TextPanel)
        room = max(1, panel.size.height or 8)
        t = Text(overflow="fold")
        shown = 0
        for step, key, text in reversed(self._feed):
            if shown >= room:
                break
            t.append(f"{fmt_step(step):>6} ", style=st["label"])
            t.append(text + "\n", style=st.get(key, st["label"]))
            shown += 1
        if not self._feed:
            t.append("no alerts; LR changes, pauses and checkpoints show here", style=st["muted"])
        return t

    # ---- polling helpers ----------------------------------------------------------------------

    def _poll_trainer(self) -> None:
        if self.trainer is None or self.trainer.is_alive() or self.state not in ("running",):
            return
        self.ended_at = self.clock()
        outcome = self.trainer.outcome
        if outcome is None or outcome.state == "failed":
            self.state = "failed"
            out = self.query_one("#output", RichLog)
            if outcome is not None and outcome.traceback:
                out.write(Text(outcome.traceback.rstrip(), style=self.palette()["error"]))
            msg = f"{type(outcome.error).__name__}: {outcome.error}" if outcome and outcome.error else "unknown error"
            self.notify(f"training raised {msg}. The curves stay; q quits.", severity="error", timeout=30)
        else:
            self.state = outcome.state  # finished or stopped
            self.notify(f"training {outcome.state} at step {self.run_.step:,}; q quits", timeout=8)
        self.set_timer(0.3, self._redraw_now)  # once the pump has moved the last points: the whole run

    def _poll_watched(self) -> None:
        """The watched job's state, notices from the watcher and its control replies, and a
        source that was truncated or replaced (everything shown is dropped and read anew)."""
        w = self.run_
        if w.generation != self._generation:
            self._generation = w.generation
            self._events_seen = 0
            self._marks.clear()
            self._feed.clear()
            self._alerts = self.acked = 0
            self._smoothed = None
            self._drawn_key = None
        while w.notices:
            severity, text = w.notices.popleft()
            self.notify(text, severity=severity, timeout=6 if severity != "error" else 12)
        state = w.job if w.loaded or w.job != "running" else "loading"
        if state != self.state:
            old, self.state = self.state, state
            if old == "loading":
                self._rate = RateMeter()  # the catch-up is not the job's speed
            if state in ENDED and old in ("running", "loading"):
                detail = f" ({w.job_detail})" if w.job_detail else ""
                bad = state in ("failed", "gone")
                self.notify(f"the job is {state}{detail}; q quits", severity="error" if bad else "information", timeout=15)
                self.set_timer(0.3, self._redraw_now)
            self.refresh_bindings()

    def _drain_output(self) -> None:
        if self.capture is None:
            return
        lines = self.capture.drain()
        if lines:
            out = self.query_one("#output", RichLog)
            for line in lines:
                out.write(line)

    def _take_events(self) -> None:
        events = self.run_.store.events
        if self._events_seen >= len(events):
            return
        for ev in events[self._events_seen:len(events)]:
            self._on_event(ev)
        self._events_seen = len(events)
        self.query_one("#events", TextPanel).show(self.events_text())

    def _on_event(self, ev: dict) -> None:
        kind = ev.get("event")
        step = int(ev.get("step", 0) or 0)
        if kind == "alert":
            sev = ev.get("severity", "warning")
            if ev.get("state") == "resolved":  # shown, but neither counted nor marked
                self._feed.append((step, "muted", describe(ev)))
                return
            self._alerts += 1
            keys = not (self.watching and self.run_.read_only)  # no key hints where keys cannot act
            key = ev.get("key")
            text = describe(ev, keys) + (f"  [{key}]" if keys and key and not ev.get("advice") else "")
            self._feed.append((step, SEVERITY_STYLE.get(sev, "alert_warning"), text))
            self._marks.append(Mark(step, sev if sev in SEVERITY_STYLE else "warning"))
            now = time.monotonic()
            if sev == "critical" and now - self._last_toast > 5.0:  # one toast for a burst of them
                self._last_toast = now
                self.notify(ev.get("message", "alert"), severity="error", timeout=10)
            return
        if kind in ("lr_change", "lr_commit"):
            self.lr_note = ""
            if kind == "lr_change" and ev.get("applied", True):
                self._marks.append(Mark(step, "lr"))
            elif not ev.get("applied", True):
                self.notify(describe(ev), severity="warning")
        if kind == "checkpoint" and ev.get("source") == "key":
            self.notify(describe(ev), severity="information" if ev.get("ok") else "error")
        if kind in ("resume", "pause") and ev.get("source") == "stop":
            return
        self._feed.append((step, _EVENT_STYLE.get(kind, "muted"), describe(ev)))

    # ---- actions (keys) -----------------------------------------------------------------------

    def _can_steer(self) -> bool:
        if not self.training_alive:
            if self.watching and self.run_.job == "running":
                self.notify("no control channel to this job (yet)", severity="warning")
            else:
                self.notify("training is not running", severity="warning")
            return False
        return True

    def _lr_controllable(self) -> bool:
        """LR keys need a watched optimizer; before training has logged anything, watch() may
        simply not have run yet, so the request waits for it."""
        if self.run_.lr_watched or self.run_.store.last_step == 0:
            return True
        self.notify("LR control needs run.watch(optimizer) in the training function", severity="warning")
        return False

    def action_lr(self, factor: float) -> None:
        if not self._can_steer():
            return
        if not self._lr_controllable():
            return
        self.run_.scale_lr(factor, source="key")
        self.lr_note = f"LR x{factor:g}"
        self._refresh_status()

    def action_lr_reset(self) -> None:
        if not self._can_steer():
            return
        if self.run_.lr_scale == 1.0 and not self.run_.lr_change_pending:
            self.notify("the LR multiplier is already 1")
            return
        self.run_.reset_lr(source="key")
        self.lr_note = "LR multiplier -> 1"
        self._refresh_status()

    def action_lr_dialog(self) -> None:
        if not self._can_steer():
            return
        if not self._lr_controllable():
            return
        lr = self.run_.store.series("lr")
        current = fmt_lr(lr.last()[1]) if lr is not None and lr.last() else "unknown"

        def apply(value: float | None) -> None:
            if value is not None and self.training_alive:
                self.run_.set_lr(value, source="key")
                self.lr_note = f"LR -> {value:g}"
                self._refresh_status()

        self.push_screen(LRDialog(current), apply)

    def action_pause(self) -> None:
        if not self._can_steer():
            return
        if self.run_.pause_requested:
            self.run_.resume(source="key")
        else:
            self.run_.pause(source="key")
        self._refresh_status()

    def action_checkpoint(self) -> None:
        if not self._can_steer():
            return
        self.run_.checkpoint(source="key")
        self.notify("checkpoint requested: it runs at the training loop's next step")

    def action_stop(self) -> None:
        if not self.training_alive:
            self.notify("training is not running; q quits")
            return
        if not self.run_.should_stop:
            self.run_.stop(source="key")
            self.notify("stopping training at its next step; the app stays open (q quits)")
        self._refresh_status()

    def action_interrupt(self) -> None:
        """Ctrl+C: stop the local training gracefully; a watcher just leaves (the job goes on)."""
        if self.watching:
            self.exit()
        else:
            self.action_stop()

    async def action_quit(self) -> None:
        if self.watching:  # the job goes on without this view
            self.exit()
            return
        if self.quitting:  # a second q while waiting for the trainer: leave it behind
            self.forced = True
            self.exit()
            return
        if not self.training_alive:
            self.exit()
            return
        if self.run_.should_stop:
            self._begin_quit()
            return

        def answer(yes: bool | None) -> None:
            if yes:
                self._begin_quit()

        self.push_screen(ConfirmQuit(), answer)

    def _begin_quit(self) -> None:
        self.quitting = True
        self.run_.stop(source="key")
        self.notify("waiting for training to return at its next step; q again forces", timeout=30)
        self._refresh_status()

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self._redraw_now()

    def action_smoothing(self) -> None:
        self.smoothing_i = (self.smoothing_i + 1) % len(SMOOTHING)
        self._smoothed = None  # rebuilt, catching up over a few ticks on long histories
        self._redraw_now()

    def action_window(self) -> None:
        self.window_i = (self.window_i + 1) % len(WINDOWS)
        self._redraw_now()

    def action_ack(self) -> None:
        self.acked = self._alerts
        self._refresh_status()

    def action_help(self) -> None:
        w = self.run_
        self.push_screen(HelpScreen(watching=self.watching, read_only=self.watching and w.read_only))

    def _refresh_status(self) -> None:
        self.query_one("#status", TextLines).show(self.status_text())

    def _redraw_now(self) -> None:
        self._drawn_key = None
        self.plot_tick()
