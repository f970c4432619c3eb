"""The run's life, start -> train -> conclude, for every view; the only code besides the CLI that
imports the views.

launch.py     lossmon.run(): check the arguments, pick the view, open the session
session.py    Session: the run directory with its Run, run log writer, pump, detectors and socket
lifecycle.py  start the training thread, follow it under plain output or the TUI, conclude
watching.py   lossmon watch: a job started elsewhere under the plain printer or the TUI
"""

from lossmon.session.launch import UI_MODES, choose_ui, has_terminal, run
from lossmon.session.session import Session

__all__ = ["Session", "UI_MODES", "choose_ui", "has_terminal", "run"]
