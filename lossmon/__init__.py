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

__version__ = "0.1.0"

from .diagnosis import DiagnosisConfig  # noqa: E402
from .run_api import Run  # noqa: E402
from .session import run  # noqa: E402

__all__ = ["DiagnosisConfig", "Run", "run", "__version__"]
