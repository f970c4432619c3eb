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
"""

from lossmon.diagnosis import DiagnosisConfig  # noqa: E402
from lossmon.session import run  # noqa: E402
from lossmon.training.run import Run  # noqa: E402
from lossmon.version import __version__  # noqa: E402

__all__ = ["DiagnosisConfig", "Run", "run", "__version__"]
