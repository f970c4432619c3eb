"""Hugging Face Trainer: the live UI, diagnosis and LR/pause/stop/checkpoint control from one callback.

    import lossmon.integrations.transformers as lm
    trainer = Trainer(model=model, args=args, train_dataset=ds, eval_dataset=ev)
    lm.train(trainer)                           # trainer.train() under the live monitor

`train` adds a `LossmonCallback` and runs `trainer.train()` as lossmon's training function. The
callback:

- watches the optimizer it is handed in `on_train_begin` (through Accelerate's wrapper), so LR
  control applies the multiplier rule inside the optimizer step under the Trainer's own scheduler;
  the effective LR is logged every step, and written into the Trainer's `logs` as `learning_rate`
  (the Trainer reports its scheduler's value, which a manual change does not touch);
- logs the training loss every optimizer step, read from the model's own output by a forward hook
  (the mean over accumulated batches, as a device tensor: no host sync per step). This is also how
  NaN gets through: with `logging_nan_inf_filter=True` (the Trainer's default) a non-finite loss
  never reaches `on_log` -- the Trainer logs the average of the finite ones instead -- but the
  forward output still holds it, so lossmon's NaN detector fires at the step it happened. A model
  whose output has no `loss` (a custom `compute_loss`) falls back to `on_log`'s filtered `loss`,
  and then a NaN shows only through `grad_norm`;
- logs `eval_loss` (and other `eval_*` metrics), `grad_norm` and `epoch` from `on_log`;
- serves pause and checkpoint requests at each optimizer step, maps stop to
  `control.should_training_stop` and checkpoint to `control.should_save` (the Trainer then saves
  `checkpoint-N` in its output directory at the end of that step).
"""

from __future__ import annotations

from typing import Any

try:
    from transformers import TrainerCallback
except ImportError:  # pragma: no cover - depends on what is installed
    raise ImportError("lossmon.integrations.transformers needs transformers: pip install 'lossmon[transformers]'") from None

import lossmon
from lossmon.integrations import StepLoss
from lossmon.training.run import Run

_SKIP_SUFFIXES = ("_runtime", "_per_second")


def _loss_of(output: Any) -> Any:
    """The 0-d loss tensor in a model's output (ModelOutput, dict or tuple), else None."""
    loss = None
    if isinstance(output, dict):  # ModelOutput is a dict
        loss = output.get("loss")
    elif isinstance(output, (tuple, list)) and output:
        loss = output[0]
    else:
        loss = getattr(output, "loss", None)
    if hasattr(loss, "detach") and getattr(loss, "ndim", 1) == 0:
        return loss.detach()
    return None


class LossmonCallback(TrainerCallback):
    """Feeds a lossmon Run from a Hugging Face Trainer and applies its control requests."""

    def __init__(self, run: Run) -> None:
        self.run = run
        self._loss = StepLoss()
        self._from_forward = False  # the model's output carries its loss: logged every step
        self._save = False
        self._where = ""
        self._hook: Any = None

    # ---- training ------------------------------------------------------------------------------

    def on_train_begin(self, args: Any, state: Any, control: Any, model: Any = None, optimizer: Any = None,
                       lr_scheduler: Any = None, **kwargs: Any) -> None:
        if self.run.capture is not None:  # under `lossmon run`: this callback knows better
            self.run.capture.yield_to("the Hugging Face integration")
        if optimizer is not None:
            scheduler = getattr(lr_scheduler, "scheduler", lr_scheduler)  # Accelerate's wrapper
            try:
                self.run.watch(optimizer, scheduler)
            except TypeError:  # a scheduler lossmon cannot bake into: LR control works without it
                self.run.watch(optimizer)
        if state.max_steps and state.max_steps > 0:
            self.run.total_steps = int(state.max_steps)
        if model is not None and self._hook is None:
            self._hook = model.register_forward_hook(self._on_forward)
        if not self.run.has_checkpoint:
            self.run.on_checkpoint(self._request_save)

    def on_train_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> None:
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    def _on_forward(self, module: Any, inputs: Any, output: Any) -> None:
        if not module.training:  # evaluation passes are on_log's business
            return
        loss = _loss_of(output)
        if loss is not None:
            self._from_forward = True
            self._loss.add(loss)

    def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
        self._where = f"{args.output_dir}/checkpoint-{state.global_step}"  # the Trainer's name for it
        self._loss.log(self.run, state.global_step)
        if self._save:
            self._save = False
            control.should_save = True
        if self.run.should_stop:
            control.should_training_stop = True
        return control

    def _request_save(self) -> str:
        """lossmon's checkpoint request, at a step boundary: the Trainer saves at this step's end."""
        self._save = True
        return self._where

    # ---- logs ----------------------------------------------------------------------------------

    def on_log(self, args: Any, state: Any, control: Any, logs: dict | None = None, **kwargs: Any) -> None:
        if not logs:
            return
        effective = self.run.effective_lr
        if effective is not None and "learning_rate" in logs:
            logs["learning_rate"] = effective  # what the updates use, for every logger after this one
        metrics = {}
        for key, value in logs.items():
            if isinstance(value, bool) or not isinstance(value, (int, float)) or key.endswith(_SKIP_SUFFIXES):
                continue
            if key.startswith("eval_") or key in ("grad_norm", "epoch"):
                metrics[key] = value
            elif key == "loss" and not self._from_forward:
                metrics[key] = value  # the Trainer's (NaN-filtered) average: only without the forward hook
        if metrics:
            self.run.log(step=state.global_step, **metrics)


def _insert(trainer: Any, callback: LossmonCallback) -> None:
    """Ours goes right after the Trainer's flow callback, before the reporting ones, so they get
    the effective LR in `logs`."""
    callbacks = trainer.callback_handler.callbacks
    at = 1 if callbacks and type(callbacks[0]).__name__ == "DefaultFlowCallback" else 0
    callbacks.insert(at, callback)


def train(trainer: Any, *, name: str | None = None, run_dir: Any = None, ui: str = "auto", config: Any = None,
          fps: float = 10.0, plot_hz: float = 4.0, **train_kwargs: Any) -> Run:
    """`trainer.train(**train_kwargs)` under the lossmon monitor; returns the lossmon Run (its
    `result` is what `trainer.train` returned).

    `name`, `run_dir`, `ui`, `config`, `fps` and `plot_hz` are lossmon.run's options."""

    def fn(run: Run) -> Any:
        cb = LossmonCallback(run)
        _insert(trainer, cb)
        try:
            return trainer.train(**train_kwargs)
        finally:
            trainer.callback_handler.remove_callback(cb)

    name = name or type(trainer.model).__name__
    return lossmon.run(fn, name=name, run_dir=run_dir, ui=ui, config=config, fps=fps, plot_hz=plot_hz)
