"""Deterministic trainers and preloaded runs for the TUI tests and snapshots."""

from __future__ import annotations

import asyncio
import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np

from lossmon.session.lifecycle import LocalJob
from lossmon.training.run import Run


@dataclass
class TrainerLog:
    """What the fake trainer saw, written only by the training thread."""

    deltas: list = field(default_factory=list)  # parameter change per step = the LR SGD really used
    checkpoint_threads: list = field(default_factory=list)
    steps: int = 0
    release: threading.Event = field(default_factory=threading.Event)  # frees a stuck trainer


def local(run: Run, train) -> tuple[Run, LocalJob]:
    """A run and the job that trains it in this process, as the session hands them to the app."""
    return run, LocalJob(run, train)


def fake_trainer(steps: int = 1_000_000, delay: float = 0.002, raise_at: int | None = None,
                 values: dict | None = None, stuck: bool = False, prints: bool = False):
    """A one-parameter SGD model with grad 1, so each step moves the parameter by exactly the LR
    the optimizer used. `values` maps a step to extra metrics to log there (NaN/inf tests)."""
    log = TrainerLog()

    def train(run: Run) -> None:
        import torch

        p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
        opt = torch.optim.SGD([p], lr=0.1)
        run.watch(opt)

        @run.on_checkpoint
        def save() -> str:
            log.checkpoint_threads.append(threading.current_thread().name)
            return "ckpt-ok"

        for i in range(1, steps + 1):
            before = float(p.item())
            p.grad = torch.ones(1, dtype=torch.float64)
            opt.step()
            log.deltas.append(before - float(p.item()))
            metrics = {"loss": 1.0 / math.sqrt(i)}
            if values and i in values:
                metrics.update(values[i])
            run.log(**metrics)
            if i % 50 == 0:
                run.log(val_loss=1.2 / math.sqrt(i))
                if prints:
                    print(f"print at step {i}")
            log.steps = i
            if raise_at is not None and i == raise_at:
                raise RuntimeError(f"boom at step {i}")
            if run.should_stop:
                if not stuck:
                    return
                log.release.wait(30)
                return
            time.sleep(delay)

    return train, log


def preloaded_run(n: int = 5000, seed: int = 0, with_events: bool = True) -> Run:
    """A finished-looking run: noisy power-law train loss, val loss that turns up, an LR change
    (the update ratio, measured every 10 steps, follows it), a NaN and two alerts -- everything the screen can show, fixed by the seed."""
    run = Run("preloaded")
    rng = np.random.default_rng(seed)
    st = np.arange(1, n + 1)
    train = 2.0 * st ** -0.3 * np.exp(rng.normal(0, 0.15, n))
    train[n // 3] = 30.0  # one spike
    train[2 * n // 3] = np.nan
    vs = st[99::100]
    val = 2.0 * vs ** -0.3 + 0.3 * (vs / n) ** 2
    lr = np.where(st < n // 2, 3e-4, 1.5e-4)
    run.store.append_points({"loss": (st.tolist(), train.tolist()), "val_loss": (vs.tolist(), val.tolist()),
                             "lr": (st.tolist(), lr.tolist()),
                             "grad_norm": (st.tolist(), (1.0 + 0.1 * np.sin(st / 50.0)).tolist()),
                             "update_ratio": (st[::10].tolist(), (np.log10(lr[::10]) - 0.5 - 0.3 * st[::10] / n).tolist())})
    run.total_steps = n
    if with_events:
        run.store.append_events([
            {"event": "lr_change", "step": n // 2, "source": "key", "request": "x0.5", "applied": True,
             "old": [3e-4], "new": [1.5e-4], "scale": 0.5},
            {"event": "alert", "step": n // 3, "kind": "spike", "severity": "warning", "action": "lr_half",
             "message": "loss 30 is 14x its recent mean 2.1"},
            {"event": "alert", "step": 2 * n // 3, "kind": "nonfinite", "severity": "critical", "action": "pause",
             "message": "train loss is NaN"},
        ])
    return run


async def until(pilot, predicate, timeout: float = 10.0, what: str = "") -> None:
    """Let the app run until predicate() holds; fail at the deadline (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout}s: {what() if callable(what) else what or predicate}")
        await pilot.pause(0.02)
    await asyncio.sleep(0)


class TickCounter:
    """Counts the app's numbers ticks: the timer that polls the trainer, takes new events and
    decides to exit. A test that checks that something does NOT happen waits for a few more ticks
    (the app had its chances to act) instead of sleeping for a while."""

    def __init__(self, app) -> None:
        self.n = 0
        real = app.tick

        def tick() -> None:
            real()
            self.n += 1

        app.tick = tick  # the heartbeat and on_mount look the method up on the instance


async def ticks(pilot, counter: TickCounter, n: int = 3, timeout: float = 10.0) -> None:
    """Let the app tick `n` more times."""
    target = counter.n + n
    await until(pilot, lambda: counter.n >= target, timeout, what=f"{n} more app ticks (at {counter.n}/{target})")


class ScriptedProcess:
    """The process figures of a system sample, fixed for snapshots (the real ones vary)."""

    def __init__(self) -> None:
        self.k = 0

    def sample(self) -> dict:
        self.k += 1
        return {"sys/cpu_percent": 95.0 + 10 * math.sin(self.k / 4), "sys/rss_mb": 2100.0 + 3 * self.k,
                "sys/ram_used_percent": 41.0}


def system_run(gpus: int = 2, samples: int = 100, seed: int = 0) -> Run:
    """preloaded_run() with a sample a second of a scripted machine: gpu0 busy, gpu1 idling with
    its memory nearly full (the panel's warning colour), through the real sampler and a fake NVML."""
    from lossmon.system.fake_nvml import FakeGpu, FakeNVML
    from lossmon.system.sampler import SystemSampler

    run = preloaded_run(seed=seed)
    boards = [FakeGpu(util=lambda k: 80 + 15 * math.sin(k / 5), used_mb=lambda k: 30000 + 300 * k, total_mb=81920,
                      temp=66.0, power_w=310.0),
              FakeGpu(util=lambda k: 20 + 8 * math.sin(k / 3), used_mb=79800.0, total_mb=81920, temp=48.0, power_w=None)]
    clock = [0.0]
    sampler = SystemSampler(run, nvml=FakeNVML(boards[:gpus]), clock=lambda: clock[0])
    sampler.open()
    sampler._sources[0] = ScriptedProcess()
    sampler._ref = (0.0, 0)
    n = run.total_steps
    for k in range(1, samples + 1):
        clock[0] = float(k)
        run.load_state_dict({"step": n * k // samples})
        run.data_wait.add(0.08)
        sampler.sample_once()
    points: dict = {}
    for row in run.drain():
        for name, v in row.items():
            if name != "step":
                points.setdefault(name, ([], []))
                points[name][0].append(row["step"])
                points[name][1].append(v)
    run.store.append_points(points)
    return run
