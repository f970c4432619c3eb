"""Zero-code capture: what `lossmon run script.py` learns from an unmodified script.

- Every torch optimizer the script creates is watched (`Optimizer.__init__` is wrapped while the
  script runs), so the LR keys, the effective LR, and pause/checkpoint at step boundaries work with
  no lossmon call. The first optimizer that steps sets the run's steps.
- Train and validation loss come from losses.py (backward, no-grad losses) and printed.py (a
  printed "val loss ..." beats the no-grad mean, which may mix splits).
- Stop: at the next optimizer step a `StopTraining` (a KeyboardInterrupt) is raised there, unless
  the script asks `lossmon.should_stop()` itself.
- Checkpoint with no `on_checkpoint`: the optimizers' and their modules' state dicts (checkpoint.py).

What the script logs itself (`lossmon.log`, or an integration) wins: capture stands down for that
role. Each source says once, as a `capture` event, what it took.
"""

from __future__ import annotations

import functools
from contextlib import contextmanager
from typing import Any, Callable, Iterator

from lossmon import events, names, output_tap
from lossmon.capture.checkpoint import save_checkpoint
from lossmon.capture.loaders import LoaderTiming
from lossmon.capture.losses import LossCapture
from lossmon.capture.printed import PrintedLosses
from lossmon.training.run import Run
from lossmon.training.steering import StopTraining


