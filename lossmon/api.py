"""The module-level API: `lossmon.log(...)` and friends, for code that keeps its loop where it is.

They talk to the current run: the one `lossmon run script.py` or `lossmon.run(train)` started. In
a plain `python train.py` the first call starts one (session/implicit.py): a run directory, the
control socket, the detectors and status lines on stderr, so `lossmon watch` from another terminal
shows it live and steers it; it ends at interpreter exit.
"""

from __future__ import annotations

import threading
from typing import Any, Callable

from lossmon.training.active import active, set_active
from lossmon.training.run import Run

_lock = threading.Lock()


def current() -> Run:
    """The current `Run` (started on first use outside `lossmon run` / `lossmon.run`)."""
    run = active()
    if run is not None:
        return run
    with _lock:
        if active() is None:
            from lossmon.session.implicit import start_implicit

            set_active(start_implicit())
        return active()


def log(step: int | None = None, **metrics: Any) -> None:
    """`Run.log` on the current run: record named scalars (floats, ints, 0-d tensors)."""
    run = active() or current()
    if run.capture is not None:
        run.capture.saw(metrics)
    run.log(step, **metrics)


def config(values: Any) -> dict:
    """`Run.set_config` on the current run: record its hyperparameters (a dict or an argparse
    Namespace) in meta.json, for `lossmon compare` and the config key of the live view."""
    return current().set_config(values)


def watch(optimizer: Any, scheduler: Any = None) -> None:
    """`Run.watch`: log this optimizer's effective LR and let the LR keys act on it."""
    current().watch(optimizer, scheduler)


def should_stop() -> bool:
    """True once a stop was asked for (a key, `lossmon ctl stop`, SIGTERM): finish and return.
    A script that asks this is trusted to stop itself (no KeyboardInterrupt raised in it)."""
    run = active() or current()
    run.stop_polled = True
    return run.should_stop


def on_checkpoint(fn: Callable[[], Any]) -> Callable[[], Any]:
    """`Run.on_checkpoint` (usable as a decorator): the function the checkpoint key calls."""
    return current().on_checkpoint(fn)


def snapshot_every(n_steps: int, keep: int = 3, modules: Any = None, on_disk: bool = False,
                   scaler: Any = None) -> None:
    """`Run.snapshot_every`: keep the last `keep` snapshots, one every `n_steps` optimizer steps,
    so `rollback()` (or the view's key) can go back to one. Call it after `watch()`."""
    current().snapshot_every(n_steps, keep=keep, modules=modules, on_disk=on_disk, scaler=scaler)


def batches(iterable: Any) -> Any:
    """`Run.batches`: `for batch in lossmon.batches(loader)` counts the batches (across epochs: call
    it each epoch) so a rollback can skip the ones that followed its snapshot."""
    return current().batches(iterable)


def rollback(to_step: int | None = None, skip_batches: int = 200, lr_scale: float | None = None,
             *, source: str = "api") -> None:
    """`Run.rollback`: back to the newest snapshot at or before `to_step` at the next step boundary,
    skipping `skip_batches` from its data position, the LR optionally times `lr_scale`."""
    current().rollback(to_step, skip_batches, lr_scale, source=source)


def snapshots() -> list[dict]:
    """`Run.snapshots`: the snapshots kept, oldest first ({"step", "batch", "time", "where"})."""
    return current().snapshots()


def lr(base_lr: float) -> float:
    """The LR to use now for updates written by hand: `base_lr` times lossmon's multiplier.

        for p in model.parameters():
            p.data.add_(p.grad, alpha=-lossmon.lr(lr))

    Call it every step; the LR keys act from the next call, and `lr` is logged with the next step.
    (With a torch optimizer, `watch()` does this for you.)"""
    return current().manual_lr(base_lr)


def lr_find(train_step: Callable[[], Any], optimizer: Any, **options: Any) -> Any:
    """The LR range test (fastai's `lr_find`, Lightning's Tuner): `train_step()` does one step and
    returns its loss; the LR of `optimizer` ramps from start_lr=1e-7 to end_lr=10 over num_steps=100
    steps, stopping once the smoothed loss passes stop_factor=4 x its best; then the model, the
    optimizer, the schedulers and the RNGs are put back as they were. Returns an LRFindResult:
    `.suggested_lr`, `.suggestions`, `.plot()`, `.summary()`. In a run (`lossmon run`, `lossmon.run`)
    it is `Run.lr_find`: the test's steps are not logged as the run's. Options:
    lossmon.training.lr_find.lr_find."""
    run = active()
    if run is not None:
        return run.lr_find(train_step, optimizer, **options)
    from lossmon.training.lr_find import lr_find as find

    return find(train_step, optimizer, **options)
