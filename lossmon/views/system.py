"""The system panel's words (no UI library here): per GPU its util and memory as sparklines with
their last values, then the process's CPU and RSS, the step time and the data-wait share; or all
of it folded into one line for a small terminal. Lines are views/text.py segments."""

from __future__ import annotations

import re

from lossmon import names
from lossmon.recording.store import MetricStore, Series
from lossmon.views.sparkline import spark_text

_GPU = re.compile(r"^gpu(\d+)/")
LABEL_W = 10


def has_system(store: MetricStore) -> bool:
    """Whether the store holds any system series (the panel shows only then)."""
    return any(names.role(n) == names.SYSTEM for n in store.names())


def gpus(store: MetricStore) -> list[int]:
    found = set()
    for n in store.names():
        m = _GPU.match(n)
        if m is not None:
            found.add(int(m.group(1)))
    return sorted(found)


def _last(store: MetricStore, name: str) -> float | None:
    s = store.series(name)
    last = s.last() if s is not None else None
    return None if last is None or last[1] != last[1] else float(last[1])


def _gib(mb: float | None) -> str:
    return "-" if mb is None else f"{mb / 1024:.1f}"


def _mem(used: float | None, total: float | None) -> str:
    if used is None:
        return "-"
    return f"{_gib(used)}/{_gib(total)}G" if total else f"{_gib(used)}G"


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{x:.0f}%"


def _rss(mb: float | None) -> str:
    if mb is None:
        return "-"
    return f"{mb / 1024:.1f}G" if mb >= 1024 else f"{mb:.0f}M"


def _mem_style(used: float | None, total: float | None) -> str | None:
    if used is None or not total:
        return None
    return "alert_warning" if used >= 0.97 * total else None


def panel_lines(store: MetricStore, width: int, start: float | None = None, end: float | None = None) -> list:
    """One row per figure: label, sparkline, last value (the values' column as wide as the widest)."""
    rows: list[tuple[str, Series, str, str, str | None]] = []
    for i in gpus(store):
        p = f"gpu{i}/"
        util = store.series(p + "util_percent")
        if util is not None:
            temp, power = _last(store, p + "temp_c"), _last(store, p + "power_w")
            extra = (f" {temp:.0f}C" if temp is not None else "") + (f" {power:.0f}W" if power is not None else "")
            rows.append((f"gpu{i} util", util, _pct(_last(store, p + "util_percent")) + extra, "train", None))
        mem = store.series(p + "mem_used_mb")
        if mem is not None:
            used, total = _last(store, p + "mem_used_mb"), _last(store, p + "mem_total_mb")
            rows.append((f"gpu{i} mem", mem, _mem(used, total), "val", _mem_style(used, total)))
    cpu = store.series("sys/cpu_percent")
    if cpu is not None:
        rows.append(("cpu", cpu, _pct(_last(store, "sys/cpu_percent")), "lr_mark", None))
    rss = store.series("sys/rss_mb")
    if rss is not None:
        ram = _last(store, "sys/ram_used_percent")
        rows.append(("rss", rss, _rss(_last(store, "sys/rss_mb")) + (f" ram {ram:.0f}%" if ram is not None else ""),
                     "label", None))
    step = store.series("sys/step_time_ms")
    if step is not None:
        wait, ms = _last(store, "sys/data_wait_percent"), _last(store, "sys/step_time_ms")
        rows.append(("step", step, _ms(ms) + (f" data {wait:.0f}%" if wait is not None else ""), "muted", None))
    value_w = max((len(r[2]) for r in rows), default=0)
    spark_w = max(1, width - LABEL_W - value_w - 1)
    return [[(label[:LABEL_W - 1].ljust(LABEL_W), "label", 0),
             (spark_text(series, spark_w, start, end, log=False), style, 0),
             (" " + value.rjust(value_w), value_style, 0)]
            for label, series, value, style, value_style in rows]


def _ms(ms: float | None) -> str:
    if ms is None:
        return "-"
    return f"{ms / 1000:.3g}s" if ms >= 1000 else f"{ms:.3g}ms"


def folded_line(store: MetricStore) -> list:
    """Everything on one line: `gpu0 87% 31.2/80.0G · cpu 120% · rss 2.1G · 12ms/step data 4%`."""
    parts: list[tuple[str, str | None, int]] = []  # (words, style, priority: text.fit leaves out the highest first)
    for i in gpus(store):
        p = f"gpu{i}/"
        util = _last(store, p + "util_percent")
        used, total = _last(store, p + "mem_used_mb"), _last(store, p + "mem_total_mb")
        words = f"gpu{i} " + (f"{_pct(util)} " if util is not None else "") + _mem(used, total)
        parts.append((words, _mem_style(used, total) or "train", 0))
    cpu = _last(store, "sys/cpu_percent")
    if cpu is not None:
        parts.append((f"cpu {_pct(cpu)}", None, 1))
    rss = _last(store, "sys/rss_mb")
    if rss is not None:
        parts.append((f"rss {_rss(rss)}", None, 2))
    ms = _last(store, "sys/step_time_ms")
    if ms is not None:
        wait = _last(store, "sys/data_wait_percent")
        parts.append((f"{_ms(ms)}/step" + (f" data {wait:.0f}%" if wait is not None else ""), None, 3))
    line = [("system ", "label", 0)]
    for k, (words, style, prio) in enumerate(parts):
        if k:
            line.append((" · ", "muted", prio))
        line.append((words, style, prio))
    return [line]
