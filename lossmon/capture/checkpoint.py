"""A checkpoint for a script that registered no save function: the watched optimizers and the
modules they update, as state dicts in one file of the run directory.

The modules are found by what they hold: every `nn.Module` alive whose parameters an optimizer
updates, keeping only the outermost (a model, not also each of its layers).
"""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any


def trained_modules(optimizers: list[Any]) -> list[Any]:
    """The outermost nn.Modules whose parameters the optimizers update."""
    import torch

    params = {id(p) for opt in optimizers for g in opt.param_groups for p in g["params"]}
    if not params:
        return []
    module, containers = torch.nn.Module, (torch.nn.ModuleList, torch.nn.ModuleDict)
    owners = []
    for o in gc.get_objects():
        t = type(o)  # not isinstance(): it would ask proxies and deprecated aliases for __class__
        if issubclass(t, module) and not issubclass(t, containers):
            if any(id(p) in params for p in o.parameters()):
                owners.append(o)
    inner = {id(child) for m in owners for child in m.modules() if child is not m}
    roots = [m for m in owners if id(m) not in inner]
    return roots


def save_checkpoint(run_dir: Path, step: int, optimizers: list[Any], run_state: dict) -> str:
    """Save and say what was saved, in words (the checkpoint event's `result`)."""
    import torch

    if not optimizers:
        raise RuntimeError("no optimizer seen yet: nothing to save (register one with lossmon.on_checkpoint)")
    modules = trained_modules(optimizers)
    names: dict[str, Any] = {}
    for m in modules:
        base = type(m).__name__
        key, i = base, 1
        while key in names:
            i += 1
            key = f"{base}_{i}"
        names[key] = m
    path = Path(run_dir) / f"checkpoint-step{step}.pt"
    torch.save({"step": step, "lossmon": run_state,
                "modules": {k: m.state_dict() for k, m in names.items()},
                "optimizers": [opt.state_dict() for opt in optimizers]}, path)
    n_params = sum(p.numel() for m in modules for p in m.parameters())
    what = ", ".join(names) or "no module"
    opts = ", ".join(type(o).__name__ for o in optimizers)
    return f"{path} ({what}: {n_params:,} parameters; optimizer {opts})"
