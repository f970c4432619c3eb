"""The live terminal UI: a Textual app that shows a run's store and steers it with keys.

Data flows one way: the training thread only appends to the run; this app polls the store on two
timers -- numbers at `fps`, the plot at `plot_hz` -- and repaints only what changed. Keys act
through the run's control calls (views/protocol.py: RunView), the same ones a script can use.

What it shows comes with a job (JobView): training in this process, which the session starts
through `job.start()` once the app is up, or a job started elsewhere that `lossmon watch` reads
from its files and steers over its control socket; quitting then never touches the job. The words
come from views/text.py, the keys from views/keys.py, the colours from palette.py.
"""

from __future__ import annotations

import asyncio
import signal
import time
from typing import Callable

from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.css.query import NoMatches
from textual.widgets import Footer, RichLog

from lossmon import events, names, states
from lossmon.formatting import fmt_lr, fmt_step, step_label
from lossmon.notify import rings
from lossmon.recording.smoothing import Smoothed
from lossmon.rundir.layout import OUTPUT_LOG
from lossmon.views import keys as key_table
from lossmon.views import text
from lossmon.views.keys import SMOOTHING, WINDOWS
from lossmon.views.protocol import JobView, NoJob, RunView
from lossmon.views.rate import RateMeter
from lossmon.views.sparkline import spark_text
from lossmon.views.tui.capture import OutputCapture
from lossmon.views.tui.configscreen import ConfigScreen
from lossmon.views.tui.governor import Governor
from lossmon.views.tui.keygate import KeyGate
from lossmon.views.tui.metricpick import Choice, MetricPicker, metric_plot
from lossmon.views.tui.palette import theme_styles
from lossmon.views.tui.plotimage import Mark, render_plot
from lossmon.views import rollback as rb
from lossmon.views.tui.screens import ConfirmQuit, HelpScreen, LRDialog, NoSnapshots, RollbackDialog, SafePalette
from lossmon.views.tui.system_panel import SystemLine, SystemPanel
from lossmon.views.tui.widgets import LossPlot, OutputLog, TextLines, TextPanel
from lossmon.views.system import has_system

WATCH_LOOK_S = 0.05  # how often a watcher's view looks for new data between ticks
MAX_SPARKS = 7  # metric rows in the side panel
_NARROW, _SHORT = 110, 32  # below these the side panels stack under the plot / the log pane hides


def bindings() -> list[Binding]:
    """The app's bindings, made from the key table."""
    out = []
    for a in key_table.ACTIONS:
        shown = key_table.display(a.keys[0])
        out.append(Binding(",".join(a.keys), a.command, a.label, show=a.footer, priority=a.priority,
                           key_display=shown if shown != a.keys[0] else None))
    return out


def styled(lines: list[list[text.Segment]], palette: dict, width: int | None = None) -> Text:
    """Segments as one Rich Text, a line each; with `width`, each line fitted to it."""
    t = Text(no_wrap=True, overflow="ellipsis")
    for i, parts in enumerate(lines):
        if i:
            t.append("\n")
        for chunk, style, _ in (text.fit(parts, width) if width is not None else parts):
            t.append(chunk, style=palette.get(style, style) if style else None)
    return t


