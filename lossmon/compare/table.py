"""The comparison table: one row per run, the same whether printed (no terminal, CI) or under
the overlaid curves; and the config keys whose values differ between the runs (the ones worth a
column)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from lossmon import names
from lossmon.formatting import fmt_value
from lossmon.rundir.configvalues import shown

MISSING = "-"


@dataclass
class RunRow:
    name: str
    state: str
    steps: int
    best_val: float | None = None
    best_val_step: int | None = None
    last_train: float | None = None
    config: dict[str, Any] = field(default_factory=dict)


def _last_finite(series) -> float | None:
    if series is None or not len(series):
        return None
    last = series.last()
    if last is not None and np.isfinite(last[1]):
        return float(last[1])  # the usual case, without copying a long history
    values = series.values()
    ok = np.flatnonzero(np.isfinite(values))
    return float(values[ok[-1]]) if len(ok) else float(values[-1])  # all NaN: say NaN, not nothing


def _best(series) -> tuple[float | None, int | None]:
    if series is None or not len(series):
        return None, None
    steps, values = series.points()
    finite = np.isfinite(values)
    if not finite.any():
        return float(values[-1]), int(steps[-1])
    i = int(np.argmin(np.where(finite, values, np.inf)))
    return float(values[i]), int(steps[i])


def row_of(name: str, state: str, store: Any, config: Any) -> RunRow:
    """A run's row from its store (MetricStore) and its meta.json config (anything: a foreign or
    hand-edited meta.json may hold a list there)."""
    best, at = _best(store.by_role(names.VAL_LOSS))
    return RunRow(name, state, int(store.last_step), best, at, _last_finite(store.by_role(names.TRAIN_LOSS)),
                  dict(config) if isinstance(config, dict) else {})


def differing_keys(configs: list[dict[str, Any]]) -> list[str]:
    """Config keys whose values are not the same in every run (a key some runs lack differs),
    in first-seen order."""
    keys: dict[str, None] = {}
    for c in configs:
        keys.update(dict.fromkeys(c))
    out = []
    for k in keys:
        values = [_key(c.get(k, _Missing)) for c in configs]
        if len(set(values)) > 1:
            out.append(k)
    return out


class _Missing:
    pass


def _key(v: Any) -> str:
    return "\0missing" if v is _Missing else repr(v)


HEADER = ("RUN", "STATE", "STEPS", "BEST VAL", "AT STEP", "LAST TRAIN")


def cells(rows: list[RunRow], max_config: int | None = None) -> tuple[list[str], list[list[str]]]:
    """(header, a row of cells per run): the fixed columns, then the differing config keys
    (at most `max_config`; the rest are left out, not cut)."""
    keys = differing_keys([r.config for r in rows])
    if max_config is not None:
        keys = keys[:max_config]
    header = [*HEADER, *keys]
    body = []
    for r in rows:
        fixed = [r.name, r.state, f"{r.steps:,}", fmt_value(r.best_val),
                 f"{r.best_val_step:,}" if r.best_val_step is not None else MISSING, fmt_value(r.last_train)]
        body.append(fixed + [shown(r.config[k]) if k in r.config else MISSING for k in keys])
    return header, body


def table_text(rows: list[RunRow], max_config: int | None = None, max_cell: int = 40) -> str:
    """The table as aligned plain text (numbers right-aligned)."""
    header, body = cells(rows, max_config)
    body = [[c if len(c) <= max_cell else c[: max_cell - 1] + "…" for c in r] for r in body]
    widths = [max(len(h), *(len(b[i]) for b in body)) if body else len(h) for i, h in enumerate(header)]
    right = {2, 3, 4, 5}
    lines = []
    for row in (header, *body):
        lines.append("  ".join(c.rjust(w) if i in right else c.ljust(w)
                               for i, (c, w) in enumerate(zip(row, widths))).rstrip())
    return "\n".join(lines)

