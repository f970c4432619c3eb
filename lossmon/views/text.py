"""What the views say, as plain data: event lines, the status line, the side panel's rows.

The plain printer prints these strings; the TUI styles the same segments. No UI library here, so
plain mode never loads one and tests read the text without Textual. A segment is
(text, style, priority): `style` names a palette entry of the TUI's theme (or is a Rich style
such as "bold"), and a part with a higher priority number is left out first when a line is too
long for the terminal (0: always shown).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable

from lossmon import events, names, states
from lossmon.diagnosis.alerts import is_raised
from lossmon.formatting import fmt_duration, fmt_lr, fmt_ratio, fmt_step, fmt_value
from lossmon.recording.store import MetricStore, Series
from lossmon.rundir.listing import RunSummary
from lossmon.rundir.runlog import parse_step
from lossmon.views.protocol import JobView, RunView

Segment = tuple[str, "str | None", int]
KeyOf = Callable[["str | None"], "str | None"]  # an action id -> the key a view shows for it


# ---- events -------------------------------------------------------------------------------------


def alert_key(ev: dict, key_of: KeyOf | None) -> str | None:
    """The key that acts on an alert's advice in this view (None: no keys to press here).
    Run logs written before actions had ids carry the key itself."""
    if key_of is None:
        return None
    action = ev.get("action")
    return key_of(action) if action else (ev.get("key") or None)


def event_step(ev: dict) -> int:
    """An event's step for the views: 0 where a log has no whole int64 there ("x", [1], 2**70)."""
    step = parse_step(ev.get("step"))
    return 0 if step is None else step


def _number(v, default: float | None = None) -> float | None:
    """A field as a float, `default` where a log has something else there (text, a list, null)."""
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        return default
    try:
        return float(v)
    except OverflowError:
        return math.inf if v > 0 else -math.inf


def _first(v) -> float | None:
    """The first param group's LR of an lr_change's `old`/`new` (a list; a bare number also counts)."""
    return _number(v[0] if isinstance(v, list) and v else v)


def describe(ev: dict, key_of: KeyOf | None = None) -> str:
    """One line saying what happened, with its numbers; with `key_of`, an alert names the key
    that does what its advice says. Fields of the wrong type (a hand-edited or foreign log) read
    as the generic line, never raise: a view must not die on a log line."""
    try:
        line = _describe(ev, key_of)
    except Exception:  # noqa: BLE001 - the fields above are checked; this is the last resort
        line = _generic(ev)
    return line.replace("\n", " ").replace("\r", " ")


def _generic(ev: dict) -> str:
    extra = {k: v for k, v in ev.items() if k not in ("event", "step", "time")}
    kind = ev.get("event", "?")
    return f"{kind} {extra}" if extra else str(kind)


def _describe(ev: dict, key_of: KeyOf | None) -> str:
    kind = ev.get("event", "?")
    source = ev.get("source")
    by = f" ({source})" if source else ""
    if kind == events.LR_CHANGE:
        if not ev.get("applied", True):
            return f"LR change {ev.get('request', '')} refused{by}: {ev.get('reason', '')}"
        old, new = _first(ev.get("old")), _first(ev.get("new"))
        if old is not None and new is not None:
            return (f"LR {ev.get('request', '')}{by}: {fmt_lr(old)} -> {fmt_lr(new)}"
                    f" (multiplier {_number(ev.get('scale'), 1.0):.3g})")
        return f"LR {ev.get('request', '')}{by}"
    if kind == events.LR_COMMIT:
        if not ev.get("applied", True):
            return f"LR commit skipped{by}: {ev.get('reason', '')}"
        notes = ev.get("notes") or []
        notes = "; ".join(map(str, notes)) if isinstance(notes, list) else str(notes)
        return f"LR multiplier {_number(ev.get('baked'), 1.0):.3g} baked into the schedule{by}" + (f" ({notes})" if notes else "")
    if kind == events.PAUSE:
        return f"paused{by}"
    if kind == events.RESUME:
        return f"resumed{by}"
    if kind == events.STOP:
        return f"stop requested{by}; training finishes at the next step"
    if kind == events.CHECKPOINT:
        n = ev.get("requests")
        served = f" ({n} requests)" if isinstance(n, int) and n > 1 else ""  # merged at one step
        if ev.get("ok"):
            res = ev.get("result")
            return f"checkpoint saved{by}" + (f": {res}" if res else "") + served
        return f"checkpoint failed{by}: {ev.get('error', 'unknown error')}{served}"
    if kind == events.CONTROL:
        args = " ".join(f"{k}={ev[k]}" for k in ("factor", "value") if k in ev)
        who = f" from pid {ev['peer_pid']}" if ev.get("peer_pid") else ""
        return f"control request{who}: {ev.get('cmd', '?')}" + (f" {args}" if args else "")
    if kind == events.CONTROL_REFUSED:
        more = f" (+{ev['unlogged']} more)" if ev.get("unlogged") else ""
        return f"control connection refused: uid {ev.get('uid')} (pid {ev.get('pid')}) is not this run's user{more}"
    if kind == events.CAPTURE:
        return f"capture: {ev.get('message', '')}"
    if kind == events.NOTIFY:
        return f"notify: {ev.get('message', '')}" + (f" (for the {ev['alert']} alert)" if ev.get("alert") else "")
    if kind == events.ROLLBACK:
        return _rollback_words(ev, by)
    if kind == events.ERROR:
        return f"training raised {ev.get('message', 'an error')}"
    if kind == events.ALERT:
        if ev.get("state") == "resolved":
            return f"[resolved] {ev.get('message', '')}"
        line = f"[{ev.get('severity', 'warning')}] {ev.get('message', '')}"
        advice, key = ev.get("advice"), alert_key(ev, key_of)
        if advice:
            return f"{line} -> {advice}" + (f" ({key})" if key and ev.get("action") else "")
        return line + (f"  [{key}]" if key else "")
    return _generic(ev)


