"""Key figures a benchmark script hands to the suite (benchmarks/run_all.py).

Each script prints its own full report; with `--json PATH` it also writes the figures that go in
the summary table, each with its unit, its budget (DESIGN.md §7) where one applies, and whether
the figure met it. Kept as plain JSON so a section can run in its own process.
"""

from __future__ import annotations

import json
from pathlib import Path


class Figures:
    """An ordered list of figures for one benchmark section."""

    def __init__(self) -> None:
        self.rows: list[dict] = []
        self.notes: list[str] = []

    def add(self, name: str, value: float, unit: str, budget: str = "", ok: bool | None = None,
            fmt: str = "{:.3g}") -> None:
        """`ok` is None where there is no budget, else whether `value` met `budget`."""
        self.rows.append({"name": name, "value": float(value), "unit": unit, "shown": fmt.format(value),
                          "budget": budget, "ok": ok})

    def note(self, text: str) -> None:
        """A line for the summary that is not a number (a skipped part, a caveat)."""
        self.notes.append(text)

    def write(self, path: str | None) -> None:
        if path:
            Path(path).write_text(json.dumps({"figures": self.rows, "notes": self.notes}))
