"""Demo 'lr-low': an LR 1000x too small: a slow stall; raising it helps.

    python demos/lr_low.py          # same as: lossmon demo lr-low

The training loop itself is in lossmon/demos.py; demos/quickstart.py shows the whole integration.
"""

import lossmon
from lossmon.demos import training_function

if __name__ == "__main__":
    lossmon.run(training_function("lr-low"), name="lr-low")
