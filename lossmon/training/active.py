"""The run this process is training now: the one the module-level calls (`lossmon.log`, ...) talk
to. Whoever starts a run sets it (the session; a follower rank) and clears it when the run ends."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # pragma: no cover
    from lossmon.training.run import Run

_active: "Run | None" = None


def active() -> "Run | None":
    return _active


def set_active(run: "Run") -> None:
    global _active
    _active = run


def clear_active(run: "Run") -> None:
    global _active
    if _active is run:
        _active = None
