"""The live view's colours: a style per key the plot, sparklines and text segments name
("train", "val", "lr_mark", "warning", ...), taken from the app's current theme so that themes,
16-colour terminals and NO_COLOR all apply."""

from __future__ import annotations

from rich.style import Style
from textual.color import Color, ColorParseError


def theme_styles(app) -> dict[str, Style]:
    """Style per plot/sparkline key, from the app's current theme (so themes, 16 colours and
    NO_COLOR all apply)."""
    v = app.get_css_variables()
    try:
        bg = Color.parse(v.get("background") or "black")
    except ColorParseError:
        bg = Color(0, 0, 0)

    def c(name: str, fallback: str) -> str:
        try:  # theme colours may carry alpha ("#E0E0E099"): flatten them over the background
            return (bg + Color.parse(v[name])).hex6
        except (KeyError, ColorParseError):
            return fallback

    fg = c("foreground", "white")
    try:
        primary = bg + Color.parse(v["primary"])
        faint = bg.blend(primary, 0.55).hex6  # raw points: the train colour, half-way to the background
        strong = primary.lighten(0.12).hex6
    except (KeyError, ColorParseError):
        faint, strong = "blue", "bright_blue"
    return {
        "legend": Style(color=c("foreground-muted", fg)),
        "label": Style(color=c("foreground-muted", fg)),
        "axis": Style(color=c("foreground-muted", fg)),
        "train_raw": Style(color=faint),
        "abandoned": Style(color=c("foreground-muted", fg), dim=True),  # what a rollback left behind
        "train": Style(color=strong, bold=True),
        "val": Style(color=c("accent", "yellow"), bold=True),
        "val_marker": Style(color=c("accent", "yellow"), bold=True),
        "train_forecast": Style(color=strong),
        "val_forecast": Style(color=c("accent", "yellow")),
        "forecast": Style(color=c("accent", "yellow")),
        "nonfinite": Style(color=c("error", "red"), bold=True),
        "lr_mark": Style(color=c("success", "green"), bold=True),
        "alert_info": Style(color=c("secondary", "cyan"), bold=True),
        "alert_warning": Style(color=c("warning", "yellow"), bold=True),
        "alert_critical": Style(color=c("error", "red"), bold=True),
        "muted": Style(color=c("text-muted", fg)),
        "metric": Style(color=c("success", "green"), bold=True),  # a picked metric (metricpick.py)
        "axis_right": Style(color=c("foreground-muted", fg)),
        "error": Style(color=c("error", "red"), bold=True),
        "warning": Style(color=c("warning", "yellow"), bold=True),
        "ok": Style(color=c("success", "green"), bold=True),
    }


RUN_COLOURS = (("primary", "blue"), ("accent", "yellow"), ("success", "green"), ("error", "red"),
               ("secondary", "cyan"), ("warning", "magenta"))


def run_styles(app, n: int) -> dict[str, Style]:
    """`run<i>` (val, bold) and `run<i>_train` (train: faint, half-way to the background) per run of
    a comparison, from the theme's colours; past six runs the colours repeat."""
    v = app.get_css_variables()
    try:
        bg = Color.parse(v.get("background") or "black")
    except ColorParseError:
        bg = Color(0, 0, 0)
    out: dict[str, Style] = {}
    for i in range(n):
        name, fallback = RUN_COLOURS[i % len(RUN_COLOURS)]
        try:
            colour = bg + Color.parse(v[name])
            strong, faint = colour.lighten(0.08).hex6, bg.blend(colour, 0.6).hex6
        except (KeyError, ColorParseError):
            strong = faint = fallback
        out[f"run{i}"] = Style(color=strong, bold=True)
        out[f"run{i}_train"] = Style(color=faint)
    return out
