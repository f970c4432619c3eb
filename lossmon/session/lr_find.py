"""`lossmon lr-find SCRIPT.py [ARGS]`: the LR range test on an unmodified training script.

The script runs as `lossmon run` runs it (session/script.py: `__main__`, its own argv, capture
installed), but on this thread, with no monitor, run directory or detectors: a bare Run that
nothing drains. Capture watches the optimizer it creates; before each step of that optimizer the
run's LR control makes its first param group's LR the ramp's value (`Run.set_lr`, resolved in the
step pre-hook against the LR the script's own schedule set); after each step capture hands over the
loss the script called backward() on, and once the ramp is over -- num_steps steps, the 4x stop, or
a NaN -- the script is ended by an exception raised in that step: `EndScript`, a BaseException,
so the script's `except Exception` and `except KeyboardInterrupt` (where scripts save a checkpoint)
let it through and nothing trained by the ramp is saved; `finally:` blocks still run.

`LRFindError` says, in one line, why there is no result: no optimizer, no loss, the script ended
or raised first.
"""

from __future__ import annotations

from typing import Any

from lossmon.session.script import Script, script_training
from lossmon.training.active import active, clear_active, set_active
from lossmon.training.lr_find import LRFindResult, RangeTest
from lossmon.training.run import Run


class LRFindError(Exception):
    """No result; the message is one line for the user."""


class EndScript(BaseException):
    """Raised in the script's optimizer step to end it: the ramp is over (or cannot go on)."""

    def __init__(self, why: str | None = None) -> None:
        super().__init__(why or "lossmon lr-find: the range test is over")
        self.why = why  # None: the ramp is over; else why it cannot go on


def find_lr_script(script: Script, *, start_lr: float, end_lr: float, num_steps: int,
                   stop_factor: float | None) -> LRFindResult:
    """Run `script` under the range test; the result, or LRFindError."""
    if active() is not None:
        raise LRFindError("a lossmon run is going on in this process already")
    test = RangeTest(start_lr, end_lr, num_steps, stop_factor)
    run = Run(script.name, update_ratio=False)
    own: list[float] = []  # the script's own LR at its first step (first param group)

    def on_step(opt: Any, loss: Any) -> None:
        if opt is None:
            raise EndScript("the script called backward() before creating a torch optimizer: lr-find ramps"
                            " the LR of the script's optimizer (torch.optim), and found none")
        if loss is None:
            raise EndScript("no train loss seen at the script's first optimizer step (lossmon takes the"
                            " one-element tensor it calls backward() on)")
        if not own:
            own.append(float(opt.param_groups[0]["lr"]))  # the post-hook has put the script's value back
        if not test.feed(loss, run.effective_lr):
            raise EndScript()
        run.set_lr(test.lr, source="lr-find")

    train = script_training(script, capture=True, on_step=on_step)
    run.set_lr(test.lr, source="lr-find")  # resolved at the first step, whenever the optimizer is made
    set_active(run)  # the script's own lossmon.log() calls go to this run, not to a new one
    ended: str | None = None
    try:
        train(run)
    except EndScript as e:
        if e.why is not None:
            raise LRFindError(e.why) from None
    except SystemExit as e:
        code = e.code
        if code not in (None, 0):
            raise LRFindError(f"the script exited with status {code} after {_steps(test)}") from None
        ended = "exited"
    except KeyboardInterrupt:
        raise
    except Exception as e:  # noqa: BLE001 - the script's own error, in one line
        raise LRFindError(f"the script raised {type(e).__name__}: {e} after {_steps(test)}"
                          + _at(test)) from None
    else:
        ended = "ended"
    finally:
        clear_active(run)
    if ended is not None and not test.done:
        if not test.lrs:
            if not (run.capture is not None and run.capture.optimizers):
                raise LRFindError(f"the script {ended} without creating a torch optimizer: nothing to ramp")
            raise LRFindError(f"the script {ended} before its optimizer took a step")
        raise LRFindError(f"the script {ended} after {_steps(test)}, before the ramp's {test.num_steps}:"
                          f" give it more steps, or pass --steps {max(2, len(test.lrs))}")
    return test.result(base_lr=own[0] if own else None)


def _steps(test: RangeTest) -> str:
    n = len(test.lrs)
    return f"{n} optimizer step{'s' * (n != 1)}"


def _at(test: RangeTest) -> str:
    return f" (the ramp was at LR {test.lrs[-1]:.2g})" if test.lrs else ""
