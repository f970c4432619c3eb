"""Diagnosis: streaming detectors that say in plain words when a run overfits, when the LR is too
high (spikes, divergence, NaN, oscillation) or too low (stall), and when it has simply converged.

Core code: numpy only, no UI imports. Each detector's module says what it looks for and why;
config.py holds every threshold, with its default.
"""

from lossmon.diagnosis.config import ConfigError, DiagnosisConfig, load_config
from lossmon.diagnosis.engine import Diagnoser

__all__ = ["ConfigError", "DiagnosisConfig", "Diagnoser", "load_config"]
