"""The real-curve corpus (benchmarks/curves/): load and validate its files.

Each file is one curve with its provenance and hand-checked labels (format: curves/README.md).
`load_all()` returns every curve, sorted by id; `check(path)` raises CorpusError naming the first
thing wrong with a file, so a bad transcription fails loudly instead of scoring as a miss.

    python benchmarks/corpus.py            # validate every file and print a one-line summary each
"""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CURVES = Path(__file__).resolve().parent / "curves"

INSTABILITY = ("nonfinite", "spike", "divergence", "oscillation")
KINDS = INSTABILITY + ("overfitting", "lr_too_low", "stall", "lr_drop")
SOURCE_TYPES = ("run", "published")
_NONFINITE = {"nan": math.nan, "infinity": math.inf, "-infinity": -math.inf, "inf": math.inf, "-inf": -math.inf}


class CorpusError(ValueError):
    """A corpus file that does not follow curves/README.md."""


@dataclass
class Label:
    kind: str
    metric: str
    onset: int
    window: tuple[int, int]
    note: str = ""


@dataclass
class Curve:
    id: str
    title: str
    group: str  # the folder: runs, published
    source: dict
    field: str
    logging: str
    series: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (steps int64, values float64)
    events: list[dict] = field(default_factory=list)
    labels: list[Label] = field(default_factory=list)
    dont_care: list[tuple[int, int]] = field(default_factory=list)
    chance_level: float | None = None
    checked: str = ""

    @property
    def healthy(self) -> bool:
        return not self.labels

    @property
    def points(self) -> int:
        return sum(len(s) for s, _ in self.series.values())

    def length(self, metric: str = "loss") -> int:
        """Points in the train-loss series (or the named one)."""
        pair = self.series.get(metric)
        if pair is None:
            pair = next(iter(self.series.values()))
        return len(pair[0])


def _value(v, where: str) -> float:
    if isinstance(v, bool):
        raise CorpusError(f"{where}: {v!r} is not a number")
    if isinstance(v, (int, float)):
        return float(v)
    if isinstance(v, str) and v.strip().lower() in _NONFINITE:
        return _NONFINITE[v.strip().lower()]
    raise CorpusError(f"{where}: {v!r} is not a number (non-finite values are 'NaN', 'Infinity', '-Infinity')")


def _need(d: dict, key: str, kind, where: str):
    if key not in d:
        raise CorpusError(f"{where}: missing '{key}'")
    if not isinstance(d[key], kind):
        raise CorpusError(f"{where}: '{key}' must be {getattr(kind, '__name__', kind)}")
    return d[key]


def _window(w, where: str) -> tuple[int, int]:
    if not (isinstance(w, list) and len(w) == 2 and all(isinstance(x, int) and not isinstance(x, bool) for x in w)
            and w[0] <= w[1]):
        raise CorpusError(f"{where}: a window is [first, last] steps, first <= last; got {w!r}")
    return int(w[0]), int(w[1])


