"""Oscillation (warning): the LR is probably too high.

Either several spike episodes close together (the spike detector reports each one here), or the
train curve's block means (a `BlockHistory`) swinging up and down by more than `rel` of the level
and far beyond their noise, turn after turn.
"""

from __future__ import annotations

import math
from collections import deque

import numpy as np

from lossmon.diagnosis.alerts import Episode
from lossmon.diagnosis.blocks import BlockHistory
from lossmon.diagnosis.config import OscillationConfig
from lossmon.formatting import fmt_step, pct


class OscillationDetector:
    """The LR is too high: spikes close together, or block means swinging beyond their noise."""

    def __init__(self, cfg: OscillationConfig, sink, metric: str, blocks: BlockHistory | None) -> None:
        self.cfg = cfg
        self.metric = metric
        self.blocks = blocks
        self.episode = Episode(sink, "oscillation", metric)
        self.spikes: deque[tuple[int, int]] = deque()  # (step, point index) of spike episodes
        self.all_spikes: list[int] = []  # steps of every spike episode (for spikes_since)
        self.evidence = lambda step: ""  # other signals near a step (set by the engine)

    def spikes_since(self, step: int) -> int:
        """Spike episodes at or after `step` (among the last 64: enough to say "none" or "some")."""
        return sum(1 for s in self.all_spikes[-64:] if s >= step)

    def rebase(self) -> None:
        self.spikes.clear()

    def on_spike(self, step: int, position: int) -> None:
        """A spike episode began at `step`, the `position`-th train point (the blocks' clock)."""
        self.all_spikes.append(step)
        if len(self.all_spikes) > 256:
            del self.all_spikes[:128]
        cfg = self.cfg
        self.spikes.append((step, position))
        while self.spikes and position - self.spikes[0][1] > cfg.window:
            self.spikes.popleft()
        if cfg.enabled and len(self.spikes) >= cfg.spikes and not self.episode.open:
            first = self.spikes[0][0]
            self.episode.start(step, "warning", f"{self.metric} spiked {len(self.spikes)} times between steps"
                               f" {fmt_step(first)} and {fmt_step(step)}: the LR is probably too high{self.evidence(step)}",
                               "cut_lr", spikes=len(self.spikes))

    def evaluate(self) -> None:
        b, cfg = self.blocks, self.cfg
        if b is None or not cfg.enabled:
            return
        if self.episode.open:
            calm = not self.spikes or b.points - self.spikes[-1][1] > 2 * cfg.window
            if calm and self._swings() < cfg.min_swings // 2:
                self.episode.resolve(int(b.last[b.count - 1]), f"{self.metric} has calmed down")
            return
        if self._swings() >= cfg.min_swings:
            m = b.means()[-16:]
            amp = float(np.mean(np.abs(np.diff(m)))) / (abs(float(np.mean(m))) or 1.0)
            self.episode.start(int(b.last[b.count - 1]), "warning",
                               f"{self.metric} oscillates: its {b.size}-point means swing up and down by"
                               f" {pct(amp)} on average, well beyond their noise: the LR is probably too high"
                               f"{self.evidence(int(b.last[b.count - 1]))}",
                               "cut_lr", amplitude=amp)

    def _swings(self) -> int:
        b = self.blocks
        if b.size < 4 or b.count < 17:
            return 0
        m = b.means()[-16:]
        d = np.diff(m)
        se = b.within_noise() / math.sqrt(b.size)
        big = np.abs(d) > max(self.cfg.rel * abs(float(np.mean(m))), 3 * math.sqrt(2) * se)
        turn = np.sign(d[1:]) != np.sign(d[:-1])
        return int(np.sum(turn & big[1:] & big[:-1]))
