"""A small seeded budget of benchmarks/fuzz_readers.py (the issue's 10,000 files per format are run
there): every reader format through `lossmon check` and watch --plain's path, no traceback, no
internal error, no hang, no wrong exit code."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import fuzz_readers  # noqa: E402


def test_a_seeded_fuzz_budget_in_process(capsys):
    pytest.importorskip("tensorboard")
    assert fuzz_readers.main(["--files", "40", "--seed", "7", "--hang-s", "20"]) == 0, capsys.readouterr().out


@pytest.mark.slow
def test_a_few_fuzzed_files_through_the_real_cli(capsys):
    pytest.importorskip("tensorboard")
    assert fuzz_readers.main(["--files", "3", "--seed", "8", "--subprocess", "3"]) == 0, capsys.readouterr().out
