"""PyTorch Lightning: the live UI, diagnosis and LR/pause/stop/checkpoint control from one callback.

    import lossmon.integrations.lightning as lm
    trainer = L.Trainer(max_epochs=10)
    lm.fit(trainer, model, datamodule=dm)      # trainer.fit(...) under the live monitor

`fit` adds a `LossmonCallback` and runs `trainer.fit` as lossmon's training function. The callback:

- logs the training loss once per optimizer step, from what `training_step` returned (the mean
  over accumulated batches), as a device tensor: no host sync per step, the pump copies batches;
- logs the validation metrics (`val_*`, `valid_*`, `eval_*`, `test_*`) and the epoch after every
  validation run, from `trainer.callback_metrics` (the sanity check is skipped);
- watches every optimizer in `trainer.optimizers` (with its schedulers), so LR control applies the
  multiplier rule inside the optimizer step under Lightning's own schedulers, and the effective LR
  is logged every step;
- makes every `LearningRateMonitor` in the trainer's callbacks log the effective LR too, for the
  length of the fit: between steps the param groups hold the schedule's value u (the multiplier s
  is applied only inside the step), so the monitor would log u to TensorBoard/CSV while the
  updates use u*s. Its LR read is wrapped to multiply by the multiplier the coming step will use
  (a change asked for just before that step included). Other code that reads
  `param_groups[i]["lr"]` between steps still sees u: multiply by `run.upcoming_lr_scale`;
- serves pause and checkpoint requests at each optimizer step (batch boundaries), maps stop to
  `trainer.should_stop`, and checkpoint to `trainer.save_checkpoint` (in the run directory).

Lightning 2.x as `lightning.pytorch`, or the standalone `pytorch_lightning` package.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

try:
    import lightning.pytorch as pl
except ImportError:  # pragma: no cover - depends on what is installed
    try:
        import pytorch_lightning as pl  # type: ignore[no-redef]
    except ImportError:
        raise ImportError("lossmon.integrations.lightning needs Lightning: pip install 'lossmon[lightning]'") from None

import lossmon
from lossmon import names
from lossmon.integrations import StepLoss
from lossmon.training.run import Run


def _loss_of(outputs: Any) -> Any:
    """The loss tensor in what training_step returned (a tensor, or a dict with "loss")."""
    if isinstance(outputs, dict):
        outputs = outputs.get("loss")
    if hasattr(outputs, "detach") and getattr(outputs, "ndim", 1) == 0:
        return outputs.detach()
    return None


def _eval_side(name: str) -> bool:
    """Metrics of an evaluation run: validation loss and the like, not the epoch counter or the
    update ratio (which do not start a step either)."""
    return not names.advances_step(name) and names.role(name) not in (names.EPOCH, names.UPDATE_RATIO)


class LossmonCallback(pl.Callback):
    """Feeds a lossmon Run from a Lightning Trainer and applies its control requests."""

    def __init__(self, run: Run) -> None:
        super().__init__()
        self.run = run
        self._loss = StepLoss()
        self._logged_step: int | None = None
        self._trainer: Any = None
        self._lr_monitors: list[Any] = []

    def on_fit_start(self, trainer: Any, pl_module: Any) -> None:
        if self.run.capture is not None:  # under `lossmon run`: this callback knows better
            self.run.capture.yield_to("the Lightning integration")
        self._trainer = trainer
        self._logged_step = trainer.global_step  # a resumed fit starts past 0; log when it moves
        for opt in trainer.optimizers:
            schedulers = [c.scheduler for c in trainer.lr_scheduler_configs
                          if getattr(c.scheduler, "optimizer", None) is opt]
            self.run.watch(opt, schedulers)
        total = trainer.estimated_stepping_batches
        if isinstance(total, int) or (isinstance(total, float) and total != float("inf")):
            self.run.total_steps = int(total)
        if not self.run.has_checkpoint:
            self.run.on_checkpoint(self._save)
        self._wrap_lr_monitors(trainer)

    def on_fit_end(self, trainer: Any, pl_module: Any) -> None:
        self._unwrap_lr_monitors()

    def on_exception(self, trainer: Any, pl_module: Any, exception: BaseException) -> None:
        self._unwrap_lr_monitors()

    def teardown(self, trainer: Any, pl_module: Any, stage: str) -> None:
        self._unwrap_lr_monitors()

    def _wrap_lr_monitors(self, trainer: Any) -> None:
        """Each LearningRateMonitor's per-group LR read (`_extract_lr(param_group, name)`, which
        returns {name: lr} and appends lr to its `lrs[name]`) gets the coming step's multiplier."""
        run = self.run
        for cb in trainer.callbacks:
            if (not isinstance(cb, pl.callbacks.LearningRateMonitor) or "_extract_lr" in vars(cb)
                    or not callable(getattr(cb, "_extract_lr", None))):
                continue  # not a monitor, already wrapped, or a Lightning without this method

            def extract(param_group: dict, name: str, _cb: Any = cb, _read: Any = cb._extract_lr) -> dict:
                stats = _read(param_group, name)
                s = run.upcoming_lr_scale
                if s != 1.0 and name in stats:
                    stats[name] = stats[name] * s
                    history = getattr(_cb, "lrs", {}).get(name)
                    if history:
                        history[-1] = stats[name]
                return stats

            cb._extract_lr = extract
            self._lr_monitors.append(cb)

    def _unwrap_lr_monitors(self) -> None:
        while self._lr_monitors:
            vars(self._lr_monitors.pop()).pop("_extract_lr", None)

    def on_train_batch_end(self, trainer: Any, pl_module: Any, outputs: Any, batch: Any, batch_idx: int) -> None:
        loss = _loss_of(outputs)
        if loss is not None:
            self._loss.add(loss)
        step = trainer.global_step
        if step != self._logged_step:  # an optimizer step ran (every k batches when accumulating)
            self._logged_step = step
            self._loss.log(self.run, step)
        if self.run.should_stop:
            trainer.should_stop = True

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:
        if trainer.sanity_checking:
            return
        metrics = {k: v for k, v in trainer.callback_metrics.items() if _eval_side(k) and k not in names.RESERVED}
        if metrics:
            self.run.log(step=trainer.global_step, epoch=trainer.current_epoch, **metrics)

    def _save(self) -> str:
        trainer = self._trainer
        where = Path(self.run.dir) if self.run.dir is not None else Path(trainer.default_root_dir)
        path = where / "checkpoints" / f"step-{trainer.global_step}.ckpt"
        path.parent.mkdir(parents=True, exist_ok=True)
        trainer.save_checkpoint(str(path))
        return str(path)


def fit(trainer: Any, *args: Any, name: str | None = None, run_dir: Any = None, ui: str = "auto",
        config: Any = None, fps: float = 10.0, plot_hz: float = 4.0, **kwargs: Any) -> Run:
    """`trainer.fit(*args, **kwargs)` under the lossmon monitor; returns the lossmon Run.

    `name`, `run_dir`, `ui`, `config`, `fps` and `plot_hz` are lossmon.run's options."""
    model = args[0] if args else kwargs.get("model")

    def train(run: Run) -> None:
        cb = LossmonCallback(run)
        trainer.callbacks.append(cb)
        try:
            trainer.fit(*args, **kwargs)
        finally:
            trainer.callbacks.remove(cb)

    name = name or (type(model).__name__ if model is not None else "lightning")
    return lossmon.run(train, name=name, run_dir=run_dir, ui=ui, config=config, fps=fps, plot_hz=plot_hz)