def parse(data: dict, group: str, where: str) -> Curve:
    if not isinstance(data, dict):
        raise CorpusError(f"{where}: the file must hold one JSON object")
    cid = _need(data, "id", str, where)
    source = _need(data, "source", dict, where)
    if source.get("type") not in SOURCE_TYPES:
        raise CorpusError(f"{where}: source.type must be one of {SOURCE_TYPES}")
    if source["type"] == "run" and not all(source.get(k) for k in ("repo", "command", "injected")):
        raise CorpusError(f"{where}: a run's source needs repo, command and injected ('none' for a control)")
    if source["type"] == "published" and not (source.get("repo") or source.get("url")):
        raise CorpusError(f"{where}: a published curve's source needs repo (with path) or url")
    raw = _need(data, "series", dict, where)
    series: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for name, s in raw.items():
        w = f"{where}: series {name}"
        if not isinstance(s, dict):
            raise CorpusError(f"{w} must be {{'steps': [...], 'values': [...]}}")
        steps, values = _need(s, "steps", list, w), _need(s, "values", list, w)
        if len(steps) != len(values) or not steps:
            raise CorpusError(f"{w}: steps and values must be non-empty and of one length")
        if not all(isinstance(x, int) and not isinstance(x, bool) for x in steps):
            raise CorpusError(f"{w}: steps must be whole numbers")
        st = np.asarray(steps, dtype=np.int64)
        if np.any(np.diff(st) <= 0):
            raise CorpusError(f"{w}: steps must increase")
        va = np.asarray([_value(v, w) for v in values], dtype=np.float64)
        series[name] = (st, va)
    if not series:
        raise CorpusError(f"{where}: no series")
    labels = []
    for i, lab in enumerate(data.get("labels", [])):
        w = f"{where}: labels[{i}]"
        kind = _need(lab, "kind", str, w)
        if kind not in KINDS:
            raise CorpusError(f"{w}: kind {kind!r} is not one of {', '.join(KINDS)}")
        metric = _need(lab, "metric", str, w)
        if metric not in series:
            raise CorpusError(f"{w}: metric {metric!r} is not a series of this curve")
        onset = _need(lab, "onset", int, w)
        win = _window(_need(lab, "window", list, w), w)
        if not win[0] <= onset <= win[1]:
            raise CorpusError(f"{w}: onset {onset} is outside its window {win}")
        labels.append(Label(kind, metric, int(onset), win, str(lab.get("note", ""))))
    dont = []
    for i, d in enumerate(data.get("dont_care", [])):
        w = f"{where}: dont_care[{i}]"
        if not isinstance(d, dict) or not d.get("why"):
            raise CorpusError(f"{w}: each range is {{'window': [a, b], 'why': '...'}}")
        dont.append(_window(d.get("window"), w))
    chance = data.get("chance_level")
    if chance is not None and not isinstance(chance, (int, float)):
        raise CorpusError(f"{where}: chance_level must be a number")
    if not data.get("checked"):
        raise CorpusError(f"{where}: 'checked' must say how the labels were checked")
    return Curve(id=cid, title=str(data.get("title", cid)), group=group, source=source,
                 field=str(data.get("field", "")), logging=str(data.get("logging", "")), series=series,
                 events=list(data.get("events", [])), labels=labels, dont_care=dont,
                 chance_level=None if chance is None else float(chance), checked=str(data["checked"]))


def load(path: str | Path) -> Curve:
    p = Path(path)
    try:
        data = json.loads(p.read_text())
    except (OSError, json.JSONDecodeError) as e:
        raise CorpusError(f"{p}: cannot read: {e}") from None
    curve = parse(data, p.parent.name, str(p))
    if curve.id != p.stem:
        raise CorpusError(f"{p}: id {curve.id!r} must equal the file name's stem")
    return curve


def load_all(root: Path = CURVES) -> list[Curve]:
    curves = [load(p) for p in sorted(root.glob("*/*.json"))]
    ids = [c.id for c in curves]
    dup = {i for i in ids if ids.count(i) > 1}
    if dup:
        raise CorpusError(f"duplicate curve ids: {', '.join(sorted(dup))}")
    return sorted(curves, key=lambda c: c.id)


def main() -> int:
    try:
        curves = load_all()
    except CorpusError as e:
        print(f"corpus: {e}", file=sys.stderr)
        return 1
    for c in curves:
        kinds = ",".join(sorted({lab.kind for lab in c.labels})) or "healthy"
        print(f"{c.group:<10} {c.id:<40} {c.field:<10} {c.length():>6} pts  {kinds}")
    healthy = sum(c.healthy for c in curves)
    print(f"{len(curves)} curves, {healthy} healthy, {sum(c.points for c in curves)} points")
    return 0


if __name__ == "__main__":
    sys.exit(main())