class Capture:
    """The capture of one script's run; `install()` before the script, `uninstall()` after."""

    def __init__(self, run: Run, on_step: Callable[[Any, Any], None] | None = None) -> None:
        self.run = run
        # Called at each step with (the primary optimizer, or None for a backward with no optimizer,
        # the step's loss or None): `lossmon lr-find` ramps the LR and ends the script from here.
        self.on_step = on_step
        self.suspended = False  # while True (Run.lr_find), backward calls and steps are not the run's
        self.optimizers: list[Any] = []
        self.primary: Any = None  # the optimizer whose steps are the run's steps
        self.train = True  # still capturing this role (False once the script logs its own)
        self.val = True
        self.losses = LossCapture(self._backward, self._eval_end)
        self.printed = PrintedLosses(self._printed_val)
        self.loaders = LoaderTiming(run.data_wait.add)  # the share of each step spent waiting for data
        self._acc: Any = None  # the train loss summed since the last step
        self._first: Any = None  # step 1's loss, held until step 2 shows whether the script logs its own
        self._own_step = run.step  # the step after capture's own last log (to notice another logger)
        self._said: set[str] = set()
        self._handles: list[Any] = []
        self._init: Any = None
        self._stop_raised = False
        self._last_printed: tuple[int, float] | None = None

    # ---- install ------------------------------------------------------------------------------

    def install(self) -> "Capture":
        import torch

        self.losses.install()
        optimizer = torch.optim.Optimizer
        self._init = optimizer.__dict__["__init__"]
        original, seen = self._init, self._new_optimizer

        @functools.wraps(original)
        def __init__(opt, *args, **kwargs):
            original(opt, *args, **kwargs)
            seen(opt)

        optimizer.__init__ = __init__
        if not self.run.has_checkpoint:
            self.run.on_checkpoint(self._save)
        output_tap.subscribe(self.printed.feed)
        self.loaders.install()
        return self

    def uninstall(self) -> None:
        import torch

        if self._init is not None:
            torch.optim.Optimizer.__init__ = self._init
            self._init = None
        self.losses.uninstall()
        self.loaders.uninstall()
        output_tap.unsubscribe(self.printed.feed)
        for h in self._handles:
            h.remove()
        self._handles.clear()

    def finish(self) -> None:
        """The script returned: a held first step and an evaluation pass at its very end count."""
        self._resolve_first()
        self.losses.end_eval()

    # ---- what the script does ---------------------------------------------------------------

    def _new_optimizer(self, opt: Any) -> None:
        if "_optimizer_step_post_hooks" not in vars(opt) or any(o is opt for o in self.optimizers):
            return  # a wrapper (it holds the real optimizer, which was seen on its own)
        self.run.watch(opt)
        self.optimizers.append(opt)
        self._handles.append(opt.register_step_post_hook(self._after_step))
        groups = len(opt.param_groups)
        self._say("optimizer", f"{type(opt).__name__} ({groups} param group{'s' * (groups != 1)}) watched: LR keys"
                  " act on it; stop = KeyboardInterrupt at its next step")

    def _backward(self, loss: Any) -> None:
        if self.suspended:
            return
        self._resolve_first()
        if not self.optimizers:  # updates written by hand: every backward is a step
            if self.on_step is not None:
                self.on_step(None, loss)
            self._log_train(loss)
            self._stop_if_asked()
            return
        self._acc = loss if self._acc is None else self._acc + loss

    def _after_step(self, opt: Any, args: Any, kwargs: Any) -> None:
        if self.suspended:
            return
        if self.primary is None:
            self.primary = opt
        if opt is not self.primary:
            return
        loss, self._acc = self._acc, None
        if self.on_step is not None:
            self.on_step(opt, loss)
        if loss is not None and self.train:
            self._log_train(loss)
        else:
            self.run.step_boundary()
        self._stop_if_asked()

    def _log_train(self, loss: Any) -> None:
        """Log a step's loss -- unless the script logs its own steps. A script that logs after its
        optimizer step has not done so yet at the first one: step 1 is held until the next
        training step starts (the next backward), when it is known."""
        run = self.run
        if not self.train:
            return
        if self._another_logger():
            run.step_boundary()
            return
        if self._own_step == 0:
            self._first = loss
            run.step_boundary()
            return
        self._log_now(loss)

    def _resolve_first(self) -> None:
        first, self._first = self._first, None
        if first is not None and self.train and not self._another_logger():
            self._log_now(first)

    def _another_logger(self) -> bool:
        """Someone else moved the steps on since capture's last log: their loss wins."""
        if self.run.step == self._own_step:
            return False
        self.stand_down(val=False, why="the script logs its own steps")
        return True

    def _log_now(self, loss: Any) -> None:
        self._say("train_loss", "train loss = what backward() was called on")
        self.run.log(loss=loss)
        self._own_step = self.run.step

    def _eval_end(self, mean: Any) -> None:
        self._resolve_first()  # the pass followed step 1: the step goes first
        if not self.val or self.printed.seen:
            return  # the script's own labelled number (or its own log) says it better
        self._say("val_loss", "val loss = mean of the no-grad losses of each eval pass")
        self.run.log(val_loss=mean)

    def _printed_val(self, value: float) -> None:
        if not self.val or self._last_printed == (self.run.step, value):
            return  # the same number said again ("test loss 2.65 is the best so far")
        self._last_printed = (self.run.step, value)
        self._say("printed_val", "val loss = the 'val loss' the script prints")
        self.run.log(val_loss=value)

    def _stop_if_asked(self) -> None:
        run = self.run
        if run.should_stop and not run.stop_polled and not self._stop_raised:
            self._stop_raised = True
            raise StopTraining("lossmon: stop requested")

    def _save(self) -> str:
        run = self.run
        if run.dir is None:
            raise RuntimeError("this run has no run directory to save a checkpoint in")
        return save_checkpoint(run.dir, run.step, self.optimizers, run.state_dict())

    @contextmanager
    def suspend(self) -> Iterator[None]:
        """Nothing the script does in this block is the run's: no train loss, no step (Run.lr_find)."""
        was, self.suspended = self.suspended, True
        try:
            yield
        finally:
            self.suspended = was

    # ---- the script's own logging -----------------------------------------------------------

    def saw(self, metrics: dict) -> None:
        """The script logged these itself (lossmon.log): capture stands down for their roles."""
        if not (self.train or self.val):
            return
        for key in metrics:
            role = names.role(key) if isinstance(key, str) else names.OTHER  # names.role is cached
            if role == names.TRAIN_LOSS and self.train:
                self.stand_down(val=False, why="the script logs its own train loss")
            elif role == names.VAL_LOSS and self.val:
                self.stand_down(train=False, why="the script logs its own validation loss")

    def yield_to(self, integration: str) -> None:
        """An integration (Lightning, Hugging Face) feeds the run itself: it logs the losses,
        stops through its trainer's flag and saves through its trainer."""
        self.stand_down(why=f"{integration} logs them")
        self.run.stop_polled = True
        if self.run.steering.checkpoint_fn == self._save:
            self.run.steering.checkpoint_fn = None

    def stand_down(self, *, train: bool = True, val: bool = True, why: str = "the script logs its own") -> None:
        roles = []
        if train and self.train:
            self.train = False
            roles.append("train loss")
        if val and self.val:
            self.val = False
            roles.append("val loss")
        if roles:
            self.run.record(events.CAPTURE, what="stand_down", message=f"{' and '.join(roles)}: {why}; capture stands down")

    def _say(self, what: str, message: str) -> None:
        if what not in self._said:
            self._said.add(what)
            self.run.record(events.CAPTURE, what=what, message=message)
