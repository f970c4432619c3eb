"""Zero-code capture for `lossmon run script.py` (capture.py says what is taken, and how)."""

from lossmon.capture.capture import Capture

__all__ = ["Capture"]
