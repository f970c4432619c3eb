"""Plain mode: lossmon's lines start on a fresh line when a progress bar's line is open."""

from __future__ import annotations

import io
import os
import sys
import time

import pytest

from lossmon.session.streams import CLEAR_LINE, PlainStreams

tqdm = pytest.importorskip("tqdm").tqdm


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_a_status_line_after_an_open_bar_starts_on_its_own_line(monkeypatch):
    both = io.StringIO()  # stdout and stderr to one place, as `2>&1` or a terminal
    monkeypatch.setattr(sys, "stdout", both)
    monkeypatch.setattr(sys, "stderr", both)
    with PlainStreams() as streams:
        status = streams.status_stream()
        sys.stderr.write("\r 50%|#####     | 5/10")
        print("[run] step 5 | loss 0.5", file=status, flush=True)
        sys.stderr.write("\r 60%|######    | 6/10\n")
        print("[run] step 6 | loss 0.4", file=status, flush=True)  # the bar's line had ended: no break
        print("a print", end="")
        print("lossmon: done", file=status, flush=True)
    assert sys.stdout is both and sys.stderr is both
    assert both.getvalue() == ("\r 50%|#####     | 5/10\n[run] step 5 | loss 0.5\n"
                               "\r 60%|######    | 6/10\n[run] step 6 | loss 0.4\n"
                               "a print\nlossmon: done\n")


def test_on_a_terminal_the_bar_line_is_cleared_and_a_print_is_ended(monkeypatch):
    tty = FakeTTY()
    monkeypatch.setattr(sys, "stdout", tty)
    monkeypatch.setattr(sys, "stderr", tty)
    with PlainStreams() as streams:
        status = streams.status_stream()
        sys.stderr.write("\r 50%|#####     | 5/10")
        print("status", file=status, flush=True)
        print("loading...", end="")
        print("status 2", file=status, flush=True)
    assert tty.getvalue() == f"\r 50%|#####     | 5/10{CLEAR_LINE}status\nloading...\nstatus 2\n"


def test_stdout_and_stderr_on_one_pipe_share_what_they_know():
    r, w = os.pipe()
    out, err = os.fdopen(w, "w"), os.fdopen(os.dup(w), "w")
    streams = PlainStreams()
    try:
        assert streams._place(out) is streams._place(err)  # the same (device, inode)
        assert streams._place(out) is not streams._place(io.StringIO())
    finally:
        out.close()
        err.close()
        os.close(r)


def test_a_plain_run_with_a_real_tqdm_bar_never_glues_its_lines_onto_the_bar(tmp_path, monkeypatch):
    import lossmon

    both = io.StringIO()
    monkeypatch.setattr(sys, "stdout", both)
    monkeypatch.setattr(sys, "stderr", both)

    def train(run):
        bar = tqdm(total=20, desc="train", mininterval=0, ncols=60)  # to sys.stderr, as by default
        for i in range(20):
            bar.update()
            run.log(loss=1.0 / (i + 1))
            if i == 3:  # wait, mid-bar, until lossmon has printed its first status line
                deadline = time.monotonic() + 20
                while "[bars] step" not in both.getvalue() and time.monotonic() < deadline:
                    time.sleep(0.01)
        bar.close()

    lossmon.run(train, run_dir=tmp_path / "r", name="bars", ui="plain")
    assert sys.stdout is both and sys.stderr is both
    text = both.getvalue()
    assert "[bars] step" in text and "train: 100%" in text
    for line in text.split("\n"):
        for ours in ("[bars] step", "lossmon:"):
            assert ours not in line or line.startswith(ours), repr(line)
