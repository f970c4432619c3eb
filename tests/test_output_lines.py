"""The terminal-row model: what a stream shows as lines once \\r, cursor moves and erases are done,
checked on hand-written streams and on what real tqdm writes."""

from __future__ import annotations

import io

import pytest

from lossmon.output_lines import BAR_REACH, MAX_COLS, OutputLines


def lines_of(*chunks: str) -> list[str]:
    m = OutputLines()
    for c in chunks:
        m.feed(c)
    return m.take() + m.close()


def byte_by_byte(text: str) -> list[str]:
    return lines_of(*text)


# ---- hand-written streams -----------------------------------------------------------------------


def test_plain_lines_come_out_exactly_as_written_and_at_once():
    m = OutputLines()
    m.feed("a line  \n\nanother\tone\n")
    assert m.take() == ["a line  ", "", "another\tone"]  # trailing blanks, empty lines and tabs kept
    assert m.live() == []


def test_a_bare_carriage_return_counter_is_one_line_with_its_last_value():
    text = "".join(f"\rstep {i}/100" for i in range(101)) + "\n"
    assert lines_of(text) == ["step 100/100"]
    assert byte_by_byte(text) == ["step 100/100"]


def test_a_shorter_rewrite_keeps_the_tail_a_terminal_would_show():
    assert lines_of("\rloss 10.000", "\rloss 9\n") == ["loss 90.000"]
    assert lines_of("\rloss 10.000", "\r\x1b[Kloss 9\n") == ["loss 9"]  # erased to the end first
    assert lines_of("\rloss 10.000", "\x1b[2K\rloss 9\n") == ["loss 9"]


def test_a_line_that_never_ends_is_kept_and_shown_live():
    m = OutputLines()
    m.feed("downloading")
    m.feed("...")
    assert m.take() == [] and m.live() == ["downloading..."]
    assert m.close() == ["downloading..."]


def test_a_huge_line_is_kept_in_pieces():
    m = OutputLines()
    m.feed("y" * (2 * MAX_COLS + 3))
    assert m.take() == ["y" * MAX_COLS] * 2
    assert m.close() == ["yyy"]


def test_an_erased_row_is_no_line_at_all():
    assert lines_of("\r 50%|#####     |", "\r" + " " * 20 + "\r") == []
    assert lines_of("\r 50%", "\x1b[2K", "\rdone\n") == ["done"]


def test_escapes_cut_between_writes_are_understood_and_colours_dropped():
    assert lines_of("\x1b[31mred\x1b", "[0m plain\n") == ["red plain"]
    assert lines_of("\router\n", "inner\x1b", "[", "A\rOUTER\n") == ["OUTER", "inner"]
    assert lines_of("\x1b]0;a title\x07titled\n") == ["titled"]
    assert lines_of("bell\x07 and nul\x00\n") == ["bell and nul"]


def test_cursor_up_rewrites_a_row_still_live_and_rows_commit_in_order():
    m = OutputLines()
    m.feed("\rbar A 1%\n\rbar B 1%\x1b[A")
    m.feed("\rbar A 2%\n\rbar B 2%\x1b[A")
    assert m.take() == [] and m.live() == ["bar A 2%", "bar B 2%"]
    assert m.close() == ["bar A 2%", "bar B 2%"]


def test_a_rewritten_row_is_committed_once_the_cursor_is_out_of_reach():
    m = OutputLines()
    m.feed("\rdone 100%\n")
    for i in range(BAR_REACH - 1):
        m.feed(f"line {i}\n")
    assert m.take() == []  # the bar's row is still within reach of a cursor-up
    m.feed("one more\n")
    assert m.take() == ["done 100%"] + [f"line {i}" for i in range(BAR_REACH - 1)] + ["one more"]


def test_a_stream_that_moves_further_up_keeps_that_many_rows_live():
    m = OutputLines()
    rows = BAR_REACH + 2
    m.feed(f"\x1b[{rows}A")  # once seen, a move this far up is expected again
    m.feed("".join(f"row {i}\n" for i in range(rows)))
    assert m.take() == []
    m.feed(f"\x1b[{rows}A\rROW 0\x1b[{rows}B")  # back to the first row: it is still there
    assert m.close() == ["ROW 0"] + [f"row {i}" for i in range(1, rows)]


def test_cursor_up_past_the_committed_rows_stops_at_the_live_top():
    m = OutputLines()
    m.feed("printed\n\x1b[5Aover\n")
    assert m.take() + m.close() == ["printed", "over"]


# ---- real tqdm ----------------------------------------------------------------------------------

