"""`json.loads` for text from outside (files, sockets): anything that is not one JSON value raises
ValueError, as the readers expect.

The standard parser raises RecursionError, not ValueError, on arrays or objects nested a few
thousand deep; this is the one place that knows, so every reader counts such a line as malformed.
"""

from __future__ import annotations

import json
from typing import Any


def loads(text: str | bytes) -> Any:
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
