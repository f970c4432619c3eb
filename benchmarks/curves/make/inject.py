"""Run an unmodified training script (as `python script.py args` would) with global hooks that
record its per-step loss and effective LR, and inject failures at known steps.

    python inject.py --record rec.json [injections] -- script.py [script args]

Step k = the k-th backward pass = the k-th optimizer step (every script used here does one
backward per optimizer step). The loss recorded for step k is the scalar backpropagated at step k.

Injections (all optional, repeatable where it says so):
  --lr-scale A:B:F     multiply every param group's LR by F for optimizer steps A..B (inclusive,
                       B may be 'end'); the script's own LR is put back after each step, so its
                       schedulers evolve as they would. Repeatable.
  --lr-global A:B:F    the same for a script with no torch optimizer that reads a module-level
                       global `lr` (pytorch/examples word_language_model): lr is multiplied at the
                       start of step A and restored after step B.
  --bad-labels S,S,..  at these steps, the targets of the training loss (F.cross_entropy /
                       F.nll_loss with grad enabled) are replaced by uniform random classes
                       (ignored positions are kept): a garbage batch.
  --grad-scale S:F     at step S, backpropagate F * loss (gradients x F). Repeatable.
  --nan-grad S         at step S, backpropagate with a NaN gradient: the update poisons the weights,
                       so the loss is NaN from step S+1 on.
Recording (optional):
  --record-update-ratio  at every optimizer step of the first optimizer seen, the update-to-weight
                       ratio of its param group 0: r = log10(||w_after - w_before|| / ||w_after||),
                       each norm the norm of the per-tensor float32 norms over the group's params that
                       have a gradient at the pre-step hook (all params that require grad when none has
                       one yet, as with a step(closure) whose backward runs inside the step); the
                       parameters are copied in the pre-step hook and r is taken in the post-step hook.
                       Zero weights give NaN/inf, a zero update -inf (kept as values).
The record holds: loss per step, lr per step (param group 0, as applied), every line the script
printed with the number of steps completed when it was printed, the injections, and (with
--record-update-ratio) update_ratio per optimizer step.
"""

from __future__ import annotations

import argparse
import atexit
import json
import math
import os
import runpy
import sys
import time

import importlib

import torch
import torch.nn.functional as F


def _range(text):
    a, b, f = text.split(":")
    return int(a), (10**12 if b == "end" else int(b)), float(f)


ap = argparse.ArgumentParser()
ap.add_argument("--record", required=True)
ap.add_argument("--lr-scale", action="append", default=[], type=_range)
ap.add_argument("--lr-global", action="append", default=[], type=_range)
ap.add_argument("--bad-labels", default="")
ap.add_argument("--grad-scale", action="append", default=[])
ap.add_argument("--nan-grad", type=int, default=None)
ap.add_argument("--lr-from-global", action="store_true",
                help="record the LR from the script's module-level global `lr` (no torch optimizer)")
ap.add_argument("--seed-bad", type=int, default=0)
ap.add_argument("--record-update-ratio", action="store_true",
                help="record r = log10(||dw||/||w||) of the first optimizer's param group 0 at every step")
ap.add_argument("script")
ap.add_argument("args", nargs=argparse.REMAINDER)
opt = ap.parse_args()

bad_steps = {int(s) for s in opt.bad_labels.split(",") if s}
grad_scale = {int(s.split(":")[0]): float(s.split(":")[1]) for s in opt.grad_scale}
rec = {"injector_argv": sys.argv[1:], "cwd": os.getcwd(), "loss": [], "lr": [], "log": [],
       "injected": [], "t0": time.time()}
state = {"bw": 0, "opt": 0, "saved": {}, "gsaved": None, "ratio_opt": None, "ratio_saved": None}
if opt.record_update_ratio:
    rec["update_ratio"] = []
gen = torch.Generator().manual_seed(opt.seed_bad)


def _lr_factor(k, ranges):
    f = 1.0
    for a, b, s in ranges:
        if a <= k <= b:
            f *= s
    return f


def _pre(optimizer, args, kwargs):
    # Lightning/HF call step(closure): this hook runs before the closure's backward.
    state["opt"] += 1
    k = state["opt"]
    f = _lr_factor(k, opt.lr_scale)
    saved = []
    for g in optimizer.param_groups:
        saved.append(g["lr"])
        if f != 1.0:
            g["lr"] = g["lr"] * f
    state["saved"][id(optimizer)] = saved
    lr0 = optimizer.param_groups[0]["lr"]
    rec["lr"].append([k, float(lr0.item() if torch.is_tensor(lr0) else lr0)])
    if opt.record_update_ratio:
        _ratio_pre(optimizer, k)


