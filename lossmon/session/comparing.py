"""`lossmon compare A B` / `lossmon watch A B` in a terminal: the runs' poll threads, under the
comparison view, until the user quits; quitting never touches a job."""

from __future__ import annotations

from typing import Any


def compare_tui(runs: list[Any], *, fps: float = 10.0, plot_hz: float = 4.0) -> int:
    from lossmon.views.tui.compare import CompareApp  # textual loads only when the live UI is used

    app = CompareApp(runs, plot_hz=plot_hz, handle_signals=True)
    for w in runs:
        w.start()
    try:
        app.run()
    finally:
        for w in runs:
            w.close()
    return 128 + app.signum if app.signum else (app.return_code or 0)
