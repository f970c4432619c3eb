"""The run's configuration (meta.json's "config": lossmon.config(), config_values=, the argparse
Namespace under `lossmon run`) as key = value lines, on a key."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.widgets import Label, Static

from lossmon.rundir.configvalues import shown
from lossmon.views.tui.screens import Dialog


def config_text(values: dict) -> Text:
    t = Text()
    if not values:
        t.append("no config recorded: lossmon.config(dict), lossmon.run(..., config_values=...), or an\n"
                 "argparse script under `lossmon run` (its Namespace is recorded by itself)")
        return t
    width = min(32, max(len(k) for k in values))
    for k, v in values.items():
        t.append(k.ljust(width), style="bold")
        t.append(f" = {shown(v)}\n")
    return t


class ConfigScreen(Dialog):
    BINDINGS = [Binding("escape,q,i", "close", "close")]

    def __init__(self, values: dict) -> None:
        super().__init__()
        self.values = values

    def compose(self) -> ComposeResult:
        with VerticalScroll(id="dialog"):
            yield Label("[b]config[/b] (meta.json)")
            yield Static(config_text(self.values))
            yield Label("Esc closes")

    def action_close(self) -> None:
        self.dismiss(None)