def _ratio_pre(optimizer, k):
    if state["ratio_opt"] is None:
        state["ratio_opt"] = id(optimizer)
    if state["ratio_opt"] != id(optimizer):
        return
    g = optimizer.param_groups[0]
    params = [p for p in g["params"] if p.grad is not None]
    if not params:  # step(closure): the backward runs inside the step
        params = [p for p in g["params"] if p.requires_grad]
    with torch.no_grad():
        state["ratio_saved"] = (k, params, torch._foreach_mul(params, 1.0))


def _ratio_post(optimizer):
    if state["ratio_opt"] != id(optimizer) or state["ratio_saved"] is None:
        return
    k, params, before = state["ratio_saved"]
    state["ratio_saved"] = None
    with torch.no_grad():
        torch._foreach_sub_(before, params)  # w_before - w_after: the same norm as the update
        d = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(before, 2, dtype=torch.float32)))
        w = torch.linalg.vector_norm(torch.stack(torch._foreach_norm(params, 2, dtype=torch.float32)))
        rec["update_ratio"].append([k, float(torch.log10(d / w).item())])


def _post(optimizer, args, kwargs):
    if opt.record_update_ratio:
        _ratio_post(optimizer)
    saved = state["saved"].pop(id(optimizer), None)
    if saved is not None:
        for g, lr in zip(optimizer.param_groups, saved):
            g["lr"] = lr


_optmod = importlib.import_module("torch.optim.optimizer")  # torch.optim no longer exposes the submodule as an attribute
_optmod.register_optimizer_step_pre_hook(_pre)
_optmod.register_optimizer_step_post_hook(_post)

_orig_backward = torch.Tensor.backward


def _main_globals():
    mod = sys.modules.get("__main__")
    return getattr(mod, "__dict__", {})


def _backward(self, gradient=None, *a, **kw):
    k = state["bw"] + 1
    if opt.lr_global:
        g = _main_globals()
        for a_, b_, f in opt.lr_global:
            if k == a_ and "lr" in g:
                state["gsaved"] = g["lr"]
                g["lr"] = g["lr"] * f
                rec["injected"].append([k, f"global lr {state['gsaved']} -> {g['lr']}"])
    if self.numel() == 1:
        try:
            rec["loss"].append([k, float(self.detach().float().item())])
        except Exception:
            pass
        if opt.lr_from_global and "lr" in _main_globals() and isinstance(_main_globals()["lr"], (int, float)):
            rec["lr"].append([k, float(_main_globals()["lr"])])
    if k in grad_scale and self.numel() == 1:
        gradient = torch.full_like(self, grad_scale[k])
        rec["injected"].append([k, f"grad x{grad_scale[k]}"])
    if opt.nan_grad == k and self.numel() == 1:
        gradient = torch.full_like(self, math.nan)
        rec["injected"].append([k, "nan gradient"])
    out = _orig_backward(self, gradient, *a, **kw)
    state["bw"] = k
    if opt.lr_global:
        g = _main_globals()
        for a_, b_, f in opt.lr_global:
            if k == b_ and state["gsaved"] is not None:
                g["lr"] = state["gsaved"]
                state["gsaved"] = None
    return out


torch.Tensor.backward = _backward


def _corrupt(input, target, ignore_index):
    k = state["bw"] + 1
    if k not in bad_steps or not torch.is_grad_enabled() or target.dtype not in (torch.int64, torch.int32):
        return target
    c = input.shape[1] if input.dim() >= 2 else input.shape[0]
    rnd = torch.randint(0, c, target.shape, generator=gen).to(target.dtype)
    keep = (target == ignore_index) | (target < 0)
    rec["injected"].append([k, f"random labels ({int((~keep).sum())} targets)"])
    return torch.where(keep, target, rnd)


_ce, _nll = F.cross_entropy, F.nll_loss


def _cross_entropy(input, target, *a, **kw):
    return _ce(input, _corrupt(input, target, kw.get("ignore_index", -100)), *a, **kw)


def _nll_loss(input, target, *a, **kw):
    return _nll(input, _corrupt(input, target, kw.get("ignore_index", -100)), *a, **kw)


F.cross_entropy, F.nll_loss = _cross_entropy, _nll_loss


class _Tee:
    def __init__(self, stream):
        self.stream, self.buf = stream, ""

    def write(self, s):
        self.stream.write(s)
        self.buf += s
        while "\n" in self.buf:
            line, self.buf = self.buf.split("\n", 1)
            if line.strip():
                rec["log"].append([state["bw"], line])
        return len(s)

    def flush(self):
        self.stream.flush()

    def __getattr__(self, name):
        return getattr(self.stream, name)


sys.stdout = _Tee(sys.stdout)


def _save():
    rec["wall_s"] = round(time.time() - rec.pop("t0", time.time()), 1)
    rec["steps"] = state["bw"]
    with open(opt.record, "w") as f:
        json.dump(rec, f)


atexit.register(_save)
sys.argv = [opt.script] + opt.args
sys.path.insert(0, os.path.dirname(os.path.abspath(opt.script)))
runpy.run_path(opt.script, run_name="__main__")
