"""The key table: every action a view offers, its key, its footer label and its help line.

The TUI's bindings, its help screen and the key hints in alerts are all made from this table, so a
key is changed here once. Diagnosis advice names an action by its id (diagnosis/alerts.py: ADVICE);
`key_of` tells a view which key to show for it.
"""

from __future__ import annotations

from dataclasses import dataclass

SMOOTHING = (0.0, 0.6, 0.9, 0.99)  # what `m` cycles through (0: off)
WINDOWS = ("all", "last 10 %", "last 1k steps")  # what `w` cycles through


@dataclass(frozen=True)
class Action:
    id: str  # stable id: what diagnosis advice names
    keys: tuple[str, ...]  # Textual key names, the first one shown
    command: str  # the Textual action it runs, with its arguments
    label: str  # what it does, in a word or two
    footer: bool = False  # shown in the footer
    steers: bool = False  # acts on the job: hidden in a read-only view
    priority: bool = False  # handled before any widget or dialog sees the key


ACTIONS: tuple[Action, ...] = (
    Action("lr_double", ("right_square_bracket",), "lr(2.0)", "LR x2", footer=True, steers=True),
    Action("lr_half", ("left_square_bracket",), "lr(0.5)", "LR /2", footer=True, steers=True),
    Action("lr_up", ("plus",), "lr(1.25)", "LR x1.25", steers=True),
    Action("lr_down", ("minus",), "lr(0.8)", "LR x0.8", steers=True),
    Action("lr_reset", ("0",), "lr_reset", "LR x1", steers=True),
    Action("lr_set", ("l",), "lr_dialog", "set LR", footer=True, steers=True),
    Action("lr_probe", ("t",), "lr_probe", "try LR x2", steers=True),
    Action("pause", ("p", "space"), "pause", "pause", footer=True, steers=True),
    Action("checkpoint", ("c",), "checkpoint", "ckpt", footer=True, steers=True),
    Action("rollback", ("r",), "rollback_dialog", "roll back", steers=True),
    Action("stop", ("s",), "stop", "stop", footer=True, steers=True),
    Action("quit", ("q",), "quit", "quit", footer=True),
    Action("interrupt", ("ctrl+c",), "interrupt", "stop", priority=True),
    Action("log_y", ("y",), "toggle_log", "log/lin y"),
    Action("forecast", ("f",), "toggle_forecast", "forecast"),
    Action("smoothing", ("m",), "smoothing", "smoothing"),
    Action("window", ("w",), "window", "window"),
    Action("ack", ("a",), "ack", "ack alerts"),
    Action("metric", ("slash",), "pick_metric", "plot a metric"),
    Action("config", ("i",), "show_config", "config"),
    Action("help", ("question_mark",), "help", "help", footer=True),
)

BY_ID = {a.id: a for a in ACTIONS}
STEERING_COMMANDS = frozenset(a.command.partition("(")[0] for a in ACTIONS if a.steers)

_DISPLAY = {"right_square_bracket": "]", "left_square_bracket": "[", "plus": "+", "minus": "-",
            "question_mark": "?", "slash": "/"}


def display(key: str) -> str:
    """How a Textual key name reads on screen: 'left_square_bracket' -> '['."""
    return _DISPLAY.get(key, key)


def key_of(action_id: str | None) -> str | None:
    """The key shown for an action id (None when there is no such action)."""
    action = BY_ID.get(action_id or "")
    return display(action.keys[0]) if action else None


def _choices(values) -> str:
    return " / ".join("off" if v == 0 else f"{v:g}" if isinstance(v, float) else str(v) for v in values)


# The help screen, a line per row: (action ids, what they do, what they do in a watcher if other).
HELP: tuple[tuple[tuple[str, ...], str, str | None], ...] = (
    (("lr_double", "lr_half"), "LR x2 / x0.5 (from the next optimizer step)", None),
    (("lr_up", "lr_down"), "LR x1.25 / x0.8", None),
    (("lr_reset",), "LR multiplier back to 1 (the schedule's own LR)", None),
    (("lr_set",), "type an exact LR", None),
    (("lr_probe",), "probe the LR: x2 for 200 steps, then back; says whether to keep it", None),
    (("pause",), "pause / resume training", None),
    (("checkpoint",), "checkpoint now (on_checkpoint runs in the training thread)", None),
    (("rollback",), "roll back to a snapshot and skip the batches after it (asks first)", None),
    (("stop",), "stop training gracefully; the app stays open", "stop the job gracefully at its next step"),
    (("quit",), "quit (asks while training runs; q again while stopping forces)", "close this view (the job goes on)"),
    (("interrupt",), "stop training gracefully", "close this view (the job goes on)"),
    (("log_y",), "log / linear y axis", None),
    (("forecast",), "show / hide the forecast to total_steps (dashed, with its interval)", None),
    (("smoothing",), f"smoothing: {_choices(SMOOTHING)}", None),
    (("window",), f"window: {_choices(WINDOWS)}", None),
    (("ack",), "acknowledge alerts", None),
    (("metric",), "plot any logged metric beside the losses, or instead (type to filter)", None),
    (("config",), "the run's config (lossmon.config, argparse under lossmon run)", None),
    (("help",), "this help", None),
)


def help_rows(*, watching: bool = False, read_only: bool = False) -> list[tuple[str, str]]:
    """(keys, text) per help line for this kind of view: a watcher's words where they differ, and
    no steering keys in a read-only view."""
    rows = []
    for ids, text, watch_text in HELP:
        actions = [BY_ID[i] for i in ids]
        if read_only and any(a.steers for a in actions):
            continue
        keys = "  ".join(display(k) for a in actions for k in a.keys)
        rows.append((keys, watch_text if watching and watch_text else text))
    return rows
