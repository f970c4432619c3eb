"""Demo 'overfit': a small noisy training set and a wide model: val loss turns up while train keeps falling.

    python demos/overfit.py          # same as: lossmon demo overfit

The training loop itself is in lossmon/demos.py; demos/quickstart.py shows the whole integration.
"""

import lossmon
from lossmon.demos import training_function

if __name__ == "__main__":
    lossmon.run(training_function("overfit"), name="overfit")
