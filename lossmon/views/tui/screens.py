"""Modal screens: type an exact LR, confirm quitting while training runs, confirm a rollback, the
key help (made from the key table, views/keys.py)."""

from __future__ import annotations

from typing import Callable

from rich.text import Text
from textual.app import ComposeResult
from textual.await_complete import AwaitComplete
from textual.binding import Binding
from textual.command import CommandPalette
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label, Static

from lossmon.formatting import fmt_step
from lossmon.training.lr import check_positive
from lossmon.views import rollback as rb
from lossmon.views.keys import help_rows


class Dialog(ModalScreen):
    """A modal screen that closes once: Screen.dismiss pops whatever screen is on top, so a key
    still queued for a dialog already closed (a burst, a paste) would pop the one under it, at last
    the app's own screen (ScreenStackError: the UI gone). Only the top screen may dismiss."""

    def dismiss(self, result=None) -> AwaitComplete:
        if not self.is_active:
            return AwaitComplete()
        return super().dismiss(result)


class LRDialog(Dialog):
    """Asks for an LR; rejects anything but a finite number > 0, with the reason, and stays open."""

    BINDINGS = [Binding("escape", "cancel", "cancel")]

    def __init__(self, current: str) -> None:
        super().__init__()
        self.current = current

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label(f"Set the learning rate (now {self.current}); Enter applies, Esc cancels")
            yield Input(placeholder="e.g. 3e-4", id="lr-input")
            yield Label("", id="lr-error")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            value = check_positive(event.value.strip(), "the learning rate")
        except ValueError as e:
            self.query_one("#lr-error", Label).update(str(e))
            return
        self.dismiss(value)

    def action_cancel(self) -> None:
        self.dismiss(None)


class ConfirmQuit(Dialog):
    """Quitting while training runs: stop it gracefully first (y or q), or go back (n, Esc)."""

    BINDINGS = [
        Binding("y,q,enter", "answer(True)", "stop training and quit"),
        Binding("n,escape", "answer(False)", "keep training"),
    ]

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("Training is still running. Stop it at the next step and quit?")
            yield Label("[b]y[/b]/[b]q[/b] stop and quit    [b]n[/b]/[b]Esc[/b] keep training")

    def action_answer(self, yes: bool) -> None:
        self.dismiss(yes)


class RollbackDialog(Dialog):
    """Which snapshot (up/down picks another), how many batches to skip and an optional LR scale;
    Enter asks for the rollback, Esc cancels. Dismisses with the request's fields, or None."""

    BINDINGS = [Binding("escape", "cancel", "cancel"), Binding("up", "pick(-1)", "older", priority=True),
                Binding("down", "pick(1)", "newer", priority=True)]

    def __init__(self, snapshots: list[dict], step: int, now: float, onset: tuple[str, int] | None,
                 live: Callable[[], tuple[int, float]] | None = None) -> None:
        super().__init__()
        self.snapshots, self.step, self.now, self.onset = snapshots, step, now, onset
        self.live = live  # (the run's step, the wall time) now: the words stay true while it is open
        self.index = rb.default_snapshot(snapshots, onset[1] if onset else None)

    def on_mount(self) -> None:
        if self.live is not None:
            self.set_interval(1.0, self._refresh)

    def _refresh(self) -> None:
        """Training goes on while the dialog is open: how far back the snapshot is grows with it."""
        try:
            self.step, self.now = self.live()  # type: ignore[misc]
        except Exception:  # noqa: BLE001 - a job that went away: the words stay as they were
            return
        self.query_one("#rb-snapshot", Label).update(self._which())

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("[b]Roll back[/b] at the next step: restore a snapshot and skip the batches after it")
            if self.onset:
                yield Label(f"the {self.onset[0]} alert opened at step {fmt_step(self.onset[1])}")
            yield Label(self._which(), id="rb-snapshot")
            yield Label("batches to skip after the snapshot's data position (at least those read since it):")
            yield Input(value=str(rb.DEFAULT_SKIP), id="rb-skip")
            yield Label("LR scale after it (empty: unchanged; 0.5 halves it):")
            yield Input(placeholder="e.g. 0.5", id="rb-lr")
            yield Label("", id="rb-error")
            yield Label("[b]Enter[/b] rolls back    [b]Esc[/b] cancels    [b]up/down[/b] another snapshot")

    def _which(self) -> str:
        snap = self.snapshots[self.index]
        n = len(self.snapshots)
        return f"snapshot {self.index + 1} of {n}: {rb.snapshot_words(snap, self.step, self.now)}"

    def action_pick(self, delta: int) -> None:
        self.index = max(0, min(len(self.snapshots) - 1, self.index + delta))
        self.query_one("#rb-snapshot", Label).update(self._which())

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            skip = rb.check_skip(self.query_one("#rb-skip", Input).value)
            text = self.query_one("#rb-lr", Input).value.strip()
            scale = check_positive(text, "the LR scale") if text else None
        except ValueError as e:
            self.query_one("#rb-error", Label).update(str(e))
            return
        self.dismiss({"to_step": self.snapshots[self.index]["step"], "skip_batches": skip, "lr_scale": scale})

    def action_cancel(self) -> None:
        self.dismiss(None)


class NoSnapshots(Dialog):
    """The rollback key on a run without snapshots: what to do to have them."""

    BINDINGS = [Binding("escape,enter,q,r", "close", "close")]

    def __init__(self, snapshotting: bool) -> None:
        super().__init__()
        self.snapshotting = snapshotting

    def compose(self) -> ComposeResult:
        with Vertical(id="dialog"):
            yield Label("[b]No snapshot to roll back to[/b]")
            yield Static(rb.no_snapshots_words(self.snapshotting))
            yield Label("Esc or Enter closes")

    def action_close(self) -> None:
        self.dismiss(None)


class HelpScreen(Dialog):
    BINDINGS = [Binding("escape,question_mark,q", "close", "close")]

    def __init__(self, watching: bool = False, read_only: bool = False) -> None:
        super().__init__()
        self.watching, self.read_only = watching, read_only

    def compose(self) -> ComposeResult:
        keys = help_rows(watching=self.watching, read_only=self.read_only)
        width = max(len(k) for k, _ in keys)
        body = Text()
        body.append("lossmon keys", style="bold")
        if self.read_only:
            body.append(" (a read-only view: these files have no job to steer)\n\n")
        elif self.watching:
            body.append(" (sent to the job over its control socket; they act at its next step)\n\n")
        else:
            body.append(" (LR and pause act at the training loop's next step)\n\n")
        for k, text in keys:
            body.append(k.ljust(width), style="bold")
            body.append(f"  {text}\n")
        with Vertical(id="dialog"):
            yield Static(body)
            yield Label("Esc or ? closes")

    def on_key(self, event) -> None:
        if event.key not in ("escape", "question_mark", "q"):
            self.dismiss(None)

    def action_close(self) -> None:
        self.dismiss(None)


class SafePalette(CommandPalette):
    """Textual's command palette, but a cursor key that arrives before its list is laid out (page
    up in a burst: KeyError in OptionList) is dropped instead of taking the whole UI down."""

    def _action_command_list(self, action: str) -> None:
        try:
            super()._action_command_list(action)
        except (KeyError, IndexError):
            pass
