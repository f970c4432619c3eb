"""`lossmon ctl`: steer a running job from a script -- a SLURM pre-emption handler, cron, a
Makefile -- with one command and an exit status, instead of JSON piped through socat.

    lossmon ctl [RUN] stop | pause | resume | checkpoint | status
    lossmon ctl [RUN] lr x2 | lr x0.5 | lr /2 | lr 3e-4 | lr reset | lr commit
    lossmon ctl [RUN] probe [x<factor>] [<steps>]     (an LR probe: x2 for 200 steps by default)
    lossmon ctl [RUN] rollback [--to STEP] [--skip N] [--lr-scale X]   (to the newest snapshot at or
                      before STEP, default the newest; skip N batches, default 200)

It is a module of its own because a script needs what the socket does not give: the run found
the way `lossmon watch` finds it, words turned into one request, and an answer a shell can test.
It speaks no protocol of its own: the request is checked by the server's own `parse_request`
before it is sent and goes out through `ControlClient`. RUN is a run directory (or a file in one,
or a run's name under ./lossmon_runs); without it, the newest running run, else the newest. A
directory named like a command is given as ./stop.

Exactly one line comes out. On stdout, with exit status 0, when the job accepted the request (a
steering request takes effect at the job's next step, or next optimizer step for the LR); on
stderr otherwise, with status 2 for a usage error (no or an unknown command, a bad argument, a RUN
that names no run) and 1 when the job could not take it (not running, a stale socket, no answer,
the job refused).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from lossmon import states
from lossmon.control_socket import ControlClient, ControlError, RequestError, parse_request, probe
from lossmon.formatting import fmt_lr, fmt_value
from lossmon.rundir.jobstate import job_state
from lossmon.rundir.layout import DEFAULT_ROOT, META, RUN_LOG, SOCKET, is_run_dir
from lossmon.rundir.listing import latest_run

USAGE = ("lossmon ctl [RUN] stop|pause|resume|checkpoint|status|lr x2|lr /2|lr 3e-4|lr reset|lr commit"
         "|probe [x2] [200]|rollback [--to STEP] [--skip N] [--lr-scale X]")
SIMPLE = ("stop", "pause", "resume", "checkpoint", "status")  # the words that are the request's cmd
VERBS = (*SIMPLE, "lr", "probe", "rollback")
_ROLLBACK_OPTIONS = {"--to": ("to_step", int), "--skip": ("skip_batches", int), "--lr-scale": ("lr_scale", float)}
DESCRIPTION = ("Steer a running job from a script (a SLURM pre-emption handler, cron, a Makefile) through its"
               " control socket. RUN is a run directory (default: the newest running run under"
               f" ./{DEFAULT_ROOT}, else the newest). Prints one line; exit status 0 when the job accepted"
               " the command (it takes effect at the job's next step), 1 when it could not (not running,"
               " stale socket, refused), 2 for a usage error.")
USAGE_ERROR, NOT_APPLIED = 2, 1


class CtlError(Exception):
    """Why the command could not be done: one line for stderr, and the exit status."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def add_subparser(sub: Any) -> None:
    """The `ctl` subcommand. Its words are parsed here, not by argparse, so that every mistake
    gets one line and status 2 (argparse would print its usage too, and takes `-1` for an option)."""
    p = sub.add_parser("ctl", help="steer a running job from a script: stop, pause, resume, checkpoint, lr, status",
                       usage=USAGE, description=DESCRIPTION)
    p.add_argument("words", nargs=argparse.REMAINDER, metavar="[RUN] COMMAND [ARG]",
                   help="lr x<factor> or /<divisor> scales the LR, lr <value> sets it, lr reset puts"
                   " the schedule's own LR back, lr commit bakes the change into the schedule")


def main(words: list[str], root: str | Path = DEFAULT_ROOT, timeout: float = 2.0) -> int:
    """`lossmon ctl WORDS`: the exit status, after one line on stdout or stderr."""
    try:
        line = ctl(words, root=root, timeout=timeout)
    except CtlError as e:
        print(f"lossmon ctl: {e}", file=sys.stderr)
        return e.code
    print(line)
    return 0


