"""What the rollback key offers: which snapshot by default, and the words that say what it does.

Pure functions of the run's snapshot list (Run.snapshots(): oldest first) and its events, so the
live view and `lossmon watch` (which gets the list in the job's status reply) offer the same.
"""

from __future__ import annotations

from lossmon import events
from lossmon.formatting import fmt_duration, fmt_step

DEFAULT_SKIP = 200
ONSET_KINDS = ("spike", "divergence", "nonfinite")  # the alerts a rollback answers


def snapshot_state(run) -> tuple[bool, list[dict], bool]:
    """(snapshotting, snapshots oldest first, a rollback pending) of a run view (Run or
    WatchedRun); snapshots without a whole-number step (a foreign status reply) are left out."""
    on = bool(run.snapshotting)
    snaps = [s for s in (run.snapshots() if on else []) if isinstance(s, dict) and isinstance(s.get("step"), int)]
    return on, snaps, bool(run.rollback_pending)


def open_onset(evs: list[dict]) -> tuple[str, int] | None:
    """(kind, onset step) of the earliest spike, divergence or non-finite alert still open (the
    first sign of the trouble), or None."""
    open_: dict[tuple, int] = {}
    for ev in evs:
        if ev.get("event") != events.ALERT or ev.get("kind") not in ONSET_KINDS:
            continue
        key = (ev.get("kind"), ev.get("metric"))
        step = ev.get("step")
        if ev.get("state") == "open" and isinstance(step, int) and not isinstance(step, bool):
            open_.pop(key, None)
            open_[key] = step
        elif ev.get("state") == "resolved":
            open_.pop(key, None)
    if not open_:
        return None
    # the earliest still open: a val spike or a divergence that follows a train spike is its echo
    (kind, _), step = min(open_.items(), key=lambda item: item[1])
    return str(kind), step


def default_snapshot(snapshots: list[dict], onset: int | None) -> int:
    """Index of the snapshot offered first: the newest at or before the alert's onset (the
    oldest when all are after it), else the newest. `snapshots` is not empty."""
    if onset is None:
        return len(snapshots) - 1
    before = [i for i, s in enumerate(snapshots) if s["step"] <= onset]
    return before[-1] if before else 0


def snapshot_words(snap: dict, step: int, now: float) -> str:
    """'step 1 300 (2m05s ago, 150 steps back, in memory)'."""
    parts = []
    t = snap.get("time")
    if isinstance(t, (int, float)) and not isinstance(t, bool):
        parts.append(f"{fmt_duration(max(0.0, now - t))} ago")
    back = step - snap["step"]
    parts.append(f"{fmt_step(back)} step{'s' if back != 1 else ''} back")
    where = snap.get("where")
    parts.append("in memory" if where in (None, "memory") else f"on disk: {where}")
    return f"step {fmt_step(snap['step'])} ({', '.join(parts)})"


def no_snapshots_words(snapshotting: bool) -> str:
    if snapshotting:
        return "No snapshot has been taken yet: the first comes after the number of steps given to run.snapshot_every."
    return ("This run keeps no snapshots, so there is nothing to roll back to. To have them, call"
            " run.snapshot_every(n_steps, keep=k) in the training function, or set [snapshot] enabled = true"
            " in the config (lossmon run --snapshot-every N); iterate with `for batch in run.batches(loader)`"
            " so that batches can be skipped too.")


def check_skip(text: str) -> int:
    """The batches to skip, typed: a whole number >= 0 (ValueError with the reason)."""
    text = text.strip().replace("_", "").replace(",", "")
    if not text:
        return DEFAULT_SKIP
    if not text.isdigit():
        raise ValueError(f"batches to skip must be a whole number >= 0, got {text[:20]!r}")
    return int(text)