tqdm = pytest.importorskip("tqdm").tqdm


class FakeTTY(io.StringIO):
    def isatty(self) -> bool:
        return True


def written(body, tty: bool = False) -> str:
    f = FakeTTY() if tty else io.StringIO()
    body(f)
    return f.getvalue()


def kinds(lines: list[str]) -> list[str]:
    """A bar line's description and count, e.g. 'epoch 2/2'; other lines as they are."""
    out = []
    for line in lines:
        if "|" in line and "it/s" in line or "?it/s" in line:
            desc = line.split("%|")[0].rsplit(":", 1)[0].strip() if ":" in line.split("%|")[0] else ""
            count = line.split("| ")[1].split(" ")[0] if "| " in line else "?"
            out.append(f"{desc} {count}".strip())
        else:
            out.append(line)
    return out


def test_real_tqdm_single_bar_is_its_final_state(tty=False):
    def body(f):
        for _ in tqdm(range(50), file=f, mininterval=0, ncols=70, desc="train"):
            pass

    text = written(body)
    assert text.count("\r") > 10  # it did rewrite the line many times
    for stream in (text, written(body, tty=True)):
        out = lines_of(stream)
        assert kinds(out) == ["train 50/50"] and out[0].startswith("train: 100%|")
        assert byte_by_byte(stream) == out


def test_real_tqdm_nested_bars_inner_leave_false():
    def body(f):
        for _ in tqdm(range(3), file=f, position=0, mininterval=0, ncols=70, desc="epoch"):
            for _ in tqdm(range(4), file=f, position=1, leave=False, mininterval=0, ncols=70, desc="batch"):
                pass

    text = written(body)
    assert "\x1b[A" in text  # tqdm moves the cursor back up to the outer bar
    out = lines_of(text)
    assert kinds(out) == ["epoch 3/3"]
    assert byte_by_byte(text) == out


def test_real_tqdm_nested_bars_show_live_on_two_rows_while_running():
    m = OutputLines()

    class Sink(io.StringIO):
        def write(self, s):
            m.feed(s)
            return len(s)

    f = Sink()
    outer = tqdm(total=3, file=f, position=0, mininterval=0, ncols=70, desc="epoch")
    inner = tqdm(total=4, file=f, position=1, leave=False, mininterval=0, ncols=70, desc="batch")
    outer.update()
    inner.update(2)
    assert kinds(m.live()) == ["epoch 1/3", "batch 2/4"] and m.take() == []
    inner.close()
    outer.update(2)
    outer.close()
    assert kinds(m.take() + m.close()) == ["epoch 3/3"]


def test_real_tqdm_write_between_updates_gives_lines_above_the_bar():
    def body(f):
        bar = tqdm(range(3), file=f, mininterval=0, ncols=70, desc="train")
        for i in bar:
            tqdm.write(f"step {i}: loss 0.{i}", file=f)
        bar.close()

    out = lines_of(written(body))
    assert kinds(out) == ["step 0: loss 0.0", "step 1: loss 0.1", "step 2: loss 0.2", "train 3/3"]


def test_real_tqdm_write_with_nested_bars():
    def body(f):
        for e in tqdm(range(2), file=f, position=0, mininterval=0, ncols=70, desc="epoch"):
            for b in tqdm(range(2), file=f, position=1, leave=False, mininterval=0, ncols=70, desc="batch"):
                tqdm.write(f"epoch {e} batch {b}", file=f)

    text = written(body)
    assert kinds(lines_of(text)) == ["epoch 0 batch 0", "epoch 0 batch 1", "epoch 1 batch 0", "epoch 1 batch 1",
                                     "epoch 2/2"]
    assert byte_by_byte(text) == lines_of(text)


def test_real_tqdm_leave_false_and_dynamic_ncols():
    def gone(f):
        for _ in tqdm(range(5), file=f, mininterval=0, ncols=70, leave=False):
            pass

    def dynamic(f):
        for _ in tqdm(range(5), file=f, mininterval=0, dynamic_ncols=True):
            pass

    assert lines_of(written(gone)) == []
    assert kinds(lines_of(written(dynamic))) == ["5/5"]


def test_real_tqdm_mixed_with_print_keeps_the_order():
    def body(f):
        print("before", file=f)
        for _ in tqdm(range(5), file=f, mininterval=0, ncols=70, desc="a"):
            pass
        print("between", file=f)
        for _ in tqdm(range(2), file=f, mininterval=0, ncols=70, desc="b"):
            pass
        print("after", file=f)

    assert kinds(lines_of(written(body))) == ["before", "a 5/5", "between", "b 2/2", "after"]
