"""Plain-words descriptions of run events, shared by every view (plain printer, TUI, watch)."""

from __future__ import annotations

import re
from typing import Any

_KEY_HINT = re.compile(r" \([^()]*\)")


def fmt_lr(x: Any) -> str:
    try:
        return f"{float(x):.3g}"
    except (TypeError, ValueError):
        return str(x)


def fmt_value(x: float | None) -> str:
    """A metric value for a status line: 4 significant digits, non-finite spelled out."""
    if x is None:
        return "-"
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+inf" if x > 0 else "-inf"
    return f"{x:.4g}"


def without_keys(advice: str) -> str:
    """Advice for a reader with no keys to press (a read-only view, `lossmon check`):
    'cut the LR ([ halves it)' -> 'cut the LR'."""
    return _KEY_HINT.sub("", advice)


def describe(ev: dict, keys: bool = True) -> str:
    """One line saying what happened, with its numbers (`keys`: with the key hints in advice)."""
    kind = ev.get("event", "?")
    source = ev.get("source")
    by = f" ({source})" if source else ""
    if kind == "lr_change":
        if not ev.get("applied", True):
            return f"LR change {ev.get('request', '')} refused{by}: {ev.get('reason', '')}"
        old, new = ev.get("old") or [], ev.get("new") or []
        if old and new:
            return (f"LR {ev.get('request', '')}{by}: {fmt_lr(old[0])} -> {fmt_lr(new[0])}"
                    f" (multiplier {float(ev.get('scale', 1.0)):.3g})")
        return f"LR {ev.get('request', '')}{by}"
    if kind == "lr_commit":
        if not ev.get("applied", True):
            return f"LR commit skipped{by}: {ev.get('reason', '')}"
        notes = "; ".join(ev.get("notes") or [])
        return f"LR multiplier {float(ev.get('baked', 1.0)):.3g} baked into the schedule{by}" + (f" ({notes})" if notes else "")
    if kind == "pause":
        return f"paused{by}"
    if kind == "resume":
        return f"resumed{by}"
    if kind == "stop":
        return f"stop requested{by}; training finishes at the next step"
    if kind == "checkpoint":
        if ev.get("ok"):
            res = ev.get("result")
            return f"checkpoint saved{by}" + (f": {res}" if res else "")
        return f"checkpoint failed{by}: {ev.get('error', 'unknown error')}"
    if kind == "control":
        args = " ".join(f"{k}={ev[k]}" for k in ("factor", "value") if k in ev)
        who = f" from pid {ev['peer_pid']}" if ev.get("peer_pid") else ""
        return f"control request{who}: {ev.get('cmd', '?')}" + (f" {args}" if args else "")
    if kind == "control_refused":
        more = f" (+{ev['unlogged']} more)" if ev.get("unlogged") else ""
        return f"control connection refused: uid {ev.get('uid')} (pid {ev.get('pid')}) is not this run's user{more}"
    if kind == "source":
        return str(ev.get("message", "the source changed"))
    if kind == "error":
        return f"training raised {ev.get('message', 'an error')}"
    if kind == "alert":
        if ev.get("state") == "resolved":
            return f"[resolved] {ev.get('message', '')}"
        advice = ev.get("advice")
        if advice and not keys:
            advice = without_keys(advice)
        return f"[{ev.get('severity', 'warning')}] {ev.get('message', '')}" + (f" -> {advice}" if advice else "")
    extra = {k: v for k, v in ev.items() if k not in ("event", "step", "time")}
    return f"{kind} {extra}" if extra else str(kind)
