"""Numbers, steps and durations as people read them: one spelling for the detectors' messages, the
status lines and every view (no UI library here: the detectors use it too)."""

from __future__ import annotations

from typing import Any


def fmt_value(x: float | None) -> str:
    """A metric value: 4 significant digits, non-finite spelled out, '-' for none."""
    if x is None:
        return "-"
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "+inf" if x > 0 else "-inf"
    return f"{x:.4g}"


def fmt_ratio(x: float | None) -> str:
    """An update-to-weight ratio, logged as its log10: '10^-3.1' ('10^-inf': the step changed nothing)."""
    if x is None:
        return "-"
    if x != x:
        return "NaN"
    if x in (float("inf"), float("-inf")):
        return "10^+inf" if x > 0 else "10^-inf"
    return f"10^{x:.1f}"


def fmt_lr(x: Any) -> str:
    """A learning rate: 3 significant digits (anything else as it prints)."""
    try:
        return f"{float(x):.3g}"
    except (TypeError, ValueError):
        return str(x)


def fmt_step(step: int) -> str:
    """A step number in full, thousands set apart by a space: '12 800'."""
    return f"{step:,}".replace(",", " ")


def step_label(v: float) -> str:
    """A step in at most 4 characters or so, for axes and narrow columns: 950, 2.5k, 12k, 1.2M."""
    a = abs(v)
    for div, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if a >= div:
            text = f"{v / div:.3g}"
            return text + suffix
    return f"{v:.0f}"


def fmt_duration(seconds: float) -> str:
    """12s, 4m05s, 2h03m: short enough for a status line."""
    s = int(round(seconds))
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def pct(x: float) -> str:
    """A fraction as a percentage: '12 %', '0.5 %'."""
    return f"{x * 100:.0f} %" if abs(x) >= 0.095 else f"{x * 100:.2g} %"


def printable(text: str) -> str:
    """`text` with lone surrogates (JSON's "\\ud800", a non-UTF-8 file name) as \\udXXX escapes: they
    cannot be encoded for a terminal or a pipe."""
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
