"""Any logged metric on the main plot (#19 item 6): the picker (type to filter, Enter chooses,
Tab says whether it joins or replaces the loss curves, Esc closes) and the plot it makes.

A metric whose name says it is a loss shares the loss axis; any other (accuracy, grad norm, LR)
gets a y axis of its own on the right, since its units are not the loss's.
"""

from __future__ import annotations

from dataclasses import dataclass

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.widgets import Input, Label, OptionList
from textual.widgets.option_list import Option

from lossmon import names
from lossmon.recording.store import Series
from lossmon.views.metricfilter import filter_names
from lossmon.views.tui.overlay import Curve, render_curves
from lossmon.views.tui.plotimage import Mark, PlotImage
from lossmon.views.tui.screens import Dialog

RESET = "\0loss curves"  # the picker's first entry: back to the loss curves
RESET_LABEL = "⟲ the loss curves only (reset)"


@dataclass(frozen=True)
class Choice:
    """What the picker answered: a metric, and whether it replaces the loss curves."""

    name: str | None  # None: back to the loss curves
    replace: bool = False


class MetricPicker(Dialog):
    BINDINGS = [Binding("escape", "cancel", "close"), Binding("tab", "toggle_mode", "join / replace"),
                Binding("down", "move(1)", show=False), Binding("up", "move(-1)", show=False)]

    def __init__(self, metrics: list[str], current: str | None = None, replace: bool = False) -> None:
        super().__init__()
        self.metrics = metrics
        self.current = current
        self.replace = replace

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Plot a metric: type to filter, Enter chooses, Esc closes", id="pick-title")
            yield Input(placeholder="filter, e.g. acc", id="pick-input")
            yield OptionList(id="pick-list")
            yield Label(self._mode_text(), id="pick-mode")

    def on_mount(self) -> None:
        self._fill("")
        self.query_one("#pick-input", Input).focus()

    def _mode_text(self) -> str:
        return "Tab: " + ("[b]replaces[/b] the loss curves" if self.replace else "[b]joins[/b] the loss curves")

    def _fill(self, query: str) -> None:
        ol = self.query_one("#pick-list", OptionList)
        ol.clear_options()
        shown = filter_names(query, self.metrics)
        options = [] if query.strip() else [Option(RESET_LABEL, id=RESET)]
        options += [Option(n + ("  (shown)" if n == self.current else ""), id=n) for n in shown]
        if not options:
            options = [Option("no metric matches", id=None, disabled=True)]
        ol.add_options(options)
        ol.highlighted = 0 if options[0].id is not None else None

    def on_input_changed(self, event: Input.Changed) -> None:
        self._fill(event.value)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        ol = self.query_one("#pick-list", OptionList)
        if ol.highlighted is not None:
            self._choose(ol.get_option_at_index(ol.highlighted).id)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self._choose(event.option.id)

    def _choose(self, option_id: str | None) -> None:
        if option_id is None:
            return
        self.dismiss(Choice(None) if option_id == RESET else Choice(option_id, self.replace))

    def action_move(self, by: int) -> None:
        ol = self.query_one("#pick-list", OptionList)
        if ol.option_count:
            ol.highlighted = ((ol.highlighted or 0) + by) % ol.option_count

    def action_toggle_mode(self) -> None:
        self.replace = not self.replace
        self.query_one("#pick-mode", Label).update(self._mode_text())

    def action_cancel(self) -> None:
        self.dismiss(None)


def shares_loss_axis(series: Series) -> bool:
    return series.role in (names.TRAIN_LOSS, names.VAL_LOSS) or "loss" in series.name.lower()


def metric_plot(width: int, height: int, metric: Series | None, name: str, *, replace: bool,
                train: Series | None, smooth: Series | None, val: Series | None, start: float | None,
                end: float | None, log: bool, marks: list[Mark]) -> PlotImage:
    """The loss curves with `metric` beside them (or it alone, with `replace`)."""
    right = metric is not None and not shares_loss_axis(metric) and not replace
    curves: list[Curve] = []
    legend: list[tuple[str, str]] = []
    if not replace:
        if smooth is not None:
            if train is not None:
                curves.append(Curve(train, "train_raw"))
            curves.append(Curve(smooth, "train"))
        elif train is not None:
            curves.append(Curve(train, "train"))
        if val is not None:
            curves.append(Curve(val, "val"))
        legend += [("━ train  ", "train"), ("━ val  ", "val")]
    if metric is not None:
        curves.append(Curve(metric, "metric", right=right))
    legend.append((f"━ {name}" + (" (right axis)" if right else ""), "metric"))
    legend.append(("   (/: another metric, or reset)", "legend"))
    log_here = log and (not replace or (metric is not None and shares_loss_axis(metric)))
    return render_curves(width, height, curves, legend=legend, start=start, end=end, log=log_here,
                         right_log=False, marks=marks, waiting=f"waiting for the first value of {name} ...")
