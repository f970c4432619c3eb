"""Hostile and odd input (issue 18): what `lossmon check`, `watch --plain` and `ls` do with
files that are huge, special, corrupt or out of range -- one line and exit 2, never a traceback
or a hang."""

from __future__ import annotations

import pytest

from lossmon.cli import main as cli_main
from lossmon.sources import load


def test_a_tensorboard_record_larger_than_a_poll_does_not_hide_the_rest(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    w = tb.SummaryWriter(str(tmp_path))
    for i in range(100):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.add_text("notes", "x" * (5 << 20), 100)  # one 5 MB record: more than a poll reads
    for i in range(100, 1000):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.close()
    rec = load(tmp_path)
    assert len(rec.points["loss"][0]) == 1000