def ctl(words: list[str], root: str | Path = DEFAULT_ROOT, timeout: float = 2.0) -> str:
    """Do what the words say; the line to print, or CtlError."""
    words = list(words)
    run_dir = None
    if words and words[0] not in VERBS:
        run_dir = find_run(words[0], root)
        if run_dir is None and len(words) == 1:
            raise CtlError(f"unknown command {words[0]!r}; usage: {USAGE}", USAGE_ERROR)
        if run_dir is None:
            raise CtlError(f"no lossmon run at {words[0]}", USAGE_ERROR)
        words = words[1:]
    cmd, fields = parse_command(words)
    if run_dir is None:
        run_dir = latest_run(Path(root))
        if run_dir is None:
            where = root if Path(root).is_absolute() else f"./{root}"
            raise CtlError(f"no runs under {where}; give the run directory", USAGE_ERROR)
    return send(run_dir, cmd, fields, " ".join(words), timeout=timeout)


def find_run(text: str, root: str | Path = DEFAULT_ROOT) -> Path | None:
    """The run directory `text` names: the directory, a file in it, or a run's name under root."""
    path = Path(text)
    if path.name in (SOCKET, RUN_LOG, META) and is_run_dir(path.parent):
        return path.parent
    for candidate in (path, Path(root) / text):
        if is_run_dir(candidate):
            return candidate
    return None


def parse_command(words: list[str]) -> tuple[str, dict]:
    """The control request the words ask for, (cmd, fields), checked as the server checks it."""
    if not words:
        raise CtlError(f"no command given; usage: {USAGE}", USAGE_ERROR)
    verb, args = words[0], words[1:]
    if verb in SIMPLE:
        if args:
            raise CtlError(f"{verb} takes no argument, got {' '.join(args)!r}", USAGE_ERROR)
        cmd, fields = verb, {}
    elif verb == "lr":
        if len(args) != 1:
            raise CtlError("lr needs one argument: x<factor>, /<divisor>, a value such as 3e-4, reset or commit",
                           USAGE_ERROR)
        cmd, fields = _lr_request(args[0])
    elif verb == "probe":
        cmd, fields = "probe_lr", _probe_request(args)
    elif verb == "rollback":
        cmd, fields = "rollback", _rollback_request(args)
    else:
        raise CtlError(f"unknown command {verb!r}; usage: {USAGE}", USAGE_ERROR)
    try:
        parse_request(json.dumps({"cmd": cmd, **fields}).encode())
    except RequestError as e:
        reason = str(e).removeprefix(f"{cmd}: ")
        raise CtlError(f"{' '.join(words)}: {reason}", USAGE_ERROR) from None
    return cmd, fields


def _lr_request(arg: str) -> tuple[str, dict]:
    word = arg.lower()
    if word in ("reset", "commit"):
        return f"{word}_lr", {}
    if word[:1] in ("x", "*"):
        return "scale_lr", {"factor": _number(arg, arg[1:])}
    if word[:1] == "/":
        divisor = _number(arg, arg[1:])
        if not (math.isfinite(divisor) and divisor > 0):
            raise CtlError(f"lr {arg}: the divisor must be a number > 0", USAGE_ERROR)
        return "scale_lr", {"factor": 1 / divisor}
    return "set_lr", {"value": _number(arg, arg)}


def _probe_request(args: list[str]) -> dict:
    """`probe [x<factor>] [<steps>]`, in either order: the probe_lr fields given."""
    fields: dict = {}
    for arg in args:
        if arg[:1] in ("x", "*") and "factor" not in fields:
            fields["factor"] = _number(arg, arg[1:], "probe")
        elif arg.isdigit() and "steps" not in fields:
            fields["steps"] = int(arg)
        else:
            raise CtlError(f"probe {arg}: expected x<factor> (x2) and a number of steps (200)", USAGE_ERROR)
    return fields


