"""The Diagnoser: routes logged points to the detectors, in step order, batch by batch.

The pump hands it each tick's points ({name: (steps, values)}) and events; `lossmon check` hands it
a recorded run in chunks. Metric roles come from the naming conventions (names.py): the first train
loss, val loss, grad norm and LR names seen are the ones watched. A manual LR change (an applied
`lr_change` event) splits the batch at its step and re-bases every detector that compares against
the past. A rollback (events.ROLLBACK) splits each series where its new branch begins (told by the
steps: recording/branches.py), so the points it abandoned are judged as the old curve, and the
detectors start over on the new branch; the spike or divergence that caused it resolves there.
Alerts go to `sink` as event dicts (see alerts.py); configured actions (pause/stop) go to
`act(action, alert)`. Cost: O(1) amortised per point, vectorised per batch.
"""

from __future__ import annotations

import sys
from collections import deque
from typing import Callable

import numpy as np

from lossmon import names
from lossmon.diagnosis.blocks import BlockHistory
from lossmon.diagnosis.config import DiagnosisConfig
from lossmon.diagnosis.divergence import DivergenceDetector
from lossmon.diagnosis.early_stopping import EarlyStopping
from lossmon.diagnosis.evidence import UpdateRatioTrack
from lossmon.diagnosis.nonfinite import NonFiniteDetector
from lossmon.diagnosis.oscillation import OscillationDetector
from lossmon.diagnosis.spikes import SpikeDetector
from lossmon.diagnosis.system import SystemDetector
from lossmon.diagnosis.trend import LRTrack, TrendDetector
from lossmon.diagnosis.validation import ValidationDetector
from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.probe import ProbeJudge
from lossmon.events import LR_CHANGE
from lossmon.recording.branches import fork_at, rollback_target
from lossmon.formatting import fmt_step
from lossmon.formatting import fmt_value as fmt

Act = Callable[[str, dict], None]


