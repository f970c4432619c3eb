"""The app's widgets. Each is redrawn by the app's timers from the store, never per training step,
and only when what it shows has changed (every repaint costs bytes over SSH)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.geometry import Size
from textual.widget import Widget
from textual.widgets import RichLog, Static

from lossmon.views.tui.plotimage import PlotImage


class LossPlot(Widget):
    """Draws a PlotImage with the line API: strips are built once per frame and only handed out
    by render_line, so a repaint of an unchanged frame costs nothing."""

    DEFAULT_CSS = "LossPlot { height: 1fr; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._strips: list[Strip] = []
        self.image: PlotImage | None = None
        self.on_new_size = None  # the app's redraw, called once the layout has given a new size

    def on_resize(self, event) -> None:
        if self.on_new_size is not None:
            self.on_new_size()

    def show(self, image: PlotImage, styles: dict[str, Style]) -> None:
        width = self.size.width
        strips = []
        for row in image.rows:
            segs = [Segment(text, styles.get(key) or Style.null()) for text, key in row if text]
            strips.append(Strip(segs).adjust_cell_length(width, self.rich_style))
        self.image = image
        self._strips = strips
        self.refresh()

    def render_line(self, y: int) -> Strip:
        if y < len(self._strips):
            return self._strips[y]
        return Strip.blank(self.size.width, self.rich_style)


class TextLines(Widget):
    """Lines of styled text drawn with the line API: no wrapping or markup pass on each update
    (the status line changes ten times a second). Its height follows its number of lines."""

    DEFAULT_CSS = "TextLines { height: auto; }"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._key: tuple | None = None
        self._strips: list[Strip] = []

    def show(self, text: Text) -> bool:
        key = (text.plain, tuple((s.start, s.end, str(s.style)) for s in text.spans))
        if key == self._key:
            return False
        self._key = key
        console = self.app.console
        lines = text.split("\n", allow_blank=True)
        null = Style.null()  # Textual's filters (NO_COLOR's monochrome) need a style on every segment
        strips = [Strip([seg if seg.style is not None else Segment(seg.text, null)
                         for seg in line.render(console, end="")]) for line in lines]
        relayout = len(strips) != len(self._strips)
        self._strips = strips
        if relayout:
            self.styles.height = len(strips) + self.styles.gutter.height
        self.refresh(layout=relayout)
        return True

    def render_line(self, y: int) -> Strip:
        width = self.size.width
        if y < len(self._strips):
            return self._strips[y].crop_extend(0, width, self.rich_style)
        return Strip.blank(width, self.rich_style)


class TextPanel(Static):
    """A Static of fixed size (its CSS sets it) that wraps its text and repaints only when the
    text really changed, never asking for a new layout (a whole-screen recomposition)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._shown: str | None = None

    def show(self, text: Text) -> bool:
        key = text.markup if text.spans else text.plain
        if key == self._shown:
            return False
        self._shown = key
        self.update(text, layout=False)
        return True


class OutputLog(RichLog):
    """The training output: finished lines scroll up as in a RichLog, and under them the live
    rows (a progress bar's current state, a line not ended yet) are replaced in place each time
    they change, never added again."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self._tail: list[str] = []  # the live rows now shown under the finished lines
        self._tail_shown = 0  # how many of self.lines they are (one each: no wrapping)
        self._sized = False  # before its first size a RichLog defers writes: no live rows until then

    def on_resize(self, event) -> None:  # RichLog's own on_resize runs after this one (MRO dispatch)
        if event.size.width:
            self._sized = True

    def show(self, lines: list[str], live: list[str] | None) -> None:
        """Add finished lines above the live rows; `live` replaces them (None: they stay)."""
        shown = self._tail_shown == (len(self._tail) if self._sized else 0)
        if not lines and (live is None or live == self._tail) and shown:
            return
        tail = self._drop_tail()
        for line in lines:
            super().write(line)
        self._add_tail(tail if live is None else live)

    def write(self, content, *args, **kwargs):
        """Anything else written (a traceback) goes above the live rows too."""
        tail = self._drop_tail()
        super().write(content, *args, **kwargs)
        self._add_tail(tail)
        return self

    def _drop_tail(self) -> list[str]:
        tail, n = self._tail, self._tail_shown
        self._tail, self._tail_shown = [], 0
        if n and n <= len(self.lines):
            del self.lines[len(self.lines) - n:]
            self._line_cache.clear()  # its keys are line numbers: the new rows reuse them
            self.virtual_size = Size(self.virtual_size.width, len(self.lines))
            self.refresh()
        return tail

    def _add_tail(self, rows: list[str]) -> None:
        self._tail = list(rows)
        if not self._sized:  # written now, they would be deferred and stay forever
            return
        for row in rows:
            super().write(row)
        self._tail_shown = len(rows)