def _rollback_request(args: list[str]) -> dict:
    """`rollback [--to STEP] [--skip N] [--lr-scale X]` (also --to=STEP): the rollback fields given."""
    fields: dict = {}
    words = [part for a in args for part in (a.split("=", 1) if a.startswith("--") and "=" in a else [a])]
    it = iter(words)
    for word in it:
        option = _ROLLBACK_OPTIONS.get(word)
        if option is None or option[0] in fields:
            raise CtlError(f"rollback {word}: expected --to STEP, --skip N and --lr-scale X, each at most once",
                           USAGE_ERROR)
        value = next(it, None)
        if value is None:
            raise CtlError(f"rollback {word} needs a value", USAGE_ERROR)
        try:
            fields[option[0]] = option[1](value)
        except ValueError:
            kind = "a whole number" if option[1] is int else "a number"
            raise CtlError(f"rollback {word} {value}: expected {kind}", USAGE_ERROR) from None
    return fields


def _number(arg: str, text: str, verb: str = "lr") -> float:
    try:
        return float(text)
    except ValueError:
        if verb == "probe":
            raise CtlError(f"probe {arg}: expected x<factor> (x2) and a number of steps (200)", USAGE_ERROR) from None
        raise CtlError(f"lr {arg}: expected x<factor>, /<divisor>, a value such as 3e-4, reset or commit",
                       USAGE_ERROR) from None


def send(run_dir: Path, cmd: str, fields: dict, what: str, timeout: float = 2.0) -> str:
    """Send one request to the run's job; the line saying it was accepted (or the status line)."""
    sock = Path(run_dir) / SOCKET
    reachable = probe(sock)
    if reachable != "live":
        raise CtlError(not_running(Path(run_dir), reachable), NOT_APPLIED)
    try:
        reply = ControlClient(sock, timeout=timeout).request(cmd, **fields)
    except ControlError as e:
        raise CtlError(f"{run_dir}: {e}", NOT_APPLIED) from None
    if not reply.get("ok"):
        raise CtlError(f"{what}: refused by {run_dir}: {reply.get('error', 'no reason given')}", NOT_APPLIED)
    if cmd == "status":
        return status_line(run_dir, reply)
    applies = reply.get("applies")
    return f"{what}: accepted by {run_dir}" + (f"; applies {applies}" if applies else "")


def not_running(run_dir: Path, reachable: str) -> str:
    """Why a run's socket does not answer ('stale' or 'missing', from probe), in one line."""
    state, detail = job_state(run_dir)
    socket_says = ("its control socket is stale (nothing answers on it)" if reachable == "stale"
                   else "it has no control socket")
    if state in states.ENDED:
        return f"{run_dir} is not running: {state}" + (f" ({detail})" if detail else "") + (
            f"; {socket_says}" if reachable == "stale" else "")
    return f"{run_dir} cannot be steered: {socket_says}" + (f" ({detail})" if detail else "")


def status_line(run_dir: Path, reply: dict) -> str:
    """A status reply as one line of key=value fields: state, step, last losses, LR, paused."""
    if reply.get("stopping"):
        state = states.STOPPING
    elif reply.get("paused"):
        state = states.PAUSED
    elif reply.get("pause_requested"):
        state = states.PAUSING
    else:
        state = states.RUNNING
    step = str(reply.get("step", "-"))
    if isinstance(reply.get("total_steps"), int):
        step += f"/{reply['total_steps']}"
    lr = reply.get("lr")
    scale = reply.get("lr_scale")
    line = (f"{run_dir}: state={state} step={step} loss={_value(reply.get('loss'))}"
            f" val_loss={_value(reply.get('val_loss'))} lr={'-' if lr is None else fmt_lr(lr)}"
            f" lr_scale={fmt_lr(scale) if scale is not None else '-'} paused={'yes' if reply.get('paused') else 'no'}")
    snaps = reply.get("snapshots")
    if reply.get("snapshotting") and isinstance(snaps, list):
        newest = snaps[-1].get("step") if snaps and isinstance(snaps[-1], dict) else None
        line += f" snapshots={len(snaps)}" + (f" newest_snapshot={newest}" if newest is not None else "")
    return line


def _value(v: float | str | None) -> str:
    """A loss from a status reply (a non-finite one comes as its string name: 'NaN', 'Infinity')."""
    if isinstance(v, str):
        try:
            v = float(v)
        except ValueError:
            return v
    return fmt_value(v)
