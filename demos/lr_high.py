"""Demo 'lr-high': SGD with an LR 4x too high: the loss blows up in its first steps and stays erratic; cutting the LR 4x calms it.

    python demos/lr_high.py          # same as: lossmon demo lr-high

The training loop itself is in lossmon/demos.py; demos/quickstart.py shows the whole integration.
"""

import lossmon
from lossmon.demos import training_function

if __name__ == "__main__":
    lossmon.run(training_function("lr-high"), name="lr-high")