SEVERITY_STYLE = {"info": "alert_info", "warning": "alert_warning", "critical": "alert_critical"}
_EVENT_STYLE = {events.ERROR: "error", events.LR_CHANGE: "lr_mark", events.LR_COMMIT: "lr_mark",
                events.CHECKPOINT: "ok", events.ROLLBACK: "warning"}


def _rollback_words(ev: dict, by: str) -> str:
    """'rolled back from step 1 450 to 1 300 (key), skipped 200 batches, LR x0.5'."""
    def step(k: str) -> str:
        v = ev.get(k)
        return fmt_step(v) if isinstance(v, int) and not isinstance(v, bool) else "?"

    if not ev.get("applied", True):
        return f"rollback refused{by}: {ev.get('reason', 'no reason given')}"
    line = f"rolled back from step {step('from')} to {step('to')}{by}"
    skipped = ev.get("skipped")
    if isinstance(skipped, int) and not isinstance(skipped, bool):
        line += f", skipped {fmt_step(skipped)} batch{'es' if skipped != 1 else ''}"
    scale = ev.get("scale")
    if isinstance(scale, (int, float)) and not isinstance(scale, bool) and scale != 1:
        line += f", LR x{scale:g}"
    return line


def feed_entry(ev: dict, key_of: KeyOf | None) -> tuple[int, str, str] | None:
    """(step, style, text) of an event in the live view's alerts & events panel, or None for
    one it leaves out (the pause and resume a stop implies)."""
    kind = ev.get("event")
    step = event_step(ev)
    if kind == events.ALERT:
        if ev.get("state") == "resolved":
            return step, "muted", describe(ev)
        return step, SEVERITY_STYLE.get(str(ev.get("severity", "warning")), "alert_warning"), describe(ev, key_of)
    if kind in (events.RESUME, events.PAUSE) and ev.get("source") == "stop":
        return None
    return step, _EVENT_STYLE.get(kind, "muted"), describe(ev)


def alert_summary(evs: list[dict]) -> str:
    """'2 warnings: overfitting (step 2 800), spike (step 120)' -- the last line of a scheduler's
    log should say whether anything went wrong; '' when no warning or critical alert was raised."""
    raised = [e for e in evs if is_raised(e)]
    if not raised:
        return ""
    first: dict[str, int] = {}
    for e in raised:
        first.setdefault(str(e.get("kind")), event_step(e))
    crit = sum(1 for e in raised if e["severity"] == "critical")
    head = f"{len(raised)} alert{'s' if len(raised) != 1 else ''}" + (f" ({crit} critical)" if crit else "")
    kinds = ", ".join(f"{k} (step {fmt_step(s)})" for k, s in first.items())
    return f"{head}: {kinds}; see the run log or `lossmon check`"


# ---- the status line ----------------------------------------------------------------------------


@dataclass
class Status:
    """What every view's status line reports about a run, read once from its store."""

    name: str
    step: int
    total_steps: int | None
    epoch: float | None
    train: float | None
    val: float | None
    lr: float | None
    lr_scale: float
    lr_pending: bool
    nonfinite: int
    paused: bool
    update_ratio: float | None = None  # log10(||dw||/||w||) of the last measured step
    lr_probing: bool = False  # an LR probe is under way: the multiplier is the probe's
    forecast: str | None = None  # "val -> 1.48 ± 0.03 at step 20k, noise floor ~ 1.41"

    @classmethod
    def of(cls, run: RunView) -> "Status":
        store = run.store
        return cls(run.name, store.last_step, run.total_steps, _last(store.by_role(names.EPOCH)),
                   _last(store.by_role(names.TRAIN_LOSS)), _last(store.by_role(names.VAL_LOSS)),
                   _last(lr_series(store)), run.lr_scale, run.lr_change_pending, store.nonfinite, run.paused,
                   _last(ratio_series(store)), run.lr_probing, forecast_text(run.forecasts))

    def eta_s(self, rate: float | None) -> float | None:
        """Seconds left at `rate` steps/s, when the run's length is known."""
        if rate and self.total_steps and self.total_steps > self.step and rate > 0:
            return (self.total_steps - self.step) / rate
        return None


