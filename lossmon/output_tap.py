"""A tap on the training code's printed output, for readers that learn from it (lossmon run's
capture reads the "val loss" a script prints). The streams that carry that output -- the live UI's
capture, plain mode's tracked streams -- publish every write here; with no reader it costs a list
check. Readers are called on the writing thread and must be quick and never raise."""

from __future__ import annotations

from typing import Callable

_readers: list[Callable[[str], None]] = []


def subscribe(reader: Callable[[str], None]) -> None:
    _readers.append(reader)


def unsubscribe(reader: Callable[[str], None]) -> None:
    try:
        _readers.remove(reader)
    except ValueError:
        pass


def publish(text: str) -> None:
    for reader in _readers:
        try:
            reader(text)
        except Exception:  # noqa: BLE001 - a reader must never break the script's print()
            pass
