"""Alerts as run-log events, and the episode bookkeeping that debounces them.

An ongoing condition is one episode: it opens with one alert, may send one update when it gets
worse (a spike that persists, overfitting that is confirmed), and closes with a resolution. A
detector never emits per step.

Event shape (`{"event": "alert", ...}` in run.jsonl and the store):
    kind      stable id: nonfinite, spike, divergence, oscillation, plateau, lr_too_low,
              stall, lr_drop, overfitting, early_stopping, lr_probe, gpu_memory, gpu_idle
    severity  info | warning | critical
    state     open | update | resolved
    step      the step the condition was seen at
    metric    the series it concerns (loss, val_loss, grad_norm, ...)
    message   plain words with the numbers
    advice    what to do, in words
    action    the id of the view action that does it (views/keys.py), when there is one
(lossmon/events.py lists every event's fields.)
"""

from __future__ import annotations

from typing import Callable

from lossmon import events

SEVERITIES = ("info", "warning", "critical")

# What each condition usually calls for: the words, and the id of the view action that does it
# (views/keys.py binds a key to each id; a view with keys shows it, `lossmon check` shows words).
ADVICE: dict[str, tuple[str, str | None]] = {
    "cut_lr": ("cut the LR", "lr_half"),
    "raise_lr": ("try the LR x2", "lr_double"),
    "probe_lr": ("probe it: the LR x2 for 200 steps, then back, and a verdict", "lr_probe"),
    "keep_probe": ("keep the probed LR", "lr_double"),
    "keep_probe_any": ("keep the probed LR (scale it by the same factor)", None),
    "keep_lr": ("keep the current LR", None),
    "probe_later": ("probe again later in the run", None),
    "longer_probe": ("keep the current LR, or probe longer (lossmon ctl probe x2 2000)", None),
    # a view without snapshots shows the key for lr_half instead (views/tui/app.py: key_of)
    "rollback": ("roll back to a snapshot from before it (or cut the LR)", "rollback"),
    "check_data": ("check that labels match inputs and weights get gradients, then try the LR x2 or /2", None),
    "none": ("", None),
    "early_stop": ("consider stopping and keeping the best checkpoint", "stop"),
}


Sink = Callable[[dict], None]


def is_raised(alert: dict) -> bool:
    """A warning or critical alert that opened or got worse: what `lossmon check` exits 1 on and
    what plain mode's last line sums up."""
    return (alert.get("event", events.ALERT) == events.ALERT and alert.get("state") != "resolved"
            and alert.get("severity") in ("warning", "critical"))


class Episode:
    """One detector's condition on one metric: open -> (update) -> resolved, one event each."""

    def __init__(self, sink: Sink, kind: str, metric: str) -> None:
        self.sink = sink
        self.kind = kind
        self.metric = metric
        self.open = False
        self.severity = ""
        self.opened_at: int | None = None
        self.spans: list[list] = []  # [opened, closed or None] of the latest episodes (for open_at)

    def open_at(self, step: int) -> bool:
        """Whether an episode was open at `step` (as opposed to now): a judgement made at a block's
        last step must see the state at that step, whatever the feed's batch size."""
        return any(a <= step and (b is None or step < b) for a, b in self.spans)

    def _ended(self, step: int | None) -> None:
        if self.spans and self.spans[-1][1] is None:
            self.spans[-1][1] = step if step is not None else self.spans[-1][0]

    def _send(self, state: str, step: int, severity: str, message: str, advice: str, **data) -> None:
        text, action = ADVICE[advice]
        ev = {"event": events.ALERT, "kind": self.kind, "severity": severity, "state": state,
              "step": int(step), "metric": self.metric, "message": message, "advice": text}
        if action:
            ev["action"] = action
        ev.update(data)
        self.sink(ev)

    def start(self, step: int, severity: str, message: str, advice: str = "none", **data) -> bool:
        """Open the episode (True), or do nothing if it is already open (False)."""
        if self.open:
            return False
        self.open, self.severity, self.opened_at = True, severity, step
        self.spans.append([int(step), None])
        del self.spans[:-64]
        self._send("open", step, severity, message, advice, **data)
        return True

    def escalate(self, step: int, severity: str, message: str, advice: str = "none", **data) -> None:
        """An update, only when the condition got more severe than it was reported."""
        if not self.open:
            self.start(step, severity, message, advice, **data)
            return
        if SEVERITIES.index(severity) <= SEVERITIES.index(self.severity):
            return
        self.severity = severity
        self._send("update", step, severity, message, advice, **data)

    def update(self, step: int, message: str, advice: str = "none", **data) -> None:
        """News on an open episode at the same severity (a blow-up that has settled at chance)."""
        if self.open:
            self._send("update", step, self.severity, message, advice, **data)

    def close(self) -> None:
        """End the episode without an event (nothing worth a line happened since it opened)."""
        self.open = False
        self._ended(None)

    def resolve(self, step: int, message: str, **data) -> None:
        if not self.open:
            return
        self.open = False
        self._ended(int(step))
        self._send("resolved", step, "info", message, "none", **data)
