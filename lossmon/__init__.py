"""lossmon: a live training monitor for PyTorch in the terminal.

    import lossmon

    def train(run: lossmon.Run):
        ...
        run.watch(optimizer)
        for x, y in loader:
            ...
            run.log(loss=loss)
            if run.should_stop:
                return

    lossmon.run(train, name="mlp")

or, with the loop left where it is: `lossmon.log(loss=loss)` (a plain `python train.py` then
records a run that `lossmon watch` shows live), or no change at all: `lossmon run train.py`.
"""

from lossmon.api import (  # noqa: E402
    batches, config, current, log, lr, lr_find, on_checkpoint, rollback, should_stop, snapshot_every, snapshots,
    watch)
from lossmon.diagnosis import DiagnosisConfig  # noqa: E402
from lossmon.session import run  # noqa: E402
from lossmon.training.run import Run  # noqa: E402
from lossmon.version import __version__  # noqa: E402

__all__ = ["DiagnosisConfig", "Run", "batches", "config", "current", "log", "lr", "lr_find", "on_checkpoint",
           "rollback", "run", "should_stop", "snapshot_every", "snapshots", "watch", "__version__"]
