"""Demo 'healthy': plenty of data and a sensible LR: both curves fall together.

    python demos/healthy.py          # same as: lossmon demo healthy

The training loop itself is in lossmon/demos.py; demos/quickstart.py shows the whole integration.
"""

import lossmon
from lossmon.demos import training_function

if __name__ == "__main__":
    lossmon.run(training_function("healthy"), name="healthy")
