"""Demo 'nan': the LR grows every step until the loss overflows to inf and NaN.

    python demos/nan.py          # same as: lossmon demo nan

The training loop itself is in lossmon/demos.py; demos/quickstart.py shows the whole integration.
"""

import lossmon
from lossmon.demos import training_function

if __name__ == "__main__":
    lossmon.run(training_function("nan"), name="nan")