class LossmonApp(App[int]):
    """Shows one run live, with its job (none: a store shown as it is, for tests and screenshots)."""

    CSS_PATH = "app.tcss"
    TITLE = "lossmon"
    BINDINGS = bindings()

    def __init__(self, run: RunView, job: JobView | None = None, *,
                 fps: float = 10.0, plot_hz: float = 4.0, ui_budget: float = 0.02, handle_signals: bool = False,
                 capture_output: bool = True, started: float | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        if not fps > 0 or not plot_hz > 0:
            raise ValueError("fps and plot_hz must be > 0")
        self.run_ = run
        self.job = job if job is not None else NoJob()
        self.watching = not self.job.in_process  # a job started elsewhere: steered over its socket
        self.governor = Governor(float(fps), float(plot_hz), ui_budget)
        self.handle_signals = handle_signals
        self.clock = clock
        self.started = clock() if started is None else started
        self.capture = (OutputCapture(run.dir / OUTPUT_LOG if run.dir else None)
                        if capture_output and self.job.in_process else None)
        self.state = self.job.state
        self._generation = 0
        self._ticked_version = -1
        self.ended_at: float | None = None
        self.signum: int | None = None
        self.forced = False
        self.quitting = False
        self.log_y = True
        self.smoothing_i = 2  # 0.9: a per-step minibatch loss needs more than TensorBoard's 0.6
        self.window_i = 0
        self.acked = 0  # alerts acknowledged (the first `acked` alert events)
        self.lr_note = ""  # an LR request waiting for the next optimizer step
        self.show_forecast = True  # the dashed continuation to total_steps (key f)
        self._smoothed: Smoothed | None = None
        self._drawn_key: tuple | None = None
        self._events_seen = 0
        self.marks: list[Mark] = []  # what the plot's x axis marks: LR changes and alerts
        self.feed: list[tuple[int, str, str]] = []  # the alerts & events panel: (step, style, text), oldest first
        self._alerts = 0
        self._last_toast = -1e9
        self._rate = RateMeter()
        self._signals_installed: list[int] = []
        self._styles: tuple[str, dict] | None = None
        self._redraw_queued = False
        self.key_gate = KeyGate()
        self._forecast_toast = -1e9
        self.bell_on: str | None = "critical"  # alerts this severe ring the terminal bell (notify.rings)
        self._last_bell = -1e9
        self.metric: str | None = None  # a metric picked for the plot (key /; metricpick.py)
        self.metric_replace = False  # ... instead of the loss curves, not beside them

    # ---- layout -------------------------------------------------------------------------------

    def compose(self) -> ComposeResult:
        yield TextLines(id="status")
        with Horizontal(id="main"):
            yield LossPlot(id="plot")
            with Vertical(id="side"):
                yield TextLines(id="sparks")
                yield SystemPanel(id="system")
                yield TextPanel(id="events")
        yield SystemLine(id="system-line")
        yield OutputLog(id="output", max_lines=5000, markup=False, wrap=False, auto_scroll=True)
        yield Footer()

    def on_mount(self) -> None:
        plot = self.query_one("#plot", LossPlot)
        plot.border_title = "loss"
        plot.on_new_size = self.redraw_now
        self.query_one("#sparks").border_title = "metrics"
        self.query_one("#events").border_title = "alerts & events"
        self.query_one("#system").border_title = "system"
        out = self.query_one("#output", RichLog)
        out.border_title = "training output"
        out.can_focus = False
        self._layout_for(self.size.width, self.size.height)
        self.set_class(self.watching, "-watch")
        if self.job.source_label:
            plot.border_subtitle = self.job.source_label
        if self.capture is not None:
            self.capture.install()
        if self.handle_signals:
            self._install_signals()
        self._gate_keys()
        self.job.start()  # after the capture: training output reaches the pane from its first line
        self.tick()
        self.plot_tick()
        self._heartbeat()

    def _gate_keys(self) -> None:
        """Keys pass the gate in the driver's input thread, before they become app messages
        (keygate.py: a paste of 200k characters froze the UI and its signals for minutes)."""
        from textual import events as tevents

        driver = getattr(self, "_driver", None)
        if driver is None:
            return
        process, gate = driver.process_message, self.key_gate

        def gated(message) -> None:
            if isinstance(message, tevents.Key) and not gate.admit():
                return
            process(message)

        driver.process_message = gated

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
        if hasattr(signal, "SIGQUIT") and signal.getsignal(signal.SIGQUIT) is not signal.SIG_IGN:
            loop.add_signal_handler(signal.SIGQUIT, self._on_sigquit)
            self._signals_installed.append(signal.SIGQUIT)
        self._guard_sigcont()

    def _guard_sigcont(self) -> None:
        """Textual's driver restarts application mode on every SIGCONT; after a plain SIGSTOP (not
        its own Ctrl+Z suspend) that re-reads the terminal settings while they are raw, and its exit
        then "restores" raw mode. Pass SIGCONT on only when the driver did suspend."""
        driver = getattr(self, "_driver", None)
        handler = signal.getsignal(signal.SIGCONT) if hasattr(signal, "SIGCONT") else None
        if driver is None or not callable(handler) or not hasattr(driver, "_must_signal_resume"):
            return

        def on_cont(signum, frame) -> None:
            if driver._must_signal_resume:  # suspended by SIGTSTP: the screen comes back
                handler(signum, frame)

        signal.signal(signal.SIGCONT, on_cont)

    def _on_sigquit(self) -> None:
        """SIGQUIT: leave now (the terminal restored, the run log closed as interrupted, without
        waiting for the trainer); the session then lets SIGQUIT take the process as it asks."""
        self.signum = signal.SIGQUIT
        self.forced = True
        if self.job.in_process:
            self.run_.stop(source="SIGQUIT")
        self.exit()

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
        is restored; the session waits for the trainer after that."""
        if self.signum is None:
            self.signum = sig
            if self.job.in_process:  # a watched job is not ours to stop
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
        self._poll_job()
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
        forecasts = self.shown_forecasts()
        key = (store.version, plot.size, self.log_y, self.smoothing_i, self.window_i, len(self.marks),
               self._smoothed.behind if self._smoothed else False, self.theme, tuple(map(id, forecasts.values())),
               self.metric, self.metric_replace)
        if key == self._drawn_key and not (self._smoothed and self._smoothed.behind):
            return
        self._drawn_key = key
        styles = self.palette()
        start, end = self.window()
        smooth = self._smoothed.series if (self._smoothed and SMOOTHING[self.smoothing_i] > 0) else None
        if self.metric is not None:
            image = metric_plot(plot.size.width, plot.size.height, store.series(self.metric), self.metric,
                                replace=self.metric_replace, train=train, smooth=smooth,
                                val=store.by_role(names.VAL_LOSS), start=start, end=end, log=self.log_y, marks=self.marks)
        else:
            gone = store.abandoned_of(names.TRAIN_LOSS) + store.abandoned_of(names.VAL_LOSS)
            image = render_plot(plot.size.width, plot.size.height, train=train, smooth=smooth,
                                val=store.by_role(names.VAL_LOSS), start=start, end=end, log=self.log_y,
                                marks=self.marks, legend=self.legend(bool(forecasts), bool(gone)),
                                forecasts=forecasts, abandoned=gone)
        plot.show(image, styles)
        self.query_one("#sparks", TextLines).show(self.sparks_text(start, end))
        self._system_tick(store, styles, start, end)

    def _system_tick(self, store, styles: dict, start: float | None, end: float | None) -> None:
        """The system panel (or its one line), once the store holds system samples."""
        if not self.has_class("-system"):
            if not has_system(store):
                return
            self.add_class("-system")
        panel, line = self.query_one("#system", SystemPanel), self.query_one("#system-line", SystemLine)
        if panel.display:  # the layout shows one of the two (the line below 110x32): draw that one
            panel.update_from(store, styled, styles, start, end)
        if line.display:
            line.update_from(store, styled, styles)

    # ---- what the widgets show ----------------------------------------------------------------

    def palette(self) -> dict:
        """Plot and text styles for the current theme (computed once per theme)."""
        cached = self._styles
        if cached is None or cached[0] != self.theme:
            cached = self._styles = (self.theme, theme_styles(self))
        return cached[1]

    @property
    def training_alive(self) -> bool:
        return self.job.steerable

    def key_of(self, action_id: str | None) -> str | None:
        """The key for an action in this view; None where keys cannot act (a read-only view). An
        alert that advises a rollback names the LR cut's key where the run keeps no snapshots."""
        if action_id == "rollback" and not rb.snapshot_state(self.run_)[0]:
            action_id = "lr_half"
        return None if self.job.read_only else key_table.key_of(action_id)

    def check_action(self, action: str, parameters: tuple) -> bool | None:
        """A read-only view hides the steering keys; a watched job that has ended greys them."""
        if self.watching and action in key_table.STEERING_COMMANDS:
            if self.job.read_only:
                return False
            if self.job.state not in (states.RUNNING, states.LOADING):
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

    def shown_forecasts(self) -> dict:
        """The forecasts to draw ({"train"/"val": Forecast}): with the whole run in view, and not
        turned off with the forecast key."""
        if not self.show_forecast or WINDOWS[self.window_i] != "all":
            return {}
        got = self.run_.forecasts
        return {key: got[role] for key, role in (("train", names.TRAIN_LOSS), ("val", names.VAL_LOSS)) if role in got}

    def legend(self, forecast: bool = False, rolled_back: bool = False) -> str:
        beta = SMOOTHING[self.smoothing_i]
        y, window = f"y: {'log' if self.log_y else 'linear'}", f"window: {WINDOWS[self.window_i]}"
        ahead = ["┄ forecast"] if forecast else []
        gone = ["⠶ abandoned by a rollback", "↶ rollback"] if rolled_back else []
        parts = [f"━ train (smoothed {beta:g})  ⠤ raw" if beta else "━ train",
                 "━• val", *ahead, *gone, "▲ LR change", "! alert", "× NaN/inf", y, window]
        legend = "  ".join(parts)
        if len(legend) > self.query_one("#plot").size.width:
            legend = "  ".join([f"━ train ({beta:g})" if beta else "━ train", "━• val", *ahead,
                                *(["⠶ abandoned", "↶ rollback"] if rolled_back else []), "▲ LR", "! alert", y, window])
        return legend

    def display_state(self) -> str:
        return text.shown_state(self.state, self.run_, live=self.job.in_process or self.job.steerable,
                                quitting=self.quitting)

    def status_text(self) -> Text:
        """Two lines; parts of lower priority are left out when the terminal is too narrow, so
        nothing wraps and the state, step, LR and losses always show."""
        now = self.clock() if self.ended_at is None else self.ended_at
        state = self.display_state()
        rate = self._rate.rate() if state == states.RUNNING else None
        lines = text.tui_status(
            text.Status.of(self.run_), state=state, rate=rate,
            elapsed_s=None if self.watching else now - self.started,
            job_notes=text.job_notes(self.job, self.state, self.run_.store) if self.watching else [],
            lr_note=self.lr_note, new_alerts=self._alerts - self.acked)
        return styled(list(lines), self.palette(), self.size.width or 200)

    def sparks_text(self, start: float | None, end: float | None) -> Text:
        panel = self.query_one("#sparks", TextLines)
        width = max(10, panel.size.width)
        st = self.palette()
        colour = {"train": "train", "val": "val", "lr": "lr_mark"}
        label_w, value_w = 10, 9
        spark_w = max(1, width - label_w - value_w - 2)
        lines = []
        for label, s in text.spark_series(self.run_.store, MAX_SPARKS):
            log = self.log_y and s.role in (names.TRAIN_LOSS, names.VAL_LOSS, names.GRAD_NORM)
            lines.append([(label[:label_w].ljust(label_w), "label", 0),
                          (spark_text(s, spark_w, start, end, log=log), colour.get(label, "label"), 0),
                          (" " + text.spark_value(label, s).rjust(value_w), None, 0)])
        return styled(lines, st)

    def events_text(self) -> Text:
        st = self.palette()
        panel = self.query_one("#events", TextPanel)
        room = max(1, panel.size.height or 8)
        t = Text(overflow="fold")
        for step, key, line in list(reversed(self.feed))[:room]:
            t.append(f"{step_label(step):>6} ", style=st["label"])
            t.append(line + "\n", style=st.get(key, st["label"]))
        if not self.feed:
            t.append("no alerts; LR changes, pauses and checkpoints show here", style=st["muted"])
        return t

    # ---- polling helpers ----------------------------------------------------------------------

    def _poll_job(self) -> None:
        """The job's state, its notices, and a source that was truncated or replaced (everything
        shown is dropped and read anew)."""
        job = self.job
        if job.generation != self._generation:
            self._generation = job.generation
            self._events_seen = 0
            self.marks.clear()
            self.feed.clear()
            self._alerts = self.acked = 0
            self._smoothed = None
            self._drawn_key = None
        dropped = self.key_gate.take_dropped()
        if dropped:
            self.notify(f"ignored {dropped:,} keys that came faster than anyone types (a paste?)",
                        severity="warning", timeout=6)
        while job.notices:
            severity, note = job.notices.popleft()
            self.notify(note, severity=severity, timeout=6 if severity != "error" else 12)
        state = job.state
        if state == self.state:
            return
        old, self.state = self.state, state
        if old == states.LOADING:
            self._rate = RateMeter()  # the catch-up is not the job's speed
        if state in states.ENDED and old in (states.RUNNING, states.LOADING):
            self.ended_at = self.clock()
            self._announce_end(state)
            self.set_timer(0.3, self.redraw_now)  # once the last points are in: the whole run
        self.refresh_bindings()

    def _announce_end(self, state: str) -> None:
        if self.job.leave_when_empty and self.run_.step == 0 and all(
                names.role(n) == names.SYSTEM for n in self.run_.store.names()):
            self.exit()  # nothing to look at: what it printed goes to the terminal (session/lifecycle.py)
            return
        if self.watching:
            detail = f" ({self.job.detail})" if self.job.detail else ""
            bad = state in (states.FAILED, states.GONE)
            self.notify(f"the job is {state}{detail}; q quits", severity="error" if bad else "information", timeout=15)
            return
        failure = self.job.failure
        if failure is not None:
            message, traceback = failure
            if traceback:
                self.query_one("#output", RichLog).write(Text(traceback.rstrip(), style=self.palette()["error"]))
            self.notify(f"training raised {message}. The curves stay; q quits.", severity="error", timeout=30)
        else:
            self.notify(f"training {state} at step {self.run_.step:,}; q quits", timeout=8)

    def _drain_output(self) -> None:
        if self.capture is None:
            return
        lines, live = self.capture.take()  # finished lines, and a bar's row replaced in place
        if lines or live is not None:
            self.query_one("#output", OutputLog).show(lines, live)

    def _take_events(self) -> None:
        store_events = self.run_.store.events
        n = len(store_events)  # once: the pump thread may append while this loop runs
        if self._events_seen >= n:
            return
        for ev in store_events[self._events_seen:n]:
            self._on_event(ev)
        self._events_seen = n
        self.query_one("#events", TextPanel).show(self.events_text())

    def _on_event(self, ev: dict) -> None:
        entry = text.feed_entry(ev, self.key_of)
        if entry is not None:
            self.feed.append(entry)
        kind = ev.get("event")
        step = text.event_step(ev)
        if kind == events.ALERT:
            if ev.get("state") == "resolved":  # shown, but neither counted nor marked
                return
            sev = str(ev.get("severity", "warning"))  # a foreign log may hold anything there
            self._alerts += 1
            self.marks.append(Mark(step, sev if sev in text.SEVERITY_STYLE else "warning"))
            now = time.monotonic()
            self._ring(ev, now)
            if sev == "critical" and now - self._last_toast > 5.0:  # one toast for a burst of them
                self._last_toast = now
                self.notify(str(ev.get("message", "alert")), severity="error", timeout=10)
            return
        if kind in (events.LR_CHANGE, events.LR_COMMIT):
            self.lr_note = ""
            if kind == events.LR_CHANGE and ev.get("applied", True):
                self.marks.append(Mark(step, "lr"))
            elif not ev.get("applied", True):
                self.notify(text.describe(ev), severity="warning")
        if kind == events.ROLLBACK:
            if ev.get("applied", True):
                self.marks.append(Mark(step, "rollback"))
            self.notify(text.describe(ev), severity="information" if ev.get("applied", True) else "error", timeout=8)
        if kind == events.CHECKPOINT and ev.get("source") == "key":
            self.notify(text.describe(ev), severity="information" if ev.get("ok") else "error")

    def _ring(self, ev: dict, now: float) -> None:
        """The terminal bell for a new alert this severe (tmux and most terminals flag the window):
        once for a burst, and not for the old alerts a watcher reads on attaching."""
        if not self.bell_on or not rings(ev, self.bell_on) or now - self._last_bell < 5.0:
            return
        t = ev.get("time")
        if not self.job.in_process and not (isinstance(t, (int, float)) and time.time() - t < 30):
            return
        self._last_bell = now
        self.bell()

    # ---- actions (keys) -----------------------------------------------------------------------

    def _can_steer(self) -> bool:
        if not self.training_alive:
            if self.watching and self.job.state in (states.RUNNING, states.LOADING):
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

    def action_lr_probe(self) -> None:
        if not self._can_steer():
            return
        if not self._lr_controllable():
            return
        if self.run_.lr_probing:
            self.notify("an LR probe is already running")
            return
        self.run_.probe_lr(2.0, 200, source="key")
        self.lr_note = "LR probe x2 for 200 steps"
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

    def action_rollback_dialog(self) -> None:
        """Key r: confirm a rollback (which snapshot, batches to skip, an LR scale), or say how to
        have snapshots. The snapshot offered first is the newest before an open spike or
        divergence alert's onset, else the newest."""
        if not self._can_steer():
            return
        run = self.run_
        snapshotting, snaps, pending = rb.snapshot_state(run)
        if pending:
            self.notify("a rollback is already waiting for the training loop's next step")
            return
        if not snaps:
            self.push_screen(NoSnapshots(snapshotting))
            return
        onset = rb.open_onset(self.run_.store.events[:len(self.run_.store.events)])

        def apply(req: dict | None) -> None:
            if req is None or not self.training_alive:
                return
            try:
                self.run_.rollback(req["to_step"], req["skip_batches"], req["lr_scale"], source="key")
            except ValueError as e:
                self.notify(f"rollback refused: {e}", severity="error")
                return
            self.notify(f"rolling back to step {fmt_step(req['to_step'])} at the next step; the data resumes at"
                        f" least {fmt_step(req['skip_batches'])} batches past the snapshot's (the batches read since"
                        " it are never read again, so more are skipped when more were read)", timeout=8)
            self._refresh_status()

        self.push_screen(RollbackDialog(snaps, run.step, time.time(), onset, live=lambda: (run.step, time.time())),
                         apply)

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

    def action_toggle_forecast(self) -> None:
        self.show_forecast = not self.show_forecast
        now = time.monotonic()
        if now - self._forecast_toast > 1.0:  # one toast for a burst of presses
            self._forecast_toast = now
            self.notify("forecast " + ("shown (with the whole run in view: w)" if self.show_forecast else "hidden"))
        self.redraw_now()

    def action_toggle_log(self) -> None:
        self.log_y = not self.log_y
        self.redraw_now()

    def action_smoothing(self) -> None:
        self.smoothing_i = (self.smoothing_i + 1) % len(SMOOTHING)
        self._smoothed = None  # rebuilt, catching up over a few ticks on long histories
        self.redraw_now()

    def action_window(self) -> None:
        self.window_i = (self.window_i + 1) % len(WINDOWS)
        self.redraw_now()

    def action_ack(self) -> None:
        self.acked = self._alerts
        self._refresh_status()

    def action_pick_metric(self) -> None:
        """Any logged metric on the plot, beside or instead of the losses (metricpick.py)."""
        def chosen(choice: Choice | None) -> None:
            if choice is not None:
                self.metric, self.metric_replace = choice.name, choice.replace
                self.redraw_now()

        self.push_screen(MetricPicker(self.run_.store.names(), self.metric, self.metric_replace), chosen)

    def action_show_config(self) -> None:
        values = getattr(self.run_, "config_values", None)
        self.push_screen(ConfigScreen(values if isinstance(values, dict) else {}))

    def action_help(self) -> None:
        self.push_screen(HelpScreen(watching=self.watching, read_only=self.job.read_only))

    def action_command_palette(self) -> None:
        if self.use_command_palette and not SafePalette.is_open(self):
            self.push_screen(SafePalette(id="--command-palette"))

    def pop_screen(self):
        """Never the app's own screen: a dismiss queued by the command palette (or any screen)
        that has closed already must not take the whole UI down."""
        if len(self.screen_stack) <= 1:
            from textual.await_complete import AwaitComplete

            return AwaitComplete()
        return super().pop_screen()

    def _refresh_status(self) -> None:
        self.query_one("#status", TextLines).show(self.status_text())

    def redraw_now(self) -> None:
        """Draw the plot again soon, whatever the timers say (a resize, a key that changed the view):
        once the messages already queued are handled, so a burst of keys (a paste) costs one drawing,
        not one each."""
        self._drawn_key = None
        if not self._redraw_queued:
            self._redraw_queued = True
            self.call_later(self._redraw)

    def _redraw(self) -> None:
        self._redraw_queued = False
        self._drawn_key = None
        self.plot_tick()
