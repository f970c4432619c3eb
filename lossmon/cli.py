"""The `lossmon` command."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from lossmon.rundir.layout import DEFAULT_ROOT
from lossmon.version import __version__


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _int(text: str) -> int:
    try:
        return int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None


def _rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value <= 60:
        raise argparse.ArgumentTypeError(f"must be above 0 and at most 60, got {text}")
    return value


def build_parser() -> argparse.ArgumentParser:
    from lossmon.demos import SCENARIOS

    parser = argparse.ArgumentParser(prog="lossmon", description="A live training monitor for PyTorch in the terminal.")
    parser.add_argument("--version", action="version", version=f"lossmon {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    demo = sub.add_parser("demo", help="train a small model that shows one condition, under the monitor",
                          description="Train a small real model on synthetic data under the monitor. Scenarios: "
                          + "; ".join(f"{s.name}: {s.blurb}" for s in SCENARIOS.values()))
    demo.add_argument("scenario", nargs="?", default="overfit", choices=list(SCENARIOS), metavar="SCENARIO",
                      help=f"one of {', '.join(SCENARIOS)} (default: overfit)")
    demo.add_argument("--steps", type=_positive_int, default=None, help="training steps (default: the scenario's)")
    demo.add_argument("--seed", type=_int, default=0, help="random seed (default: 0)")
    _session_options(demo)
    _run_parser(sub)
    _lr_find_parser(sub)
    check = sub.add_parser("check", help="run the detectors over a recorded run; exit 1 if they raise a warning",
                           description="Run lossmon's detectors over a recorded run: a lossmon run directory or "
                           "run.jsonl, or any JSONL or CSV file with a step column. Exit status: 0 no warning or "
                           "critical alert, 1 at least one, 2 unreadable input.")
    check.add_argument("path", metavar="PATH", help="run directory or log file (see lossmon watch --help)")
    check.add_argument("--json", action="store_true", help="one JSON object per alert per line")
    check.add_argument("--config", default=None, metavar="FILE", help="detector settings (TOML)")
    check.add_argument("--notify", action="store_true",
                       help="run the [notify] command of --config for each alert at its severity or above (CI)")
    _tag_options(check)
    watch = sub.add_parser("watch", help="watch (and steer) a run started elsewhere, or a log another tool writes",
                           description="Show a run live from another terminal: a lossmon run directory (its"
                           " LR, pause, stop and checkpoint keys act on the job through its control socket), or,"
                           " read-only, TensorBoard event files or a log directory, Lightning's metrics.csv,"
                           " Hugging Face's trainer_state.json or output directory, or any JSONL or CSV file"
                           " with a step column. Quitting never stops the job.")
    watch.add_argument("path", nargs="*", default=[], metavar="PATH",
                       help=f"what to watch (default: the newest running run under ./{DEFAULT_ROOT}, else the newest);"
                       " several: their curves overlaid, as lossmon compare (read-only; without a terminal, their"
                       " table once); a number N is the run lossmon ls lists as #N")
    _tag_options(watch)
    watch.add_argument("--plain", action="store_true", help="plain status lines instead of the live UI")
    watch.add_argument("--once", action="store_true", help="plain lines: read what the files hold now, print the"
                       " last status line and exit (TensorBoard, CSV and other files have no job that ends)")
    watch.add_argument("--fps", type=_rate, default=10.0, help="numbers repainted per second (default: 10)")
    watch.add_argument("--plot-hz", type=_rate, default=4.0, help="plot frames per second (default: 4)")
    watch.add_argument("--config", default=None, metavar="FILE", help="detector settings for logs from other tools (TOML)")
    compare = sub.add_parser("compare", help="overlay several runs' curves, with a table of their best val, last"
                             " train loss, steps, state and the config values that differ",
                             description="Overlay the train and val curves of several runs (lossmon run"
                             " directories or any log lossmon watch reads) on the same axes, one colour per run,"
                             " with a table under them; the running ones update live. Read-only: no key steers"
                             " a job here (watch one run to steer it). With no terminal (or --plain) it prints"
                             " the table and exits 0.")
    compare.add_argument("runs", nargs="+", metavar="RUN",
                         help="a run directory or log, or N: the run `lossmon ls` lists as #N (under --root)")
    compare.add_argument("--root", default=DEFAULT_ROOT, metavar="DIR",
                         help=f"where the runs that N counts are (default: {DEFAULT_ROOT})")
    _tag_options(compare)
    compare.add_argument("--plain", action="store_true", help="print the table and exit, even in a terminal")
    compare.add_argument("--fps", type=_rate, default=10.0, help="numbers repainted per second (default: 10)")
    compare.add_argument("--plot-hz", type=_rate, default=4.0, help="plot frames per second (default: 4)")
    compare.add_argument("--config", default=None, metavar="FILE", help="detector settings for logs from other tools (TOML)")
    from lossmon import ctl  # `lossmon ctl`: its subparser, words and output are lossmon/ctl.py's
    ctl.add_subparser(sub)
    ls = sub.add_parser("ls", help="list runs: name, start, state, steps, last train and val loss",
                        description=f"List the lossmon runs under a directory (default ./{DEFAULT_ROOT}), oldest first,"
                        " each with its number #: `lossmon compare 1 3` (or `lossmon watch 1 3`) overlays runs 1 and 3.")
    ls.add_argument("root", nargs="?", default=DEFAULT_ROOT, metavar="DIR", help=f"where the runs are (default: {DEFAULT_ROOT})")
    return parser


RUN_USAGE = "lossmon run [OPTIONS] SCRIPT.py [ARGS...] | lossmon run [OPTIONS] -m MODULE [ARGS...]"
RUN_HELP = "run an unmodified training script under the monitor"
RUN_DESCRIPTION = ("Run a training script as `python SCRIPT.py ARGS` would, under the live UI in a"
                   " terminal (plain lines otherwise). With capture on, every torch optimizer it creates is"
                   " watched (LR keys, pause, checkpoint), the loss it calls backward() on is the train loss,"
                   " and the losses it computes with gradients off (or the 'val loss' it prints) are the"
                   " validation loss. lossmon's options come before the script; everything after the script"
                   " is the script's. The exit status is the script's.")


def _run_parser(sub=None) -> argparse.ArgumentParser:
    """`lossmon run`'s options: a subcommand of `lossmon` for its help, and a parser of its own
    for the options before the script (the rest is the script's, untouched)."""
    if sub is None:
        run = argparse.ArgumentParser(prog="lossmon run", usage=RUN_USAGE, description=RUN_DESCRIPTION)
    else:
        run = sub.add_parser("run", help=RUN_HELP, usage=RUN_USAGE, description=RUN_DESCRIPTION)
    run.add_argument("--name", default=None, help="run name (default: the script's name)")
    run.add_argument("--no-capture", action="store_true",
                     help="no zero-code capture: only what the script logs with lossmon.log() is recorded")
    run.add_argument("--total-steps", type=_positive_int, default=None, metavar="N",
                     help="the steps the script will run (its max_iters, epochs x batches): shows the ETA and"
                          " the forecast of where the loss ends")
    run.add_argument("--snapshot-every", type=_positive_int, default=None, metavar="N",
                     help="keep snapshots every N optimizer steps (the last 3, in memory) so a rollback can"
                          " go back to one ([snapshot] every in --config)")
    _session_options(run)
    run.add_argument("-m", dest="module", default=None, metavar="MODULE", help="run a module as a script, as python -m does")
    return run


def _session_options(p: argparse.ArgumentParser) -> None:
    """The options of a command that trains under the monitor (demo, run)."""
    p.add_argument("--plain", action="store_true", help="plain status lines instead of the live UI")
    p.add_argument("--fps", type=_rate, default=10.0, help="live UI: numbers repainted per second (default: 10)")
    p.add_argument("--plot-hz", type=_rate, default=4.0, help="live UI: plot frames per second (default: 4)")
    p.add_argument("--run-dir", default=None, help="directory for this run's log (default: ./lossmon_runs/<time>-<name>)")
    p.add_argument("--config", default=None, metavar="FILE", help="detector settings (TOML; see lossmon.diagnosis.config)")
    p.add_argument("--no-update-ratio", action="store_true",
                   help="do not log the update-to-weight ratio (log10 ||dw||/||w|| per param group, every few steps)")
    p.add_argument("--no-system", action="store_true",
                   help="do not sample CPU, memory, GPUs and step time once a second (sys/*, gpu<i>/*)")


_RUN_VALUED = {"--name", "--run-dir", "--config", "--fps", "--plot-hz", "--total-steps", "--snapshot-every"}  # _run_parser's options with a value

LR_FIND_USAGE = "lossmon lr-find [OPTIONS] SCRIPT.py [ARGS...] | lossmon lr-find [OPTIONS] -m MODULE [ARGS...]"
LR_FIND_HELP = "LR range test on an unmodified training script: plot loss against LR, suggest one"
LR_FIND_DESCRIPTION = (
    "Run a training script as `lossmon run` would (no UI, no run directory) with the LR of the first"
    " torch optimizer it creates ramped exponentially, START to END over STEPS optimizer steps, through"
    " lossmon's LR multiplier (the script's own schedule is overridden only inside each step); the"
    " loss is the one it calls backward() on. The ramp stops after STEPS steps, once the smoothed"
    " loss (beta 0.98) passes STOP-FACTOR x its best, or at a NaN/inf loss; the script is then ended"
    " (a BaseException raised in its optimizer step: its except-Exception and except-KeyboardInterrupt"
    " blocks do not run, so it saves nothing). Prints the smoothed loss against log LR and the"
    " suggested LR: the valley (fastai's default rule) and the steepest descent (Lightning's)."
    " lossmon's options come before the script. Exit status 0 with a result, 2 when there is none"
    " (no such file, no optimizer, the script ended or failed before the ramp did).")
_LR_FIND_VALUED = {"--start-lr", "--end-lr", "--steps", "--stop-factor", "--width"}


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not (value > 0 and value < float("inf")):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def _lr_find_parser(sub=None) -> argparse.ArgumentParser:
    """`lossmon lr-find`'s options, as `lossmon run`'s are (_run_parser)."""
    if sub is None:
        p = argparse.ArgumentParser(prog="lossmon lr-find", usage=LR_FIND_USAGE, description=LR_FIND_DESCRIPTION)
    else:
        p = sub.add_parser("lr-find", help=LR_FIND_HELP, usage=LR_FIND_USAGE, description=LR_FIND_DESCRIPTION)
    p.add_argument("--start-lr", type=_positive_float, default=1e-7, metavar="START", help="first LR (default: 1e-7)")
    p.add_argument("--end-lr", type=_positive_float, default=10.0, metavar="END", help="last LR (default: 10)")
    p.add_argument("--steps", type=_positive_int, default=100, metavar="STEPS",
                   help="optimizer steps from START to END (default: 100)")
    p.add_argument("--stop-factor", type=_positive_float, default=4.0, metavar="F",
                   help="stop once the smoothed loss passes F x its best (default: 4)")
    p.add_argument("--no-stop", action="store_true", help="no early stop: ramp all STEPS steps (NaN still stops)")
    p.add_argument("--width", type=_positive_int, default=72, help="plot width in columns (default: 72)")
    p.add_argument("-m", dest="module", default=None, metavar="MODULE", help="run a module as a script, as python -m does")
    return p


def split_run_args(argv: list[str], valued: set[str] = _RUN_VALUED) -> tuple[list[str], list[str]]:
    """lossmon's options (before the script) and the script's part (SCRIPT ARGS or -m MODULE ARGS);
    `valued`: the options that take a value."""
    i = 0
    while i < len(argv):
        a = argv[i]
        if a == "--":
            return argv[:i], argv[i + 1:]
        if a == "-m":
            return argv[:i], argv[i:]
        if a.startswith("-m") and len(a) > 2:  # -mpkg.mod
            return argv[:i], ["-m", a[2:], *argv[i + 1:]]
        if not a.startswith("-") or a == "-":
            return argv[:i], argv[i:]
        i += 2 if a in valued else 1
    return argv, []


def _tag_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--train", default=None, metavar="TAG", help="the metric to treat as train loss (default: by name)")
    p.add_argument("--val", default=None, metavar="TAG", help="the metric to treat as validation loss (default: by name)")


def main(argv: list[str] | None = None) -> int:
    """The `lossmon` command. Ctrl+C before a command has its own handlers in place (while torch
    imports, say) ends it with one line and status 130, not a traceback; a reader that went away
    (`lossmon check ... | head`) ends it quietly with 141, as SIGPIPE ends other tools."""
    try:
        return _main(argv)
    except KeyboardInterrupt:
        print("lossmon: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        try:  # the interpreter's own flush at exit would complain about the closed pipe again
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError):
            pass
        return 141


def _main(argv: list[str] | None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    parser = build_parser()
    if argv and argv[0] == "run":
        return _run(argv[1:])
    if argv and argv[0] == "lr-find":
        return _lr_find(argv[1:])
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 2
    if args.command == "demo":
        return _demo(args)
    if args.command == "check":
        from lossmon.diagnosis.check import run_check

        return run_check(args.path, as_json=args.json, config_path=args.config, train=args.train, val=args.val,
                         notify=args.notify)
    if args.command == "watch":
        return _watch(args)
    if args.command == "ctl":
        from lossmon import ctl

        return ctl.main(args.words)
    if args.command == "ls":
        return _ls(args)
    if args.command == "compare":
        return _compare(args.runs, args, root=args.root, command="compare", plain=args.plain)
    return 2  # pragma: no cover - argparse rejects unknown commands


def _demo(args: argparse.Namespace) -> int:
    import torch

    from lossmon.demos import training_function
    from lossmon.diagnosis.config import ConfigError, load_config
    from lossmon.session.launch import run

    try:
        config = load_config(args.config) if args.config else None
    except ConfigError as e:
        print(f"lossmon demo: {e}", file=sys.stderr)
        return 2
    torch.set_num_threads(1)  # leave a core for the monitor on small machines; results are per seed
    train = training_function(args.scenario, steps=args.steps, seed=args.seed)
    try:
        run(train, name=args.scenario, run_dir=args.run_dir, ui="plain" if args.plain else "auto",
            fps=args.fps, plot_hz=args.plot_hz, config=config, update_ratio=not args.no_update_ratio,
            system=not args.no_system)
    except SystemExit as e:
        return int(e.code or 0) if not isinstance(e.code, str) else 1
    return 0


def _script(target: list[str], parser: argparse.ArgumentParser, command: str) -> "Any":
    """The Script of `lossmon run`/`lr-find`'s part after its options (argparse's error when none)."""
    from lossmon.session.script import Script

    if not target:
        parser.error(f"give the script to run (lossmon {command} train.py ARGS, or lossmon {command} -m MODULE ARGS)")
    if target[0] == "-m":
        if len(target) < 2:
            parser.error("-m needs a module name")
        return Script(module=target[1], args=target[2:])
    from pathlib import Path

    return Script(path=Path(target[0]), args=target[1:])


def _run(argv: list[str]) -> int:
    own, target = split_run_args(argv)
    run_parser = _run_parser()
    args = run_parser.parse_args(own)  # first: `lossmon run --help` is lossmon's own help
    from lossmon.diagnosis.config import ConfigError, load_config
    from lossmon.session.launch import run_script
    from lossmon.session.script import ScriptError

    script = _script(target, run_parser, "run")
    try:
        script.check()
        config = load_config(args.config) if args.config else None
    except (ScriptError, ConfigError) as e:
        print(f"lossmon run: {e}", file=sys.stderr)
        return 2
    if args.snapshot_every:
        from lossmon.diagnosis.config import DiagnosisConfig

        config = config or DiagnosisConfig()
        config.snapshot.enabled, config.snapshot.every = True, args.snapshot_every
    return run_script(script, name=args.name, run_dir=args.run_dir, ui="plain" if args.plain else "auto",
                      fps=args.fps, plot_hz=args.plot_hz, config=config, capture=not args.no_capture,
                      update_ratio=not args.no_update_ratio, total_steps=args.total_steps,
                      system=not args.no_system)


def _lr_find(argv: list[str]) -> int:
    own, target = split_run_args(argv, _LR_FIND_VALUED)
    parser = _lr_find_parser()
    args = parser.parse_args(own)
    if args.end_lr <= args.start_lr:
        parser.error(f"--end-lr ({args.end_lr:g}) must be above --start-lr ({args.start_lr:g})")
    if args.steps < 2:
        parser.error("--steps must be at least 2")
    from lossmon.session.lr_find import LRFindError, find_lr_script
    from lossmon.session.script import ScriptError

    script = _script(target, parser, "lr-find")
    try:
        script.check()
        result = find_lr_script(script, start_lr=args.start_lr, end_lr=args.end_lr, num_steps=args.steps,
                                stop_factor=None if args.no_stop else args.stop_factor)
    except (ScriptError, LRFindError) as e:
        print(f"lossmon lr-find: {e}", file=sys.stderr)
        return 2
    print(result.plot(width=args.width))
    print(result.summary())
    return 0


def _watch(args: argparse.Namespace) -> int:
    from lossmon.diagnosis.config import ConfigError, load_config
    from lossmon.rundir.listing import latest_run
    from lossmon.session.launch import choose_ui
    from lossmon.session.watching import watch_plain, watch_tui
    from lossmon.sources import SourceError, open_source
    from lossmon.watched import WatchedRun

    if len(args.path) > 1:
        return _compare(args.path, args, root=DEFAULT_ROOT, command="watch", plain=args.plain or args.once)
    path = args.path[0] if args.path else None
    if path is not None and path.isdigit() and not os.path.exists(path):  # `lossmon ls`'s #N
        from lossmon.compare.runs import CompareError, resolve

        try:
            path = str(resolve([path], DEFAULT_ROOT)[0])
        except CompareError as e:
            print(f"lossmon watch: {e}", file=sys.stderr)
            return 2
    if path is None:
        path = latest_run(DEFAULT_ROOT)
        if path is None:
            print(f"lossmon watch: no runs under ./{DEFAULT_ROOT}; give the path of a run or log", file=sys.stderr)
            return 2
    try:
        config = load_config(args.config) if args.config else None
        source = open_source(path, train=args.train, val=args.val)
    except (SourceError, ConfigError) as e:
        print(f"lossmon watch: {e}", file=sys.stderr)
        return 2
    watched = WatchedRun(source, config=config)
    try:
        watched.poll()  # the first chunk here: a file that is not what it seems fails as `check` does
    except SourceError as e:
        print(f"lossmon watch: {e}", file=sys.stderr)
        return 2
    if args.once or choose_ui("plain" if args.plain else "auto") == "plain":
        return watch_plain(watched, once=args.once)
    return watch_tui(watched, fps=args.fps, plot_hz=args.plot_hz)


def _compare(run_args: list[str], args: argparse.Namespace, *, root: str, command: str, plain: bool) -> int:
    """`lossmon compare RUN...` (and `lossmon watch A B ...`): the overlay view in a terminal; the
    table, printed once every run is read, otherwise."""
    from pathlib import Path

    from lossmon.compare.runs import CompareError, load, open_runs, resolve, row
    from lossmon.compare.table import table_text
    from lossmon.diagnosis.config import ConfigError, load_config
    from lossmon.session.launch import choose_ui

    try:
        config = load_config(args.config) if args.config else None
        runs = open_runs(resolve(run_args, Path(root)), train=args.train, val=args.val, config=config)
    except (CompareError, ConfigError) as e:
        print(f"lossmon {command}: {e}", file=sys.stderr)
        return 2
    if plain or choose_ui("auto") == "plain":
        try:
            for w in runs:
                load(w)
        finally:
            for w in runs:
                w.close()
        print(table_text([row(w) for w in runs]))
        return 0
    from lossmon.session.comparing import compare_tui

    return compare_tui(runs, fps=args.fps, plot_hz=args.plot_hz)


def _ls(args: argparse.Namespace) -> int:
    from pathlib import Path

    from lossmon.rundir.listing import find_runs, summarize
    from lossmon.views.text import runs_table

    root = Path(args.root)
    if not root.is_dir():
        print(f"lossmon ls: {root} is not a directory", file=sys.stderr)
        return 2
    runs = find_runs(root)
    if not runs:
        print(f"no runs under {root}")
        return 0
    print(runs_table([summarize(r) for r in runs]))
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
