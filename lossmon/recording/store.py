"""In-memory metric store: append-only columns per metric, with a min/max pyramid for plotting.

One thread writes (the pump), any number read (views, detectors). Readers never see torn data
because the writer fills arrays first and publishes the new length last; arrays only ever grow by
copy-then-swap, so an array a reader holds stays valid for the length it read.

The pyramid keeps, for every complete block of BLOCK**k points, the finite min, finite max and the
count of non-finite values. An envelope query over N screen columns then touches O(N * BLOCK * levels)
elements whatever the history length -- a single spike among ten million points still shows, because
nothing is ever thinned by striding or sampling.

A rollback (events.ROLLBACK) forks the series it reaches: the points above its target that were
logged before it move to a new, frozen Series in `abandoned`, and the live series is replaced by a
new one holding the points up to the target (arrays and pyramid copied, once per rollback) plus
those logged after. Nothing is mutated in place, so a reader holding the old Series keeps a valid
one, and every live series keeps its steps in order, which the envelope's binary search needs.
Which points came after the event is told by their steps (recording/branches.py), so a fork waits
for the first point of the new branch if the event arrives first.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Iterable

import numpy as np

from lossmon import names
from lossmon.recording.branches import fork_at, rollback_target

BLOCK = 16  # pyramid fan-out: level k summarises BLOCK**k raw points
_MIN_CAPACITY = 1024


def _grown(arr: np.ndarray, need: int) -> np.ndarray:
    """A copy of arr with room for `need` elements (x2 while small, x1.25 when large)."""
    cap = len(arr)
    factor = 2.0 if cap < (1 << 20) else 1.25
    new_cap = max(need, int(cap * factor), _MIN_CAPACITY)
    out = np.empty(new_cap, dtype=arr.dtype)
    out[:cap] = arr
    return out


class _Level:
    """One level of the pyramid: per complete block, finite min, finite max, non-finite count."""

    __slots__ = ("lo", "hi", "bad", "n")

    def __init__(self) -> None:
        self.lo = np.empty(0, dtype=np.float64)
        self.hi = np.empty(0, dtype=np.float64)
        self.bad = np.empty(0, dtype=np.int64)
        self.n = 0

    def extend(self, lo: np.ndarray, hi: np.ndarray, bad: np.ndarray) -> None:
        need = self.n + len(lo)
        if need > len(self.lo):
            self.lo, self.hi, self.bad = _grown(self.lo, need), _grown(self.hi, need), _grown(self.bad, need)
        self.lo[self.n:need] = lo
        self.hi[self.n:need] = hi
        self.bad[self.n:need] = bad
        self.n = need

    def nbytes(self) -> int:
        return self.lo.nbytes + self.hi.nbytes + self.bad.nbytes


@dataclass(frozen=True)
class Envelope:
    """Per screen column: finite min/max (NaN where none), last value, point and non-finite counts.

    `edges` has len(lo) + 1 step boundaries; column i covers steps [edges[i], edges[i+1]).
    """

    edges: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    last: np.ndarray
    count: np.ndarray
    nonfinite: np.ndarray


class Series:
    """One metric's history: steps (int64) and values (float64), append-only."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.role = names.role(name)
        self._steps = np.empty(0, dtype=np.int64)
        self._values = np.empty(0, dtype=np.float64)
        self._levels: list[_Level] = []
        self._n = 0
        self.nonfinite = 0  # NaN and +/-inf values seen
        self.out_of_order = 0  # points whose step is below the previous point's step

    # ---- writer side (one thread) -------------------------------------------------------------

    def extend(self, steps: np.ndarray, values: np.ndarray) -> None:
        """Append points. Only the store's single writer calls this."""
        k = len(values)
        if k == 0:
            return
        steps = np.asarray(steps, dtype=np.int64)
        values = np.asarray(values, dtype=np.float64)
        n = self._n
        need = n + k
        if need > len(self._values):
            self._steps, self._values = _grown(self._steps, need), _grown(self._values, need)
        prev = self._steps[n - 1] if n else steps[0]
        self.out_of_order += int(steps[0] < prev) + int(np.count_nonzero(np.diff(steps) < 0))
        self._steps[n:need] = steps
        self._values[n:need] = values
        self.nonfinite += k - int(np.count_nonzero(np.isfinite(values)))
        self._update_pyramid(n, need)
        self._n = need  # publish last: readers see only fully written points

    def _update_pyramid(self, old_n: int, new_n: int) -> None:
        below_lo = below_hi = below_bad = None
        size = 1
        level = 0
        while True:
            size *= BLOCK
            first, last = old_n // size, new_n // size  # complete blocks at this level
            if last == first:
                return
            if level == len(self._levels):
                self._levels.append(_Level())
            if level == 0:
                raw = self._values[first * BLOCK:last * BLOCK].reshape(-1, BLOCK)
                fin = np.isfinite(raw)
                lo = np.where(fin, raw, np.inf).min(axis=1)
                hi = np.where(fin, raw, -np.inf).max(axis=1)
                bad = BLOCK - fin.sum(axis=1)
            else:
                prev = self._levels[level - 1]
                below_lo = prev.lo[first * BLOCK:last * BLOCK].reshape(-1, BLOCK)
                below_hi = prev.hi[first * BLOCK:last * BLOCK].reshape(-1, BLOCK)
                below_bad = prev.bad[first * BLOCK:last * BLOCK].reshape(-1, BLOCK)
                lo, hi, bad = below_lo.min(axis=1), below_hi.max(axis=1), below_bad.sum(axis=1)
            lvl = self._levels[level]
            assert lvl.n == first
            lvl.extend(lo, hi, bad)
            level += 1

    def copy_prefix(self, other: "Series", i: int) -> None:
        """Become `other`'s first `i` points (on a new, empty series): the arrays (with `other`'s
        capacity, so the next append does not copy them again) and the pyramid's complete blocks
        copied, not recomputed; the counts are `other`'s less what lies past `i`."""
        steps, values = other.points()
        self._steps = np.empty(other.capacity, dtype=np.int64)
        self._values = np.empty(other.capacity, dtype=np.float64)
        self._steps[:i] = steps[:i]
        self._values[:i] = values[:i]
        size = 1
        for lo, hi, bad in other.levels():
            size *= BLOCK
            m = i // size
            if m == 0:
                break
            level = _Level()
            level.extend(lo[:m], hi[:m], bad[:m])
            self._levels.append(level)
        tail = values[i:]
        self.nonfinite = other.nonfinite - (len(tail) - int(np.count_nonzero(np.isfinite(tail))))
        self.out_of_order = other.out_of_order - int(np.count_nonzero(np.diff(steps[max(i - 1, 0):]) < 0))
        self._n = i

    # ---- reader side (any thread) -------------------------------------------------------------

    def __len__(self) -> int:
        return self._n

    def _snapshot(self) -> tuple[int, np.ndarray, np.ndarray]:
        n = self._n  # read the length first: the arrays read after it hold at least n points
        return n, self._steps, self._values

    def steps(self) -> np.ndarray:
        n, steps, _ = self._snapshot()
        return steps[:n]

    def values(self) -> np.ndarray:
        n, _, values = self._snapshot()
        return values[:n]

    def points(self) -> tuple[np.ndarray, np.ndarray]:
        """Steps and values of the same length (two separate reads could straddle an append)."""
        n, steps, values = self._snapshot()
        return steps[:n], values[:n]

    def last(self) -> tuple[int, float] | None:
        n, steps, values = self._snapshot()
        if n == 0:
            return None
        return int(steps[n - 1]), float(values[n - 1])

    @property
    def capacity(self) -> int:
        """Points the arrays have room for before they grow."""
        return len(self._steps)

    def levels(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
        """The pyramid's complete blocks, level by level: (finite min, finite max, non-finite count)."""
        return [(lv.lo[:lv.n], lv.hi[:lv.n], lv.bad[:lv.n]) for lv in self._levels]

    def nbytes(self) -> int:
        """Bytes allocated for this series (capacity, not just the filled part)."""
        return self._steps.nbytes + self._values.nbytes + sum(lv.nbytes() for lv in self._levels)

    def envelope(self, columns: int, start: float | None = None, end: float | None = None) -> Envelope:
        """Min/max/last/count per column over steps [start, end], in O(columns * BLOCK * levels).

        Columns split the step range into equal widths; each holds the points whose step falls in
        it. Steps are expected non-decreasing (out-of-order points are kept, counted in
        `out_of_order`, and placed by arrival).
        """
        if columns <= 0:
            raise ValueError("columns must be positive")
        n, steps, values = self._snapshot()
        levels = [(lv.lo, lv.hi, lv.bad) for lv in self._levels]  # arrays read after n: valid up to n
        all_finite = self.nonfinite == 0  # read after n: counts every point up to n (the writer counts first)
        if n:
            start = float(steps[0]) if start is None else float(start)
            end = float(steps[n - 1]) if end is None else float(end)
        else:
            start = 0.0 if start is None else float(start)
            end = start if end is None else float(end)
        end = max(end, start)
        edges = np.linspace(start, end + 1.0, columns + 1)  # end inclusive for integer steps
        # Search with integer keys: float keys would make numpy cast the whole step column.
        idx = np.searchsorted(steps[:n], np.ceil(edges).astype(np.int64), side="left")
        i, j = idx[:-1].astype(np.int64), idx[1:].astype(np.int64)
        lo, hi, bad = _range_reduce(values[:n], levels, i, j, all_finite)
        count = j - i
        has = count > 0
        last = np.full(columns, np.nan)
        last[has] = values[j[has] - 1]
        empty_finite = ~np.isfinite(lo)  # no finite point in the column
        lo = np.where(empty_finite, np.nan, lo)
        hi = np.where(empty_finite, np.nan, hi)
        return Envelope(edges=edges, lo=lo, hi=hi, last=last, count=count, nonfinite=bad)


_LANES = np.arange(BLOCK)[None, :]


def _gather(arr: np.ndarray, idx: np.ndarray, mask: np.ndarray, fill: float | int) -> np.ndarray:
    """arr[idx] where mask holds, `fill` elsewhere (idx already clipped into arr)."""
    return np.where(mask, arr[idx], fill)


def _range_reduce(values: np.ndarray, levels: list, i: np.ndarray, j: np.ndarray, all_finite: bool = False):
    """Finite min, finite max and non-finite count of values[i[c]:j[c]] for every column c.

    Bottom-up decomposition: at each level take the partial blocks at both ends of the range
    (fewer than BLOCK each), then carry the whole blocks between them up to the next level.
    `all_finite` (no NaN/inf in the series, the usual case) skips the finiteness masks and the
    non-finite counts: a third of the work on a long history.
    """
    cols = len(i)
    lo = np.full(cols, np.inf)
    hi = np.full(cols, -np.inf)
    bad = np.zeros(cols, dtype=np.int64)
    a, b = i.copy(), j.copy()
    for level in range(len(levels) + 1):
        if not (a < b).any():
            break
        if level < len(levels):
            up_a, up_b = -(-a // BLOCK), b // BLOCK  # whole next-level blocks: [up_a, up_b)
            left_stop = np.minimum(up_a * BLOCK, b)
            right_start = np.maximum(up_b * BLOCK, left_stop)
        else:  # top level: fewer than BLOCK elements in all, so one fringe covers the rest
            up_a = up_b = np.zeros_like(a)
            left_stop = right_start = b
        if level == 0:
            src_lo, src_hi, src_bad = values, values, None
        else:
            src_lo, src_hi, src_bad = levels[level - 1]
        if len(src_lo) and ((a < left_stop).any() or (right_start < b).any()):
            # Both fringes of every column in one gather: rows [0, cols) left, [cols, 2cols) right.
            s_ = np.concatenate((a, right_start))
            e_ = np.concatenate((left_stop, b))
            offs = s_[:, None] + _LANES  # each fringe is shorter than BLOCK
            mask = offs < e_[:, None]
            idx = np.minimum(offs, len(src_lo) - 1)
            if src_bad is None and not all_finite:  # raw points: NaN/inf are counted, not compared
                raw = src_lo[idx]
                fin = np.isfinite(raw) & mask
                f_lo = np.where(fin, raw, np.inf).min(axis=1)
                f_hi = np.where(fin, raw, -np.inf).max(axis=1)
                f_bad = mask.sum(axis=1) - fin.sum(axis=1)
            else:
                f_lo = _gather(src_lo, idx, mask, np.inf).min(axis=1)
                f_hi = _gather(src_hi, idx, mask, -np.inf).max(axis=1)
                f_bad = None if all_finite else _gather(src_bad, idx, mask, 0).sum(axis=1)
            lo = np.minimum(lo, np.minimum(f_lo[:cols], f_lo[cols:]))
            hi = np.maximum(hi, np.maximum(f_hi[:cols], f_hi[cols:]))
            if f_bad is not None:
                bad += f_bad[:cols] + f_bad[cols:]
        whole = (up_a < up_b) & (a < b)
        a = np.where(whole, up_a, 0)
        b = np.where(whole, up_b, 0)
    return lo, hi, bad


class MetricStore:
    """All series of one run plus its events. `version` moves on every append, so views can skip
    redrawing when nothing changed."""

    def __init__(self) -> None:
        self._series: dict[str, Series] = {}
        self.events: list[dict] = []  # append-only; readers slice from their last index
        self.version = 0
        self.last_step = 0
        self._lock = threading.Lock()  # guards creation of new series only
        # what rollbacks left behind, oldest first, append-only: (series name, its abandoned points, to)
        self.abandoned: list[tuple[str, Series, int]] = []
        self._forks: dict[str, int] = {}  # series name -> the target of a rollback it has yet to show

    def series(self, name: str) -> Series | None:
        return self._series.get(name)

    def names(self) -> list[str]:
        return list(self._series)

    def by_role(self, role: str) -> Series | None:
        """The first series logged under a role (e.g. names.TRAIN_LOSS)."""
        for s in list(self._series.values()):
            if s.role == role:
                return s
        return None

    def _get_or_create(self, name: str) -> Series:
        s = self._series.get(name)
        if s is None:
            with self._lock:
                s = self._series.setdefault(name, Series(name))
        return s

    def abandoned_of(self, role: str) -> list[Series]:
        """The abandoned stretches of the series that plays `role` now, oldest first."""
        live = self.by_role(role)
        return [s for name, s, _ in list(self.abandoned) if live is not None and name == live.name]

    def append_points(self, points: dict[str, tuple[list[int], list[float]]]) -> None:
        """Append a batch: metric name -> (steps, values). Single writer."""
        for name, (steps, values) in points.items():
            steps = np.asarray(steps, np.int64)
            values = np.asarray(values, np.float64)
            series = self._get_or_create(name)
            to = self._forks.get(name)
            if to is not None and len(steps):
                last = series.last()
                k = fork_at(steps, to, last[0] if last else None, cross=False)
                if k is not None:
                    series.extend(steps[:k], values[:k])
                    series = self._fork(name, to, len(series))
                    steps, values = steps[k:], values[k:]
            series.extend(steps, values)
            if len(steps):
                self.last_step = max(self.last_step, int(steps.max()))
        self.version += 1

    def append_events(self, events: Iterable[dict]) -> None:
        added = False
        for ev in events:
            self.events.append(ev)
            added = True
            to = rollback_target(ev)
            if to is not None:
                self._rollback(to)
        if added:
            self.version += 1

    def _rollback(self, to: int) -> None:
        """A rollback to `to`: fork each series whose new branch is here already; the others fork
        when it arrives (none, for a series with nothing above `to`)."""
        for name, series in list(self._series.items()):
            steps = series.steps()
            above = steps > to
            if not above.any():  # nothing to abandon yet (a lagging columns file may still bring some)
                self._forks[name] = to
                continue
            first = int(np.argmax(above))
            k = fork_at(steps[first:], to, int(steps[first - 1]) if first else None, cross=False)
            if k is None:
                self._forks[name] = to
            else:
                self._fork(name, to, first + k)
        self.last_step = max([to] + [int(s.last()[0]) for s in self._series.values()
                                     if len(s) and s.name not in self._forks])

    def _fork(self, name: str, to: int, k: int) -> Series:
        """Replace series `name` by its points up to `to` among the first `k`, then those from `k`
        on; the points above `to` before `k` become an abandoned stretch."""
        self._forks.pop(name, None)
        old = self._series[name]
        steps, values = old.points()
        i = int(np.searchsorted(steps[:k], to, side="right"))
        live = Series(name)
        live.copy_prefix(old, i)
        live.extend(steps[k:], values[k:])
        gone = Series(name)
        gone.extend(steps[i:k], values[i:k])
        self._series[name] = live
        self.abandoned.append((name, gone, to))
        return live

    @property
    def nonfinite(self) -> int:
        """NaN and inf values seen, the update ratio's left out: its -inf is a step that changed
        nothing (an LR of 0 in a warm-up), not a fault."""
        return sum(s.nonfinite for s in list(self._series.values()) if s.role != names.UPDATE_RATIO)

