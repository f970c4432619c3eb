"""The app's widgets. Each is redrawn by the app's timers from the store, never per training step,
and only when what it shows has changed (every repaint costs bytes over SSH)."""

from __future__ import annotations

from rich.segment import Segment
from rich.style import Style
from rich.text import Text
from textual.strip import Strip
from textual.widget import Widget
from textual.widgets import Static

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
