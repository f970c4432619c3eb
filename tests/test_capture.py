"""Output capture: whole lines for the pane, readable lines in output.log, progress bars tamed."""

import io

import pytest

from lossmon.output_lines import MAX_COLS
from lossmon.views.tui.capture import OutputCapture

tqdm = pytest.importorskip("tqdm").tqdm


def test_lines_are_split_and_kept_whole_in_the_file(tmp_path):
    cap = OutputCapture(tmp_path / "output.log")
    cap.write("hello ")
    cap.write("world\nsecond line\nthird")
    assert cap.drain() == ["hello world", "second line"]
    cap.restore()  # the unfinished last line becomes a line
    assert cap.drain() == ["third"]
    assert (tmp_path / "output.log").read_text() == "hello world\nsecond line\nthird\n"
    assert cap.total_lines == 3


def test_carriage_return_progress_bars_show_their_last_state_and_do_not_grow():
    cap = OutputCapture(None)
    for i in range(20_000):
        cap.write(f"\r{i:5d}/20000 [#####     ]")
    assert cap.take() == ([], ["19999/20000 [#####     ]"])  # live: the bar's row as it is now
    cap.write("\n")  # a rewritten row stays live a few rows (a nested bar may move back up to it)
    cap.write("a\nb\nc\n")
    assert cap.take() == ([], ["19999/20000 [#####     ]", "a", "b", "c"])  # all in the pane, in order
    cap.write("d\n")
    assert cap.drain() == ["19999/20000 [#####     ]", "a", "b", "c", "d"]
    cap.write("x" * (MAX_COLS + 5))  # a line that never ends is kept in pieces
    assert cap.drain() == ["x" * MAX_COLS]
    cap.restore()
    assert cap.drain() == ["xxxxx"]


def test_take_gives_live_rows_only_when_they_changed():
    cap = OutputCapture(None)
    cap.write("\r 10%")
    assert cap.take() == ([], [" 10%"])
    assert cap.take() == ([], None)
    cap.write("\r 20%")
    cap.write("\r 30%")
    assert cap.take() == ([], [" 30%"])
    cap.write("\n")
    assert cap.take() == ([], [" 30%"])
    cap.write("".join(f"line {i}\n" for i in range(10)))
    assert cap.take() == ([" 30%"] + [f"line {i}" for i in range(10)], [])


def run_with_capture(tmp_path, body):
    """Run `body(stdout, stderr)` with the capture installed, as the app does; returns the capture."""
    cap = OutputCapture(tmp_path / "output.log").install()
    import sys
    try:
        body(sys.stdout, sys.stderr)
    finally:
        cap.restore()
    return cap


def test_real_tqdm_bars_print_and_write_come_out_as_readable_lines_in_order(tmp_path):
    def body(out, err):
        print("starting")
        for epoch in tqdm(range(2), desc="epoch", position=0, mininterval=0, ncols=60):
            for _ in tqdm(range(3), desc="batch", position=1, leave=False, mininterval=0, ncols=60):
                pass
            tqdm.write(f"epoch {epoch} done")
        bar = tqdm(total=4, desc="eval", mininterval=0, ncols=60)
        for _ in range(4):
            bar.update()
        bar.close()
        print("finished", flush=True)

    cap = run_with_capture(tmp_path, body)
    lines = (tmp_path / "output.log").read_text().split("\n")
    assert lines[-1] == ""  # every line ends
    lines = lines[:-1]
    assert [line.split(":")[0].split("|")[0] for line in lines] == [
        "starting", "epoch 0 done", "epoch 1 done", "epoch", "eval", "finished"]
    assert lines[3].startswith("epoch: 100%|") and "2/2" in lines[3]
    assert lines[4].startswith("eval: 100%|") and "4/4" in lines[4]
    text = "\n".join(lines)
    assert "\r" not in text and "\x1b" not in text and "batch" not in text  # leave=False: gone
    assert cap.drain() == lines and cap.total_lines == len(lines)


def test_a_bar_on_a_stream_of_its_own_and_dynamic_ncols(tmp_path):
    def body(out, err):
        for _ in tqdm(range(5), file=out, mininterval=0, dynamic_ncols=True):
            pass

    run_with_capture(tmp_path, body)
    lines = (tmp_path / "output.log").read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("100%|") and "5/5" in lines[0]


def test_logging_and_partial_print_are_kept(tmp_path):
    def body(out, err):
        print("no newline yet", end="")
        print(" ... and the rest")
        print("", end="")
        print()
        print("last, unfinished", end="")

    run_with_capture(tmp_path, body)
    assert (tmp_path / "output.log").read_text() == "no newline yet ... and the rest\n\nlast, unfinished\n"


def test_writes_from_many_threads_keep_every_line(tmp_path):
    import threading

    def body(out, err):
        def worker(k):  # whole lines per write: print() itself writes the text and its "\n" apart,
            for i in range(200):  # so two threads' prints can interleave on a real terminal too
                out.write(f"t{k} line {i}\n")

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()

    run_with_capture(tmp_path, body)
    lines = (tmp_path / "output.log").read_text().splitlines()
    assert sorted(lines) == sorted(f"t{k} line {i}" for k in range(4) for i in range(200))


def test_a_capture_written_to_after_restore_still_keeps_lines(tmp_path):
    cap = OutputCapture(tmp_path / "output.log")
    stream = cap.stderr  # a bar made during the app holds this stream
    cap.write("one\n")
    cap.restore()
    stream.write("\rlate 50%")
    stream.write("\rlate 100%\n")
    cap.restore()
    assert (tmp_path / "output.log").read_text() == "one\nlate 100%\n"


def test_stream_rejects_bytes():
    with pytest.raises(TypeError):
        OutputCapture(None).stdout.write(b"x")
    assert isinstance(OutputCapture(None).stdout, io.TextIOBase)
