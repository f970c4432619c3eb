"""The system panel: GPU util and memory, CPU and RSS beside the loss (lossmon/system records them).

Two widgets, one shown at a time by the app's layout classes: `SystemPanel` in the side column (a
sparkline row per figure) and `SystemLine`, all of it on one line, for terminals under 110x32
(80x24 folds to it). Neither shows before the store holds a system series (`system=False`, or a
log from another tool: no panel)."""

from __future__ import annotations

from lossmon.recording.store import MetricStore
from lossmon.views import system as words
from lossmon.views.tui.widgets import TextLines


class SystemPanel(TextLines):
    def update_from(self, store: MetricStore, styled, palette: dict, start: float | None, end: float | None) -> None:
        width = max(20, self.size.width or 50)
        self.show(styled(words.panel_lines(store, width, start, end), palette))


class SystemLine(TextLines):
    def update_from(self, store: MetricStore, styled, palette: dict) -> None:
        self.show(styled(words.folded_line(store), palette, max(10, self.size.width or 80)))
