"""Output capture: whole lines for the pane, everything for output.log, progress bars tamed."""

from lossmon.views.tui.capture import MAX_PARTIAL, OutputCapture


def test_lines_are_split_and_kept_whole_in_the_file(tmp_path):
    cap = OutputCapture(tmp_path / "output.log")
    cap.write("hello ")
    cap.write("world\nsecond line\nthird")
    assert cap.drain() == ["hello world", "second line"]
    cap.restore()  # the unfinished last line becomes a line
    assert cap.drain() == ["third"]
    assert (tmp_path / "output.log").read_text() == "hello world\nsecond line\nthird"


def test_carriage_return_progress_bars_show_their_last_state_and_do_not_grow():
    cap = OutputCapture(None)
    for i in range(20_000):
        cap.write(f"\r{i:5d}/20000 [#####     ]")
    assert len(cap._partial) < 100
    cap.write("\n")
    assert cap.drain() == ["19999/20000 [#####     ]"]
    cap.write("x" * (MAX_PARTIAL + 5))
    assert len(cap.drain()) == 1 and cap._partial == ""
