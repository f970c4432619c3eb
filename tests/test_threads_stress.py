"""The UI's side of the store read while the trainer logs at full speed through the real pump:
every read is consistent with the data (no torn point, no envelope outside its column, no length
going backwards, smoothing never ahead of its source), and at the end nothing is missing."""

from __future__ import annotations

import sys
import threading
import time

import numpy as np
import pytest

from lossmon.session import Session
from lossmon.recording.smoothing import Smoothed

SECONDS = 1.5


@pytest.mark.slow
def test_reading_while_the_trainer_writes_at_full_speed_never_sees_a_torn_state(tmp_path):
    session = Session("stress", tmp_path / "r", system=False)  # every series here has value == step
    run = session.run
    done = threading.Event()
    errors: list[str] = []
    reads = [0, 0]
    logged = {"loss": 0, "twice": 0, "val_loss": 0}

    def trainer():
        step = 0
        t_end = time.monotonic() + SECONDS
        while time.monotonic() < t_end:
            step += 1
            if step % 5000:
                run.log(loss=float(step), twice=2.0 * step)
            else:  # new series appear while the reader lists them
                run.log(loss=float(step), twice=2.0 * step, **{f"extra_{step // 5000}": float(step)})
            if step % 10 == 0:
                run.log(val_loss=float(step))
                logged["val_loss"] += 1
        logged["loss"] = logged["twice"] = step
        done.set()

    def point_reader():  # a tight loop over the cheap reads: the most chances to hit a torn moment
        seen_len: dict[str, int] = {}
        while not done.is_set():
            store = run.store
            for name in store.names():
                if name.startswith("extra_"):
                    continue
                s = store.series(name)
                steps, values = s.points()
                n = len(steps)
                if n < seen_len.get(name, 0):
                    errors.append(f"{name}: length went back from {seen_len[name]} to {n}")
                seen_len[name] = n
                want = 2.0 * steps if name == "twice" else steps.astype(np.float64)
                if not np.array_equal(values, want):
                    errors.append(f"{name}: a value does not match its step")
                if n > 1 and np.any(np.diff(steps) <= 0):
                    errors.append(f"{name}: steps not increasing")
                last = s.last()
                if last is not None and (last[0] < (steps[-1] if n else 0) or last[1] != (2.0 if name == "twice" else 1.0) * last[0]):
                    errors.append(f"{name}: last() torn or behind points()")
            reads[0] += 1

    def view_reader():  # what a frame does: envelopes, smoothing, events
        smooth = None
        while not done.is_set():
            store = run.store
            loss = store.series("loss")
            if loss is None:
                continue
            env = loss.envelope(97)
            has = env.count > 0
            if np.any(env.lo[has] < np.ceil(env.edges[:-1][has])) or np.any(env.hi[has] >= np.ceil(env.edges[1:][has])):
                errors.append("loss: envelope outside its column")
            if int(env.count.sum()) > len(loss):
                errors.append("loss: envelope counts more points than the series holds")
            if smooth is None:
                smooth = Smoothed(loss, 0.9)
            smooth.update(limit=50_000)
            if len(smooth.series) > len(loss):
                errors.append("smoothing ahead of its source")
            list(store.events)
            reads[1] += 1

    threads = [threading.Thread(target=f) for f in (trainer, point_reader, view_reader)]
    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)  # switch threads ~500x as often as usual: more interleavings to catch
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    finally:
        sys.setswitchinterval(interval)
    session.close("finished", 0)
    assert not errors, errors[:5]
    assert min(reads) > 20 and logged["loss"] > 10_000  # both sides really ran at speed
    for name, count in logged.items():
        s = run.store.series(name)
        assert len(s) == count, name  # nothing lost