class _Train:
    """Everything watching the train loss, plus its smoothed level for the val detectors."""

    def __init__(self, cfg: DiagnosisConfig, sink, metric: str, lr: LRTrack, ratio: UpdateRatioTrack) -> None:
        self.cfg = cfg
        self.metric = metric
        self.blocks = BlockHistory()
        self.nonfinite = NonFiniteDetector(cfg.nonfinite, sink, metric)
        self.oscillation = OscillationDetector(cfg.oscillation, sink, metric, self.blocks)
        # the oscillation clock is the block history's point count: spikes are found in a batch
        # before the batch enters the history, so a spike's position is that count + its index
        self.spike = SpikeDetector(cfg.spike, sink, metric, robust=True,
                                   on_flag=lambda step, i: self.oscillation.on_spike(step, self.blocks.points + i))
        self.divergence = DivergenceDetector(cfg.divergence, sink, metric, lr)
        self.trend = TrendDetector(cfg.plateau, cfg.lr_too_low, sink, metric, self.blocks, lr,
                                   self.oscillation.spikes_since,
                                   lambda step: self.divergence.episode.open_at(step) or self.nonfinite.episode.open_at(step),
                                   start=lambda: self.divergence.initial, update_ratio=ratio.near)
        self._next_look = 0  # block-history point count at which the trend is judged next
        self._level_steps = np.empty(0, dtype=np.int64)  # smoothed level over the latest batch
        self._level_values = np.empty(0)
        self._level_before = np.nan  # ... and just before it

    def rollback(self, step: int) -> None:
        """The run went back to a snapshot at `step`: the history is the old branch's."""
        self.spike.rollback(step)
        self.divergence.rollback()
        self.oscillation.rebase()
        self.blocks.clear()
        self._next_look = 0
        self.trend.rebase(step, "rolled back")
        self._level_steps, self._level_values = np.empty(0, dtype=np.int64), np.empty(0)

    def rebase(self, step: int) -> None:
        self.spike.rebase(step)
        self.divergence.rebase()
        self.oscillation.rebase()
        self.blocks.clear()
        self._next_look = 0
        self.trend.rebase(step)

    def feed(self, steps: np.ndarray, values: np.ndarray) -> None:
        cfg = self.cfg
        bad = ~np.isfinite(values)
        if cfg.nonfinite.enabled:
            self.nonfinite.feed(steps, values, bad)
        if bad.any():
            steps, values = steps[~bad], values[~bad]
        if len(values) == 0:
            return
        if cfg.spike.enabled:
            self.spike.feed(steps, values)
        smooth = self.divergence.feed(steps, values)
        if len(self._level_values):
            self._level_before = float(self._level_values[-1])
        self._level_steps, self._level_values = steps, smooth
        self.blocks.extend(steps, values, self._on_block)

    def _on_block(self) -> None:
        """Judge the trend every 1/32 of the run so far (windows are >= 5 % of it), but no more
        often than every 64 points once there are a few hundred (windows are >= 500 points then):
        ~22 looks per doubling of the run, at the same points whatever the batch sizes."""
        b = self.blocks
        if b.points < self._next_look:
            return
        self._next_look = b.points + max(b.size, b.points // 32, min(64, b.points // 8))
        if self.cfg.plateau.enabled or self.cfg.lr_too_low.enabled:
            self.trend.evaluate()
        self.oscillation.evaluate()

    def level_at(self, steps: np.ndarray) -> np.ndarray:
        """Smoothed train loss at or just before each step (NaN before the first train point)."""
        idx = np.searchsorted(self._level_steps, steps, side="right") - 1
        if len(self._level_values) == 0:
            return np.full(len(steps), self._level_before)
        return np.where(idx >= 0, self._level_values[np.maximum(idx, 0)], self._level_before)


class _Role:
    """Which metric name plays a role: the first one seen with it ('lr' preferred for the LR,
    'update_ratio', the first param group's, for the update ratio)."""

    def __init__(self) -> None:
        self.names: dict[str, str] = {}

    def claim(self, name: str) -> str | None:
        r = names.role(name)
        if r in (names.OTHER, names.EPOCH, names.SYSTEM):
            return None
        held = self.names.get(r)
        if held is None or (r in (names.LR, names.UPDATE_RATIO) and name == r and held != r):
            self.names[r] = name
            return r
        return r if held == name else None


class Diagnoser:
    """All detectors for one run. `feed(points, events)` is the pump's subscriber signature."""

    def __init__(self, config: DiagnosisConfig | None = None, sink: Callable[[dict], None] | None = None,
                 act: Act | None = None, live: bool = True) -> None:
        self.cfg = config if config is not None else DiagnosisConfig()
        self.live = live  # False for a recorded run: actions are only reported
        self.alerts: list[dict] = []  # every alert so far, in the order handed on
        self._batch: list[dict] = []  # found during the current feed()
        self._sink = sink
        self._act = act
        self.roles = _Role()
        self.lr = LRTrack()
        self.ratio = UpdateRatioTrack()
        self.train: _Train | None = None
        self.val: ValidationDetector | None = None
        self.val_nonfinite: NonFiniteDetector | None = None
        self.val_spike: SpikeDetector | None = None
        self.grad_nonfinite: NonFiniteDetector | None = None
        self.grad_spike: SpikeDetector | None = None
        self.early: EarlyStopping | None = None
        self.failed: str | None = None
        self.system = SystemDetector(self.cfg.gpu_memory, self.cfg.gpu_idle, self._emit)  # GPU memory, GPU idle
        self.probe = ProbeJudge(self._emit)  # what an LR probe showed (run.probe_lr)
        self._probes: deque[list] = deque(maxlen=16)  # [start, end or None] of the latest LR probes
        self._manual_steps: deque[int] = deque(maxlen=64)  # steps of the latest manual LR changes
        self._grad_spikes: deque[int] = deque(maxlen=64)  # steps where grad-norm spike episodes began
        self._forks: dict[str, int] = {}  # series -> the target of a rollback its points have yet to show
        self._last: dict[str, int] = {}  # series -> the last step fed, in log order

    # ---- output -----------------------------------------------------------------------------

    def _emit(self, alert: dict) -> None:
        self._batch.append(alert)

    def _dispatch(self) -> None:
        """Hand this batch's alerts on in step order (detectors run one after another, so they
        find things out of order within a batch)."""
        batch, self._batch = sorted(self._batch, key=lambda a: a["step"]), []
        for alert in batch:
            self.alerts.append(alert)
            if self._sink is not None:
                self._sink(alert)
            if alert["state"] == "open" and self._act is not None:
                action = "stop" if alert["kind"] == "early_stopping" else self.cfg.action(alert["kind"])
                if action != "alert":
                    self._act(action, alert)

    # ---- input ------------------------------------------------------------------------------

    def feed(self, points: dict, events: list | tuple = ()) -> None:
        """One batch: {name: (steps, values)} plus the events logged with it. Never raises: an
        internal error is reported once and diagnosis switches off (the run goes on)."""
        if self.failed:
            return
        try:
            with np.errstate(all="ignore"):  # values near the float limit overflow in sums: no noise
                self._feed(points, events)
        except Exception as e:  # noqa: BLE001 - the monitor must never take the run down
            self.failed = f"{type(e).__name__}: {e}"
            print(f"lossmon: diagnosis stopped after an internal error ({self.failed})", file=sys.stderr)
        self._dispatch()  # what was found before an error still counts

    def _feed(self, points: dict, events) -> None:
        self._manual_steps.extend(int(ev["step"]) for ev in events if ev.get("event") == LR_CHANGE
                                  and isinstance(ev.get("step"), int))
        self.probe.events(events)
        for ev in events:  # an LR probe is a window of x2, not a new curve: no re-base, and its LR is no peak
            if ev.get("event") == LR_CHANGE and ev.get("applied", True) and isinstance(ev.get("step"), int):
                if ev.get("probe") == "start":
                    self._probes.append([int(ev["step"]), None])
                elif ev.get("probe") in ("end", "cancelled") and self._probes and self._probes[-1][1] is None:
                    self._probes[-1][1] = int(ev["step"])
        cuts = sorted({int(ev["step"]) for ev in events
                       if ev.get("event") == LR_CHANGE and ev.get("applied", True) and not ev.get("probe")
                       and isinstance(ev.get("step"), int)})
        system = {n: p for n, p in points.items() if names.role(n) == names.SYSTEM}
        if system:
            self.system.feed(system)
        arrays = {}
        monitor = self.cfg.early_stopping.monitor if self.cfg.early_stopping.enabled else None
        for name, (steps, values) in points.items():
            if self.roles.claim(name) is None and name != monitor:  # early stopping may watch val_acc
                continue
            arrays[name] = (np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64))
        for ev in events:
            to = rollback_target(ev)
            if to is not None:  # every series watched so far, or in this batch, shows it when its points do
                self._forks = {name: to for name in set(self._last) | set(arrays)}
        forks = {}
        for name, (st, va) in arrays.items():
            if name in self._forks:
                k = fork_at(st, self._forks[name], self._last.get(name))
                if k is not None:
                    forks[name] = (k, self._forks.pop(name))
            if len(st):
                self._last[name] = int(st[-1])
        if forks:
            self._cut(self._ordered({n: (st[:forks[n][0]], va[:forks[n][0]]) if n in forks else (st, va)
                                     for n, (st, va) in arrays.items()}), cuts)
            self._dispatch()  # the old branch's alerts first: sorting by step would mix the branches
            for name, (_, to) in forks.items():
                self._rolled_back(name, to)
            self._dispatch()
            self._cut(self._ordered({n: (st[k:], va[k:]) for n, (st, va) in arrays.items()
                                     for k, _ in [forks.get(n, (len(st), 0))]}), cuts)
            return
        self._cut(self._ordered(arrays), cuts)

    @staticmethod
    def _ordered(arrays: dict) -> dict:
        """Explicit steps that went back (outside a rollback): step order."""
        out = {}
        for name, (st, va) in arrays.items():
            if len(st) > 1 and np.any(st[1:] < st[:-1]):
                order = np.argsort(st, kind="stable")
                st, va = st[order], va[order]
            out[name] = (st, va)
        return out

    def _rolled_back(self, name: str, to: int) -> None:
        """Series `name` now shows the branch from a rollback to `to`: its detectors start over."""
        if self.train is not None and name == self.train.metric:
            self.train.rollback(to)
        elif self.val is not None and name == self.val.metric:
            self.val.rollback()
            self.val_spike.rollback(to)
        elif self.grad_spike is not None and name == self.grad_spike.metric:
            self.grad_spike.rollback(to)

    def _cut(self, arrays: dict, cuts: list[int]) -> None:
        """Segments between manual LR changes, the detectors re-based at each."""
        if not cuts:
            self._segment(arrays)
            return
        lo = None
        for cut in cuts + [None]:
            seg = {}
            for name, (st, va) in arrays.items():
                a = 0 if lo is None else int(np.searchsorted(st, lo, side="right"))
                b = len(st) if cut is None else int(np.searchsorted(st, cut, side="right"))
                if b > a:
                    seg[name] = (st[a:b], va[a:b])
            self._segment(seg)
            if cut is not None:
                self.rebase(cut)
            lo = cut

    def rebase(self, step: int) -> None:
        """A manual LR change at `step`: detectors that compare with the past start over."""
        if self.train is not None:
            self.train.rebase(step)
        if self.val is not None:
            self.val.rebase()
        for sp in (self.val_spike, self.grad_spike):
            if sp is not None:
                sp.rebase(step)

    def _segment(self, arrays: dict) -> None:
        by_role = {names.role(n): (n, st, va) for n, (st, va) in arrays.items()
                   if self.roles.names.get(names.role(n)) == n}
        cfg = self.cfg
        if names.LR in by_role:
            name, st, va = by_role[names.LR]
            if self._probes:
                st, va = self._outside_probes(st, va)
            seen = len(self.lr.drops)
            self.lr.feed(st, va)
            self._lr_drops(name, self.lr.drops[seen:] if seen < len(self.lr.drops) else [])
        if names.UPDATE_RATIO in by_role:
            _, st, va = by_role[names.UPDATE_RATIO]
            self.ratio.feed(st, va)
        if names.GRAD_NORM in by_role:
            name, st, va = by_role[names.GRAD_NORM]
            if self.grad_nonfinite is None:
                self.grad_nonfinite = NonFiniteDetector(cfg.nonfinite, self._emit, name, is_grad_norm=True)
                self.grad_spike = SpikeDetector(cfg.spike, self._emit, name, severity="info",
                                                on_flag=lambda step, i: self._grad_spikes.append(step))
            bad = ~np.isfinite(va)
            if cfg.nonfinite.enabled:
                self.grad_nonfinite.feed(st, va, bad)
            if cfg.spike.enabled:
                self.grad_spike.feed(st[~bad], va[~bad])
        if names.TRAIN_LOSS in by_role:  # after the grad norm: a loss spike can name one just before it
            name, st, va = by_role[names.TRAIN_LOSS]
            if self.train is None:
                self.train = _Train(cfg, self._emit, name, self.lr, self.ratio)
                for det in (self.train.spike, self.train.divergence, self.train.oscillation):
                    det.evidence = self._evidence
            self.train.feed(st, va)
            self.probe.feed(name, st, va)
        if names.VAL_LOSS in by_role:
            name, st, va = by_role[names.VAL_LOSS]
            self._val(name, st, va)
        if cfg.early_stopping.enabled:
            self._early(arrays)

    def _outside_probes(self, st: np.ndarray, va: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The LR points outside LR probe windows (a probe logs its x2 LR from the step after its
        start event to the one its end event carries)."""
        inside = np.zeros(len(st), dtype=bool)
        for a, b in self._probes:
            inside |= (st > a) & (st <= (b if b is not None else np.iinfo(np.int64).max))
        return st[~inside], va[~inside]

    def _evidence(self, step: int) -> str:
        """What else was seen near `step`, for the words of an LR-too-high alert: a grad-norm spike
        at or just before it, and how large the updates are."""
        words = ""
        near = [g for g in self._grad_spikes if 0 <= step - g <= 5]
        if near:
            g = near[-1]
            words += f"; the grad norm spiked {'at the same step' if g == step else f'first, at step {fmt_step(g)}'}"
        r = self.ratio.near(step)
        if r is not None:
            words += f"; updates are 10^{r:.1f} of the weights" + (
                " (healthy: about 10^-3)" if r > self.cfg.lr_too_low.ratio_high else "")
        return words

    def _lr_drops(self, metric: str, drops: list) -> None:
        """A note for each abrupt LR cut the schedule made (lossmon's own changes are events, and
        re-base the detectors instead): annealing is gradual, a 30x cut in one step is often a
        mistake in a schedule, and the stall after it is not convergence."""
        for step, before, after in drops:
            if any(0 <= step - m <= 2 for m in self._manual_steps):
                continue  # a change made from lossmon: it is logged at the step before it applies
            note = Episode(self._emit, "lr_drop", metric)
            note.start(step, "info", f"the LR fell {before / after:,.0f}x at once at step {fmt_step(step)}"
                       f" ({fmt(before)} -> {fmt(after)}); a schedule anneals gradually. If this cut was not"
                       " meant, restore the LR", "raise_lr", before=before, after=after)

    def _val(self, name: str, st: np.ndarray, va: np.ndarray) -> None:
        cfg = self.cfg
        if self.val is None:
            self.val = ValidationDetector(cfg.overfitting, cfg.plateau, cfg.oscillation, self._emit, name, self._train_at,
                                          lambda: self.train.metric if self.train else "train loss")
            self.val_nonfinite = NonFiniteDetector(cfg.nonfinite, self._emit, name)
            self.val_spike = SpikeDetector(cfg.spike, self._emit, name)
        bad = ~np.isfinite(va)
        if cfg.nonfinite.enabled:
            self.val_nonfinite.feed(st, va, bad)
        st, va = st[~bad], va[~bad]
        if len(va) == 0:
            return
        if cfg.spike.enabled:
            self.val_spike.feed(st, va)
        self.val.feed(st, va)

    def _train_at(self, steps: np.ndarray) -> np.ndarray:
        if self.train is None:
            return np.full(len(steps), np.nan)
        return self.train.level_at(steps)

    def _early(self, arrays: dict) -> None:
        cfg = self.cfg.early_stopping
        monitor = cfg.monitor
        found = arrays.get(monitor)
        if found is None:  # "val_loss" also means eval_loss, valid/loss, ...
            want = names.role(monitor)
            if want != names.OTHER:
                for name, pair in arrays.items():
                    if names.role(name) == want and self.roles.names.get(want) == name:
                        found = pair
                        monitor = name
                        break
        if found is None:
            return
        if self.early is None:
            self.early = EarlyStopping(cfg, self._emit, lambda: None, monitor, live=self.live)
        for s, v in zip(found[0].tolist(), found[1].tolist()):
            if self.early.update(s, v):
                break
