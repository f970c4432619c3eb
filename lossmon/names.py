"""Metric naming conventions.

Users log whatever names their code already uses; lossmon maps the common spellings onto a few roles
so the views and detectors know which series is train loss, validation loss, LR, gradient norm and
update-to-weight ratio.
Every other name is kept and plottable under its own name.
"""

from __future__ import annotations

import re
from functools import lru_cache

TRAIN_LOSS = "train_loss"
VAL_LOSS = "val_loss"
LR = "lr"
GRAD_NORM = "grad_norm"
UPDATE_RATIO = "update_ratio"  # log10(||dw|| / ||w||) of one optimizer step (training/update_ratio.py)
EPOCH = "epoch"
SYSTEM = "system"  # what the system sampler records (lossmon/system): CPU, memory, GPUs, step time
OTHER = "other"

# Keys every run-log line may carry besides metrics; a metric cannot use them.
RESERVED = frozenset({"step", "time", "event"})

_TRAIN = {"loss", "train_loss", "train/loss", "training_loss", "train.loss", "loss/train"}
_VAL = {
    "val_loss", "val/loss", "valid_loss", "valid/loss", "validation_loss", "validation/loss",
    "eval_loss", "eval/loss", "loss/val", "loss/valid", "loss/eval", "val.loss", "loss/validation",
    # a held-out "test" loss logged during training plays the same part (PyTorch's TensorBoard tutorial)
    "test_loss", "test/loss", "loss/test",
}
_LR = {"lr", "learning_rate", "lr-adam", "lr-sgd", "lr-adamw", "train/learning_rate", "train/lr"}
_GRAD = {"grad_norm", "gradient_norm", "train/grad_norm", "grad-norm"}
_UPDATE_RATIO = {"update_ratio", "update_to_weight", "train/update_ratio"}
_EPOCH = {"epoch", "train/epoch"}

# Names that describe evaluation rather than a training step: logging only these does not advance
# the step counter.
# System metrics: sys/..., gpu<i>/... and torch/cuda_... (lossmon/system/sampler.py); they describe
# the machine at the current step, are shown in the system panel, and no loss detector reads them.
_SYSTEM = re.compile(r"^(sys/|gpu\d+/|torch/cuda_)")

_EVAL_PREFIX = re.compile(r"^(val|valid|validation|eval|test)([_/.\-]|$)")


@lru_cache(maxsize=4096)
def role(name: str) -> str:
    """The role of a metric name: one of TRAIN_LOSS, VAL_LOSS, LR, GRAD_NORM, UPDATE_RATIO, EPOCH,
    SYSTEM, OTHER."""
    key = name.strip().lower()
    if _SYSTEM.match(key):
        return SYSTEM
    if key.endswith("_step") and len(key) > 5:  # Lightning: self.log(..., on_step=True, on_epoch=True)
        key = key[:-5]
    if key in _TRAIN:
        return TRAIN_LOSS
    if key in _VAL:
        return VAL_LOSS
    if key in _LR or key.startswith("lr/"):
        return LR
    if key in _GRAD:
        return GRAD_NORM
    if key in _UPDATE_RATIO or key.startswith("update_ratio/"):
        return UPDATE_RATIO
    if key in _EPOCH:
        return EPOCH
    return OTHER


@lru_cache(maxsize=4096)
def advances_step(name: str) -> bool:
    """Whether logging this metric marks a new training step.

    Validation-side metrics (val_*, eval_*, test_* ...), the epoch counter, system metrics and the update ratio
    (measured every few steps, it describes the step already counted, as the effective `lr` that
    watch() adds does) belong to the current step; everything else is a training-side metric and
    moves the step on by one.
    """
    r = role(name)
    if r in (VAL_LOSS, EPOCH, UPDATE_RATIO, SYSTEM):
        return False
    return _EVAL_PREFIX.match(name.strip().lower()) is None
