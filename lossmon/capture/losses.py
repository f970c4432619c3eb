"""The losses a script computes, taken where torch computes them: no code change needed.

Train loss: the scalar tensor `backward()` was called on (through `torch.autograd.backward`, which
`Tensor.backward` calls), summed over the backward calls between two optimizer steps -- a script
that accumulates gradients divides its loss by the number of micro-batches, so the sum is the
step's loss. A loss scaled by a GradScaler counts as the loss before scaling. Values stay on their
device (a device add per backward, no sync); the pump copies them in its batch.

Validation loss: the losses computed with gradients off (`torch.no_grad`, `inference_mode`)
between two training steps, through `torch.nn.functional`'s loss functions (the `nn` loss modules
call them too), averaged per element as the script's own "mean" would be: one value per evaluation
pass, recorded when the next training step starts (or the script ends).
"""

from __future__ import annotations

import functools
from typing import Any, Callable

# functional losses whose `reduction` argument says how to weigh a batch, and how many elements a
# batch's mean is over: the target's elements for class-index losses, the input's for the rest
_CLASS_LOSSES = ("cross_entropy", "nll_loss")
_ELEMENT_LOSSES = ("mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss", "binary_cross_entropy",
                   "binary_cross_entropy_with_logits", "kl_div", "poisson_nll_loss", "soft_margin_loss")


class LossCapture:
    """Patches `torch.autograd.backward`, the functional losses and `GradScaler.scale` while
    installed; `on_backward`/`on_eval_end` receive what was seen (the capture decides what to log)."""

    def __init__(self, on_backward: Callable[[Any], None], on_eval_end: Callable[[Any], None]) -> None:
        self._on_backward = on_backward  # per backward: the loss (a float, or a 0-d device tensor)
        self._on_eval_end = on_eval_end  # called with the pass's mean (a 0-d tensor) when a pass ends
        self._patched: list[tuple[Any, str, Any]] = []
        self._eval: list[tuple[Any, Any, str]] = []  # this pass: (loss, its element count, reduction)
        self._scaled: tuple[Any, Any] | None = None  # (scaled loss, the loss before scaling)
        self._float32: Any = None

    # ---- install ------------------------------------------------------------------------------

    def install(self) -> "LossCapture":
        import torch
        import torch.nn.functional as F

        self._float32 = torch.float32
        self._patch(torch.autograd, "backward", self._wrap_backward(torch.autograd.backward))
        for name in _CLASS_LOSSES + _ELEMENT_LOSSES:
            fn = getattr(F, name, None)
            if fn is not None:
                self._patch(F, name, self._wrap_loss(fn, name in _CLASS_LOSSES))
        scaler = getattr(getattr(torch, "amp", None), "GradScaler", None)
        if scaler is not None and "scale" in scaler.__dict__:
            self._patch(scaler, "scale", self._wrap_scale(scaler.__dict__["scale"]))
        return self

    def _patch(self, owner: Any, name: str, new: Any) -> None:
        self._patched.append((owner, name, owner.__dict__[name] if name in vars(owner) else getattr(owner, name)))
        setattr(owner, name, new)

    def uninstall(self) -> None:
        for owner, name, old in reversed(self._patched):
            setattr(owner, name, old)
        self._patched.clear()

    # ---- wrappers -----------------------------------------------------------------------------

    def _wrap_backward(self, original: Callable) -> Callable:
        import torch

        seen = self._train_loss

        @functools.wraps(original)
        def backward(tensors, *args, **kwargs):
            if isinstance(tensors, torch.Tensor) and tensors.numel() == 1 and tensors.is_floating_point():
                seen(tensors)
            return original(tensors, *args, **kwargs)

        return backward

    def _train_loss(self, t: Any) -> None:
        scaled = self._scaled
        if scaled is not None:
            self._scaled = None
            if scaled[0] is t:
                t = scaled[1]  # scaler.scale(loss).backward(): the loss is the one before scaling
        if self._eval:
            self.end_eval()  # a training step starts: the evaluation pass before it is over
        try:
            if t.is_cpu:  # a float at once: no tensor to add up later, and no GPU to wait for
                value = t.item()
            else:  # stays on its device; the pump copies it with the rest of its batch
                value = t.detach().reshape(())
                if value.dtype != self._float32:
                    value = value.float()
            self._on_backward(value)
        except Exception:  # noqa: BLE001 - capture must never break the script's backward
            pass

    def _wrap_loss(self, original: Callable, by_class: bool) -> Callable:
        import torch

        seen = self._eval_loss

        @functools.wraps(original)
        def loss(input, target, *args, **kwargs):
            out = original(input, target, *args, **kwargs)
            if not torch.is_grad_enabled():
                try:
                    seen(out, input, target, by_class, kwargs)
                except Exception:  # noqa: BLE001 - a loss we cannot weigh is left out, never raised
                    pass
            return out

        return loss

    def _eval_loss(self, out: Any, input: Any, target: Any, by_class: bool, kwargs: dict) -> None:
        """Note one batch's loss with how many elements it is over (summed up when the pass ends:
        no tensor work per call beyond a detach)."""
        if not out.is_floating_point():
            return
        reduction = kwargs.get("reduction", "mean")
        if reduction == "none" or out.numel() != 1:  # summed now: a pass never holds per-element losses
            self._eval.append((out.detach().sum(), out.numel(), "sum"))
        else:
            if not by_class:
                n = input.shape[0] if reduction == "batchmean" else input.numel()
            elif target.is_floating_point():  # class probabilities: one element per row
                n = input.numel() // input.shape[1] if input.dim() >= 2 else 1
            elif "ignore_index" in kwargs:  # the mean is over the targets not ignored
                n = target != kwargs["ignore_index"]  # counted when the pass ends
            else:
                n = target.numel()
            self._eval.append((out.detach(), n, reduction))

    def _wrap_scale(self, original: Callable) -> Callable:
        note = self._note_scaled

        @functools.wraps(original)
        def scale(scaler, outputs, *args, **kwargs):
            out = original(scaler, outputs, *args, **kwargs)
            if out is not outputs and hasattr(out, "numel"):
                note(out, outputs)
            return out

        return scale

    def _note_scaled(self, scaled: Any, loss: Any) -> None:
        self._scaled = (scaled, loss)

    # ---- passes -------------------------------------------------------------------------------

    def end_eval(self) -> None:
        """Close the evaluation pass under way, if any: its per-element mean goes to on_eval_end."""
        if not self._eval:
            return
        parts, self._eval = self._eval, []
        try:
            total = count = 0
            for loss, n, reduction in parts:
                if not isinstance(n, int):
                    n = n.sum()  # a mask of the targets not ignored
                loss = loss.float()
                total = total + (loss.reshape(()) if reduction == "sum" else loss.reshape(()) * n)
                count = count + n
            self._on_eval_end(total / count)
        except Exception:  # noqa: BLE001 - capture must never break the script
            pass
