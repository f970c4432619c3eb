"""`lossmon check PATH`: run the detectors over a recorded run and report what they find.

Exit status: 0 when no warning or critical alert was raised, 1 when one was, 2 when the input
cannot be read (one line on stderr naming the problem).
"""

from __future__ import annotations

import json
import sys
from typing import IO

from lossmon.diagnosis.alerts import is_raised
from lossmon.diagnosis.config import ConfigError, DiagnosisConfig, load_config
from lossmon.diagnosis.engine import Diagnoser
from lossmon.formatting import fmt_step
from lossmon import names
from lossmon.events import LR_CHANGE, LR_COMMIT
from lossmon.recording.branches import rollback_target
from lossmon.rundir.runlog import strict
from lossmon.sources import SourceError, chunks, companion, load, open_source, read_all
from lossmon.sources.base import printable


def diagnose(path, config: DiagnosisConfig | None = None, *, train: str | None = None,
             val: str | None = None) -> tuple[Diagnoser, object, str]:
    """Load a recorded run and feed it through a Diagnoser in step order (SourceError if
    unreadable). Also says which LR the judgement used: another tool logs its schedule's LR, so
    the effective LR of the lossmon run beside its log (sources/companion.py) replaces it."""
    rec = load(path, train=train, val=val)
    lr_names = [n for n in rec.points if names.role(n) == names.LR]
    if rec.format == "lossmon run":
        lr_words = "the effective LR lossmon recorded" if lr_names else "not logged"
    else:
        run_dir = companion.find(path)
        run = None
        if run_dir is not None:
            try:
                run = read_all(open_source(run_dir))
            except (SourceError, OSError):
                run = None
        if run is not None and "lr" in run.points:
            rec.points, lr_events = companion.effective_lr(rec, run)
            rec.events = [e for e in rec.events if e.get("event") not in (LR_CHANGE, LR_COMMIT)] + lr_events
            changes = sum(1 for e in lr_events if e.get("event") == LR_CHANGE and e.get("applied", True))
            lr_words = (f"the effective LR from the lossmon run {run_dir} ({changes} change{'s' if changes != 1 else ''}"
                        " made from lossmon)")
        elif lr_names:
            lr_words = (f"{lr_names[0]} as the log has it (the schedule's; changes made from lossmon are not in it,"
                        " and no lossmon run was found beside the log)")
        else:
            lr_words = "not logged"
    diag = Diagnoser(config, live=False)
    for points, events in chunks(rec):
        diag.feed(points, events)
    return diag, rec, lr_words


def _step(v) -> str:
    return fmt_step(v) if isinstance(v, int) and not isinstance(v, bool) else "?"


def _human(alert: dict) -> str:
    state = alert["state"]
    label = "resolved" if state == "resolved" else alert["severity"]
    line = f"step {fmt_step(alert['step']):>9}  {label:<8}  {alert['kind']:<14} {alert['message']}"
    if state != "resolved" and alert.get("advice"):
        line += f" -> {alert['advice']}"
    return line


class _Printable:
    """A text stream that writes lone surrogates (from a file name or a log's keys) as escapes."""

    def __init__(self, stream: IO[str]) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        return self.stream.write(printable(text))

    def flush(self) -> None:
        self.stream.flush()


def run_check(path: str, *, as_json: bool = False, config_path: str | None = None,
              train: str | None = None, val: str | None = None,
              out: IO[str] | None = None, err: IO[str] | None = None, notify: bool = False) -> int:
    """`notify`: run the [notify] command for each alert at its severity or above, as a live run
    would (for CI), after the report; its failures are said on stderr, the exit status is the report's."""
    out = _Printable(out or sys.stdout)
    err = _Printable(err or sys.stderr)
    try:
        config = load_config(config_path) if config_path else DiagnosisConfig()
        if notify and not config.notify.command.strip():
            raise ConfigError("--notify needs a command: [notify] command = \"...\" in the --config file")
        diag, rec, lr_words = diagnose(path, config, train=train, val=val)
    except (SourceError, ConfigError) as e:
        print(f"lossmon check: {e}", file=err)
        return 2
    if diag.failed:
        print(f"lossmon check: internal error while diagnosing {path}: {diag.failed}", file=err)
        return 2
    alerts = sorted(diag.alerts, key=lambda a: a["step"])  # stable: detector order within a step
    if rec.malformed:
        print(f"lossmon check: {rec.malformed} malformed {rec.unit}{'s' if rec.malformed != 1 else ''} skipped", file=err)
    if as_json:
        for a in alerts:
            out.write(json.dumps(strict(a), ensure_ascii=False, allow_nan=False) + "\n")
    else:
        series = ", ".join(f"{n} ({len(v[1])})" for n, v in rec.points.items())
        out.write(f"{path}: {rec.format}, {rec.count} points: {series}\n")
        out.write(f"LR: {lr_words}\n")
        rollbacks = [e for e in rec.events if rollback_target(e) is not None]
        if rollbacks:  # what was judged: the abandoned stretches are left out
            words = "; ".join(f"step {_step(e.get('from'))} -> {_step(e.get('to'))}" for e in rollbacks[:3])
            words += "; ..." if len(rollbacks) > 3 else ""
            out.write(f"{len(rollbacks)} rollback{'s' if len(rollbacks) != 1 else ''} ({words}): the live branch is"
                      " judged, not the steps each one abandoned\n")
        for a in alerts:
            out.write(_human(a) + "\n")
    raised = [a for a in alerts if is_raised(a)]
    if not as_json:
        if raised:
            kinds = sorted({a["kind"] for a in raised})
            out.write(f"{len(raised)} warning or critical alert{'s' if len(raised) != 1 else ''}"
                      f" ({', '.join(kinds)})\n")
        else:
            info = sum(1 for a in alerts if a["state"] == "open")
            out.write("no problems found" + (f" ({info} note{'s' if info != 1 else ''} above)" if info else "") + "\n")
    out.flush()
    if notify:
        _notify(alerts, config, err)
    return 1 if raised else 0


def _notify(alerts: list[dict], config: DiagnosisConfig, err) -> None:
    from lossmon.notify import Notifier, rings

    notifier = Notifier(config.notify, say=lambda m: print(f"lossmon check: {m}", file=err))
    due = [a for a in alerts if rings(a, config.notify.on)]
    for a in due:
        notifier.run_command(a)
    if due:
        failed = f" ({notifier.failed} failed)" if notifier.failed else ""
        print(f"lossmon check: notify command run for {len(due)} alert{'s' if len(due) != 1 else ''}{failed}", file=err)