def forecast_text(forecasts: dict) -> str | None:
    """The status line's forecast: the val loss's where there is one (that is the number that
    matters), else the train loss's, with its noise floor when the fit found a credible one."""
    for role, label in ((names.VAL_LOSS, "val"), (names.TRAIN_LOSS, "loss")):
        fc = forecasts.get(role)
        if fc is not None:
            floor = fc.describe_floor()
            return fc.describe(label) + (f", {floor}" if floor else "")
    return None


def _last(s: Series | None) -> float | None:
    last = s.last() if s is not None else None
    return last[1] if last is not None else None


def lr_series(store: MetricStore) -> Series | None:
    """The LR to show: the watched optimizer's `lr`, else whatever the run logged as its LR."""
    return store.series("lr") or store.by_role(names.LR)


def ratio_series(store: MetricStore) -> Series | None:
    """The update-to-weight ratio to show: the first param group's `update_ratio`, else any."""
    return store.series(names.UPDATE_RATIO) or store.by_role(names.UPDATE_RATIO)


def plain_status(st: Status, rates: list[str]) -> str:
    """Plain mode's line: '[mlp] step 1200 | epoch 3 | loss 0.51 | val 0.62 | lr 0.001 | ...'."""
    parts = [f"[{st.name}] step {st.step}"]
    if st.epoch is not None:
        parts.append(f"epoch {fmt_value(st.epoch)}")
    for label, v in (("loss", st.train), ("val", st.val)):
        if v is not None:
            parts.append(f"{label} {fmt_value(v)}")
    if st.lr is not None:
        parts.append(f"lr {fmt_lr(st.lr)}" + (f" (x{st.lr_scale:.3g}{' probe' if st.lr_probing else ''})"
                                              if st.lr_scale != 1.0 else ""))
    if st.update_ratio is not None:
        parts.append(f"upd/w {fmt_ratio(st.update_ratio)}")
    if st.forecast:
        parts.append(st.forecast)
    parts += rates
    if st.nonfinite:
        parts.append(f"{st.nonfinite} non-finite")
    if st.paused:
        parts.append("PAUSED")
    return " | ".join(parts)


def state_style(state: str) -> str:
    if state in (states.FAILED, states.GONE):
        return "error"
    if state in (states.PAUSED, states.PAUSING, states.STOPPING, states.LOADING, states.INTERRUPTED):
        return "warning"
    return "ok"


def tui_status(st: Status, *, state: str, rate: float | None, elapsed_s: float | None,
               job_notes: list[Segment], lr_note: str, new_alerts: int) -> tuple[list[Segment], list[Segment]]:
    """The live view's two status lines: the run and its progress; the LR, losses and alerts.
    `elapsed_s` None leaves the elapsed time out (a watcher shows `job_notes` instead)."""
    line1: list[Segment] = [
        (f" {st.name} ", "bold reverse", 0), (f" {state} ", state_style(state), 0),
        (f"  step {st.step:,}" + (f"/{st.total_steps:,}" if st.total_steps else ""), None, 0)]
    if st.epoch is not None:
        line1.append((f"  epoch {fmt_value(st.epoch)}", None, 3))
    if rate is not None:
        line1.append((f"  {rate:,.1f} steps/s", None, 1))
    line1.extend(job_notes)
    if elapsed_s is not None:
        line1.append((f"  elapsed {fmt_duration(elapsed_s)}", None, 4))
    eta = st.eta_s(rate)
    if eta is not None:
        line1.append((f"  ETA {fmt_duration(eta)}", None, 2))
    line2: list[Segment] = [(" LR ", None, 0), (fmt_lr(st.lr) if st.lr is not None else "-", "bold", 0)]
    if st.lr_scale != 1.0:
        line2.append((f" (x{st.lr_scale:.3g} {'probe' if st.lr_probing else 'manual'})", "lr_mark", 0))
    if lr_note and st.lr_pending:
        line2.append((f"  {lr_note} at the next step", "warning", 0))
    for label, v in (("loss", st.train), ("val", st.val)):
        if v is not None:
            line2.append((f"  {label} {fmt_value(v)}", None, 1))
    if st.forecast:
        line2.append((f"  {st.forecast}", "forecast", 2))
    bad = st.nonfinite
    line2.append((f"  non-finite {bad}", "error" if bad else "muted", 1 if bad else 3))
    if new_alerts:
        line2.append((f"  {new_alerts} new alert{'s' if new_alerts > 1 else ''} (a: ack)", "warning", 2))
    return line1, line2


