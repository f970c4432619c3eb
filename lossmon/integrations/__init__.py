"""Callbacks that give Lightning and Hugging Face Trainer users the whole of lossmon.

Each module imports its framework, so `import lossmon` never does; install the extra
(`pip install 'lossmon[lightning]'` or `'lossmon[transformers]'`) for the one you use.
"""

from typing import Any


class StepLoss:
    """The losses of one optimizer step's batches (several with gradient accumulation), summed as
    device tensors -- no host sync -- and logged as their mean at the step boundary."""

    def __init__(self) -> None:
        self._sum: Any = None
        self._count = 0

    def add(self, loss: Any) -> None:
        self._sum = loss if self._sum is None else self._sum + loss
        self._count += 1

    def log(self, run: Any, step: int) -> None:
        """Log the mean at `step`; with nothing to log, still serve pause and checkpoint there."""
        if self._sum is None:
            run.step_boundary()
            return
        run.log(step=step, loss=self._sum / self._count)
        self._sum, self._count = None, 0
