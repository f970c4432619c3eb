"""`lossmon.run()`: check the arguments, pick the view, open the session, and hand over.

The ranks of a torch.distributed job other than 0 get no view and no session: they train right
here and follow rank 0's control through the exchange in their optimizer steps.
"""

from __future__ import annotations

import os
import sys
from typing import Any, Callable

from lossmon.diagnosis.config import ConfigError, coerce
from lossmon.rundir.layout import RunDirError
from lossmon.session.lifecycle import run_plain, run_tui
from lossmon.session.script import Script, script_training
from lossmon.session.session import Session
from lossmon.training import distributed
from lossmon.training.active import active, clear_active, set_active
from lossmon.training.run import Run
from lossmon.training.signals import SignalStop

UI_MODES = ("auto", "tui", "plain")


def has_terminal() -> bool:
    try:
        return sys.stdin.isatty() and sys.stdout.isatty()
    except (AttributeError, ValueError):
        return False


def tui_available() -> bool:
    try:
        import lossmon.views.tui  # noqa: F401
    except ImportError:
        return False
    return True


def choose_ui(ui: str) -> str:
    """'plain' when asked or when stdin/stdout is not a terminal (nohup, CI, a pipe)."""
    if ui not in UI_MODES:
        raise ValueError(f"ui must be one of {', '.join(UI_MODES)}; got {ui!r}")
    if ui == "plain" or not has_terminal():
        return "plain"
    if tui_available():
        return "tui"
    if ui == "tui":
        raise ValueError("ui='tui': the live terminal UI cannot be loaded (is textual installed?)")
    return "plain"


def _run_follower(train_fn: Callable[[Run], Any], name: str) -> Run:
    """A rank other than 0 of a torch.distributed job: no view, no run log; training runs right
    here, and rank 0's control reaches it through the exchange in its optimizer steps."""
    run = Run(name)
    run.join_distributed()
    set_active(run)

    def force() -> None:
        raise KeyboardInterrupt

    signals = SignalStop(run, on_second=force).install()
    try:
        run.result = train_fn(run)
    finally:
        signals.restore()
        clear_active(run)
    if signals.signum is not None:
        raise SystemExit(signals.exit_code)
    return run


def run(train_fn: Callable[[Run], Any], *, name: str | None = None,
        run_dir: str | os.PathLike | None = None, ui: str = "auto",
        fps: float = 10.0, plot_hz: float = 4.0, config: Any = None, update_ratio: bool = True,
        system: bool = True, config_values: Any = None) -> Run:
    """Run `train_fn(run)` under the live monitor and return the Run when training ends.

    In a terminal the TUI shows the run; otherwise (nohup, CI, a pipe, or ui="plain") plain status
    lines are printed. The run log goes to `run_dir` (default ./lossmon_runs/<time>-<name>/).
    A training exception is printed once and the process exits 1; SIGINT/SIGTERM/SIGHUP stop
    training at the next step and exit 130/143/129 after the run log is closed.

    `config` sets the detectors: a `lossmon.DiagnosisConfig`, a dict of its sections, or the path
    of a TOML file; each detector's `action` ("alert", "pause" or "stop") says what an alert does.

    `update_ratio` (on by default) logs log10(||dw||/||w||) per param group of every watched
    optimizer every few steps (`update_ratio`, `update_ratio/<opt>.<group>`): direct evidence of an
    LR far too small or too large, for under 0.5 % of the step time. False turns it off.

    `system` (on by default) samples the process's CPU and memory, the GPUs (NVML, the
    `lossmon[gpu]` extra; else torch's figures) and the step time once a second on a thread of the
    monitor (`sys/...`, `gpu<i>/...`): the system panel. False turns it off.

    `fps` (numbers) and `plot_hz` (plot and sparklines) are the most often the TUI repaints; it
    repaints less often when that would take more than ~2 % of a core from training. Lower them on a
    slow SSH link.

    `config_values` (a dict or an argparse Namespace): the run's hyperparameters, recorded in
    meta.json (as `lossmon.config()` does) for `lossmon compare` and the live view's config key.

    Called while a run is going on already (a script under `lossmon run`, or inside another
    training function), it trains in that run: one run, one view.

    Under torch.distributed (initialise it first), call it on every rank: rank 0 shows the view and
    writes the run log; control from rank 0 takes effect on all ranks at the same optimizer step
    (watch the optimizer on every rank); log() on the other ranks does nothing.
    """
    if not callable(train_fn):
        raise TypeError("lossmon.run() needs the training function, called as train_fn(run)")
    if config_values is not None:
        from lossmon.rundir.configvalues import safe_config

        safe_config(config_values)  # a TypeError now, before any run directory exists
        inner = train_fn

        def train_fn(run: Run) -> Any:
            run.set_config(config_values)
            return inner(run)

        train_fn.__name__ = getattr(inner, "__name__", "run")
    outer = active()
    if outer is not None:  # inside a run already (a script under `lossmon run` calls this): train in it
        outer.result = train_fn(outer)
        return outer
    code, run_ = _launch(train_fn, name=name, run_dir=run_dir, ui=ui, fps=fps, plot_hz=plot_hz, config=config,
                         update_ratio=update_ratio, system=system)
    if code:
        raise SystemExit(code)
    return run_


def run_script(script: Script, *, name: str | None = None, run_dir: str | os.PathLike | None = None,
               ui: str = "auto", fps: float = 10.0, plot_hz: float = 4.0, config: Any = None,
               capture: bool = True, update_ratio: bool = True, total_steps: int | None = None,
               system: bool = True) -> int:
    """`lossmon run SCRIPT.py`: the script as the training function; returns the exit status."""
    train_fn = script_training(script, capture=capture, total_steps=total_steps)
    return _launch(train_fn, name=name or script.name, run_dir=run_dir, ui=ui, fps=fps, plot_hz=plot_hz,
                   config=config, script=True, update_ratio=update_ratio, system=system)[0]


def _launch(train_fn: Callable[[Run], Any], *, name: str | None, run_dir: str | os.PathLike | None,
            ui: str, fps: float, plot_hz: float, config: Any, script: bool = False,
            update_ratio: bool = True, system: bool = True) -> tuple[int, Run]:
    if name is not None and not isinstance(name, str):
        raise TypeError(f"name must be a string, got {type(name).__name__}")
    for label, rate in (("fps", fps), ("plot_hz", plot_hz)):
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not 0 < rate <= 60:
            raise ValueError(f"{label} must be a number in (0, 60], got {rate!r}")
    try:
        diag_config = coerce(config)
    except ConfigError as e:
        raise ValueError(str(e)) from None
    mode = choose_ui(ui)
    name = name or getattr(train_fn, "__name__", None) or "run"
    if name == "<lambda>":
        name = "run"
    ranks = distributed.world()
    if not isinstance(update_ratio, bool):
        raise TypeError(f"update_ratio must be True or False, got {update_ratio!r}")
    if not isinstance(system, bool):
        raise TypeError(f"system must be True or False, got {system!r}")
    if ranks is not None and ranks[0] != 0:
        return 0, _run_follower(train_fn, name)
    try:
        session = Session(name, run_dir, diag_config, update_ratio=update_ratio, system=system)
    except RunDirError as e:
        print(f"lossmon: {e}", file=sys.stderr)
        raise SystemExit(2) from None
    if ranks is not None:
        session.run.join_distributed()
    if mode == "plain":
        code = run_plain(session, train_fn, script=script)
    else:
        code = run_tui(session, train_fn, fps=fps, plot_hz=plot_hz, script=script)
    return code, session.run
