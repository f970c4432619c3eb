"""The live terminal UI (Textual). The only lossmon package that imports Textual or Rich."""

from lossmon.views.tui.runner import run_tui

__all__ = ["run_tui"]
