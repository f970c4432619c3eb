"""Alerts as run-log events, and the episode bookkeeping that debounces them.

An ongoing condition is one episode: it opens with one alert, may send one update when it gets
worse (a spike that persists, overfitting that is confirmed), and closes with a resolution. A
detector never emits per step.

Event shape (`{"event": "alert", ...}` in run.jsonl and the store):
    kind      stable id: nonfinite, spike, divergence, oscillation, plateau, lr_too_low,
              overfitting, early_stopping
    severity  info | warning | critical
    state     open | update | resolved
    step      the step the condition was seen at
    metric    the series it concerns (loss, val_loss, grad_norm, ...)
    message   plain words with the numbers
    advice    what to do, in words; `key` is the UI key that does it ("" when none)
"""

from __future__ import annotations

from typing import Callable

from lossmon.views.text import fmt_value as fmt  # noqa: F401 - detectors format numbers like the status line

SEVERITIES = ("info", "warning", "critical")
KINDS = ("nonfinite", "spike", "divergence", "oscillation", "plateau", "lr_too_low", "overfitting",
         "early_stopping")

# What each condition usually calls for, with the key that does it in the live UI.
ADVICE = {
    "cut_lr": ("cut the LR ([ halves it)", "["),
    "raise_lr": ("try the LR x2 (])", "]"),
    "rollback": ("cut the LR ([) or restart from a checkpoint taken before it", "["),
    "none": ("", ""),
    "early_stop": ("consider stopping (s) and keeping the best checkpoint", "s"),
}


def fmt_step(step: int) -> str:
    return f"{step:,}".replace(",", " ")


def pct(x: float) -> str:
    return f"{x * 100:.0f} %" if abs(x) >= 0.095 else f"{x * 100:.2g} %"


Sink = Callable[[dict], None]


def is_raised(alert: dict) -> bool:
    """A warning or critical alert that opened or got worse: what `lossmon check` exits 1 on and
    what plain mode's last line sums up."""
    return (alert.get("event", "alert") == "alert" and alert.get("state") != "resolved"
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

    def _send(self, state: str, step: int, severity: str, message: str, advice: str, **data) -> None:
        text, key = ADVICE[advice]
        ev = {"event": "alert", "kind": self.kind, "severity": severity, "state": state,
              "step": int(step), "metric": self.metric, "message": message, "advice": text, "key": key}
        ev.update(data)
        self.sink(ev)

    def start(self, step: int, severity: str, message: str, advice: str = "none", **data) -> bool:
        """Open the episode (True), or do nothing if it is already open (False)."""
        if self.open:
            return False
        self.open, self.severity, self.opened_at = True, severity, step
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

    def close(self) -> None:
        """End the episode without an event (nothing worth a line happened since it opened)."""
        self.open = False

    def resolve(self, step: int, message: str, **data) -> None:
        if not self.open:
            return
        self.open = False
        self._send("resolved", step, "info", message, "none", **data)
