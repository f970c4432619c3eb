"""Under `lossmon run`: the script's argparse Namespace as the run's config (meta.json), with no
line of the script changed.

`ArgumentParser.parse_known_args` (which `parse_args` calls) is wrapped while the script runs;
the namespace an outermost call returns on the script's thread is recorded (Run.set_config).
A subparser's own call (argparse recurses) and other threads' parsers are left alone, and the
original method is put back when the script ends.
"""

from __future__ import annotations

import argparse
import threading
from typing import Any


class ArgsCapture:
    def __init__(self, run: Any) -> None:
        self.run = run
        self.thread = threading.current_thread()
        self._original = None
        self.depth = 0  # parse_known_args calls under way on the script's thread (argparse recurses)

    def install(self) -> "ArgsCapture":
        original = self._original = argparse.ArgumentParser.parse_known_args
        me = self

        def parse_known_args(parser, args=None, namespace=None):
            mine = threading.current_thread() is me.thread
            if mine:
                me.depth += 1
            try:
                result = original(parser, args, namespace)
            finally:
                if mine:
                    me.depth -= 1
            if mine and me.depth == 0:
                me.record(result)
            return result

        parse_known_args.__wrapped__ = original
        argparse.ArgumentParser.parse_known_args = parse_known_args
        return self

    def record(self, result: Any) -> None:
        try:
            ns = result[0]
            self.run.set_config(vars(ns))
        except Exception:  # noqa: BLE001 - the script's own parsing is what matters
            pass

    def uninstall(self) -> None:
        if self._original is not None:
            argparse.ArgumentParser.parse_known_args = self._original
            self._original = None