def job_notes(job: JobView, state: str, store: MetricStore, now: float | None = None) -> list[Segment]:
    """What the status line says about a job seen from outside: its detail, how much is loaded,
    whether the other tool is still writing, skipped lines, a source that failed."""
    now = time.monotonic() if now is None else now
    parts: list[Segment] = []
    if job.detail:
        parts.append((f"  ({job.detail})", "muted", 1))
    if job.read_only and state != states.READ_ONLY:
        parts.append(("  read-only", "muted", 1))
    if not job.loaded:
        n = sum(len(s) for s in (store.series(k) for k in store.names()) if s is not None)
        parts.append((f"  loading: {n:,} points so far", "warning", 0))
    quiet = now - job.last_data
    if job.read_only and job.loaded and quiet >= 10:  # is the other tool still writing?
        parts.append((f"  no new data for {fmt_duration(quiet)}", "muted", 2))
    if job.malformed:
        n, unit = job.malformed, getattr(job, "malformed_unit", "line")  # a TensorBoard file has records
        parts.append((f"  {n} malformed {unit}{'s' if n != 1 else ''} skipped", "warning", 2))
    if job.error:
        parts.append((f"  {job.error}", "error", 0))
    return parts


def shown_state(state: str, run: RunView, *, live: bool, quitting: bool = False) -> str:
    """The state a view shows: a running job's pause and stop as they progress (`live`: its
    control state can be known; `quitting`: this view asked it to stop so it can leave)."""
    if state != states.RUNNING or not live:
        return state
    if run.should_stop or quitting:
        return states.STOPPING
    if run.paused:
        return states.PAUSED
    if run.pause_requested:
        return states.PAUSING
    return states.RUNNING


def fit(parts: list[Segment], width: int) -> list[Segment]:
    """Leave out the parts of lowest priority until the line fits `width` (priority 0 stays)."""
    for level in (4, 3, 2, 1):
        if sum(len(p[0]) for p in parts) <= width:
            break
        parts = [p for p in parts if p[2] < level]
    return parts


# ---- the side panel -----------------------------------------------------------------------------


def spark_series(store: MetricStore, limit: int) -> list[tuple[str, Series]]:
    """The metrics the side panel shows, at most `limit`: train, val, LR, grad norm and the
    update-to-weight ratio first, then the others in the order they were first logged (per-group
    LRs and ratios left out: their roles are not OTHER)."""
    rows: list[tuple[str, Series]] = []
    picked: set[str] = set()
    for label, s in (("train", store.by_role(names.TRAIN_LOSS)), ("val", store.by_role(names.VAL_LOSS)),
                     ("lr", lr_series(store)), ("grad norm", store.by_role(names.GRAD_NORM)),
                     (RATIO_LABEL, ratio_series(store))):
        if s is not None:
            rows.append((label, s))
            picked.add(s.name)
    for name in store.names():
        s = store.series(name)
        if name not in picked and s is not None and s.role == names.OTHER and not name.startswith("lr/"):
            rows.append((name, s))
    return rows[:limit]


RATIO_LABEL = "upd/w"


def spark_value(label: str, s: Series) -> str:
    last = s.last()
    if label == RATIO_LABEL:
        return fmt_ratio(last[1] if last else None)
    return fmt_lr(last[1]) if label == "lr" and last else fmt_value(last[1] if last else None)


# ---- lossmon ls ---------------------------------------------------------------------------------


def runs_table(rows: list[RunSummary]) -> str:
    """`lossmon ls`: a column each for the run's index (what `lossmon compare 1 3` takes), the run,
    its start, state, steps and last losses."""
    header = ("#", "RUN", "STARTED", "STATE", "STEPS", "TRAIN LOSS", "VAL LOSS")
    body = [(str(i), r.path.name, time.strftime("%Y-%m-%d %H:%M", time.localtime(r.start)) if r.start else "-",
             r.state, f"{r.steps:,}" if r.steps is not None else "-", fmt_value(r.train), fmt_value(r.val))
            for i, r in enumerate(rows, 1)]
    widths = [max(len(h), *(len(b[i]) for b in body)) for i, h in enumerate(header)]
    lines = []
    for cells in (header, *body):
        lines.append("  ".join(c.ljust(w) if 0 < i < 4 else c.rjust(w) for i, (c, w) in enumerate(zip(cells, widths))).rstrip())
    return "\n".join(lines)
