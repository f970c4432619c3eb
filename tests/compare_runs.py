"""Small recorded runs (run.jsonl + meta.json, written directly) for the comparison tests."""

from __future__ import annotations

import json
import math
from pathlib import Path

T0 = 1_764_000_000.0


def write_run(root: Path, name: str, lr: float, steps: int = 200, *, seconds_per_step: float = 0.05,
              config: dict | None = None, nan_at: int | None = None, state: str = "finished") -> Path:
    d = root / name
    d.mkdir(parents=True)
    lines = []
    for i in range(1, steps + 1):
        loss = 2.0 * math.exp(-lr * i / 10) + 0.1 + 0.02 * math.sin(i)
        t = T0 + i * seconds_per_step
        lines.append({"step": i, "time": t, "loss": "NaN" if i == nan_at else loss})
        if i % 40 == 0:
            lines.append({"step": i, "time": t, "val_loss": 2.2 * math.exp(-lr * i / 12) + 0.15})
    (d / "run.jsonl").write_text("".join(json.dumps(rec) + "\n" for rec in lines))
    meta = {"name": name, "state": state, "start_time": T0, "steps": steps, "exit_code": 0,
            "config": {"lr": lr, "batch": 32, **(config or {})}}
    (d / "meta.json").write_text(json.dumps(meta))
    return d


def three_runs(root: Path) -> list[Path]:
    return [write_run(root, "lr0.1", 0.1, seconds_per_step=0.05),
            write_run(root, "lr0.03", 0.03, steps=160, seconds_per_step=0.1, config={"warmup": 10}),
            write_run(root, "lr0.01", 0.01, steps=120, seconds_per_step=0.2)]
