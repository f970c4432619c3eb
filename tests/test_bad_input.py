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


# ---- lossmon check: out-of-range values, odd names, special files, closed pipes ------------------

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def lossmon(*args, timeout=20, **kw):
    """`python -m lossmon ARGS` from this tree (a hang is a failure, not a stuck test run)."""
    return subprocess.run([sys.executable, "-m", "lossmon", *args], cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout, **kw)


def one_line_exit_2(code, err):
    assert code == 2 and err.startswith("lossmon ") and err.count("\n") == 1 and "Traceback" not in err, (code, err)


def two_points(extra=""):
    return ('{"step": 1, "loss": 1.0%s}\n{"step": 2, "loss": 0.5%s}\n' % (extra, extra))


def test_an_event_step_beyond_int64_is_ignored_not_a_crash(tmp_path, capsys):
    p = tmp_path / "log.jsonl"
    p.write_text(two_points() + '{"event": "pause", "step": %d}\n' % 2**63)
    assert cli_main(["check", str(p)]) == 0
    assert "2 points" in capsys.readouterr().out


def test_a_metric_named_with_a_lone_surrogate_prints(tmp_path, capsys):
    p = tmp_path / "log.jsonl"
    p.write_text(two_points(', "\\ud800": 2'))
    assert cli_main(["check", str(p)]) == 0
    out = capsys.readouterr().out
    out.encode("utf-8")  # nothing unprintable reaches the terminal
    assert "4 points" in out


def special_files(tmp_path):
    fifo = tmp_path / "fifo.jsonl"
    os.mkfifo(fifo)
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "trainer_state.json").symlink_to("/dev/zero")
    (tmp_path / "zero.csv").symlink_to("/dev/zero")
    (tmp_path / "events.out.tfevents.1.host").symlink_to("/dev/zero")
    return [fifo, hf / "trainer_state.json", tmp_path / "zero.csv", tmp_path / "events.out.tfevents.1.host"]


def test_what_is_not_a_regular_file_or_directory_is_refused(tmp_path):
    for p in special_files(tmp_path):
        for cmd in (["check", str(p)], ["watch", "--plain", str(p)]):
            r = lossmon(*cmd)
            one_line_exit_2(r.returncode, r.stderr)
            assert "not a regular file" in r.stderr


def test_a_trainer_state_too_large_to_hold_is_refused(tmp_path, monkeypatch):
    from lossmon.sources import hf

    p = tmp_path / "trainer_state.json"
    p.write_text(json.dumps({"log_history": [{"step": 1, "loss": 1.0}] * 100}))
    monkeypatch.setattr(hf, "MAX_BYTES", 100)
    with pytest.raises(Exception) as e:
        load(p)
    assert "too large" in str(e.value)


def test_a_line_that_never_ends_is_not_held_in_memory(tmp_path):
    from lossmon.rundir.runlog import RunLogReader

    p = tmp_path / "log.jsonl"
    p.write_bytes(b"x" * (3 << 20) + b"\n" + two_points().encode())
    reader = RunLogReader(p)
    reader.MAX_LINE = 1 << 20
    seen = []
    for _ in range(5):  # polls of 1 MB, as a watcher tails it
        for batch in reader.read_chunks(limit=1 << 20):
            seen += batch.points.get("loss", ([], []))[0]
        assert len(reader.torn_tail) <= reader.MAX_LINE
    assert seen == [1, 2] and reader.malformed == 1


@pytest.mark.skipif(not shutil.which("setpriv"), reason="needs setpriv to drop root")
def test_a_directory_without_search_permission(tmp_path):
    d = tmp_path / "run"
    d.mkdir()
    (d / "run.jsonl").write_text(two_points())
    d.chmod(0o600)
    os.chmod(tmp_path, 0o755)
    user = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"] if os.getuid() == 0 else []
    for cmd in (["check", str(d)], ["watch", "--plain", str(d)]):
        r = subprocess.run([*user, sys.executable, "-m", "lossmon", *cmd], cwd=ROOT, capture_output=True,
                           text=True, timeout=20)
        one_line_exit_2(r.returncode, r.stderr)
        assert "ermission denied" in r.stderr


def test_check_into_a_pipe_closed_early(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text(two_points())
    proc = subprocess.Popen([sys.executable, "-m", "lossmon", "check", str(p)], cwd=ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()  # `| head` gone before the first line
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=20) == 141 and err == "", err


def test_a_csv_row_that_never_ends_is_not_held_in_memory(tmp_path, monkeypatch):
    from lossmon.sources import csvfile

    monkeypatch.setattr(csvfile, "MAX_LINE", 1 << 20)
    p = tmp_path / "log.csv"
    p.write_bytes(b"step,loss\n1,1.0\n" + b"x" * (3 << 20) + b"\n2,0.5\n")
    src = csvfile.CsvSource(p)
    steps = []
    for _ in range(5):
        steps += list(src.poll(max_bytes=1 << 20).points.get("loss", ([], []))[0])
        assert len(src._partial) <= csvfile.MAX_LINE
    assert steps == [1, 2] and src.malformed == 1


# ---- lossmon ls ----------------------------------------------------------------------------------


@pytest.mark.parametrize("start", [1e300, float("nan"), -1e18, 2**80, "soon"])
def test_ls_with_a_start_time_out_of_range(tmp_path, capsys, start):
    for name, t in (("a", start), ("b", 1764240000.0)):
        d = tmp_path / name
        d.mkdir()
        (d / "meta.json").write_text(json.dumps({"name": name, "start_time": t, "state": "finished"}))
        (d / "run.jsonl").write_text(two_points())
    assert cli_main(["ls", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert sorted(line.split()[1] for line in out.splitlines()[1:]) == ["a", "b"]  # after ls's # column


# ---- lossmon watch --plain -----------------------------------------------------------------------

from lossmon.views.text import alert_summary, describe, feed_entry  # noqa: E402

ODD = [5, "x", None, [], ["a"], [None], {"a": 1}, True, 2**70, float("nan")]


@pytest.mark.parametrize("kind", ["lr_change", "lr_commit", "alert", "checkpoint", "control", "error"])
def test_events_with_fields_of_any_shape_describe_in_one_line(kind):
    for odd in ODD:
        for field in ("old", "new", "scale", "baked", "notes", "request", "applied", "step", "severity",
                      "state", "message", "ok", "result", "peer_pid"):
            ev = {"event": kind, "step": 5, "old": [1e-3], "new": [2e-3], field: odd}
            line = describe(ev)
            assert isinstance(line, str) and "\n" not in line
            entry = feed_entry(ev, None)
            assert entry is None or isinstance(entry[0], int)
            assert isinstance(alert_summary([{**ev, "event": "alert", "severity": "warning", "state": "open"}]), str)


def test_a_malformed_lr_change_is_shown_not_a_crash(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text(two_points() + '{"event":"lr_change","step":5,"old":5,"new":7}\n')
    r = lossmon("watch", "--plain", "--once", str(p))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "step 5: LR" in r.stdout


def test_watch_exits_2_where_check_does(tmp_path):
    p = tmp_path / "log.csv"
    p.write_text("a,loss\n1,2\n")
    for cmd in (["check", str(p)], ["watch", "--plain", str(p)]):
        r = lossmon(*cmd)
        one_line_exit_2(r.returncode, r.stderr)
        assert "no step column" in r.stderr


def test_watch_on_a_file_with_no_metric_record_says_so(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"nostep": 1}\n{"also": "none"}\n')
    r = lossmon("watch", "--plain", str(p))
    one_line_exit_2(r.returncode, r.stderr)
    assert "none of its 2 lines is a metric record" in r.stderr


def test_watch_once_reads_a_finished_tensorboard_run_and_exits(tmp_path):
    tb = pytest.importorskip("torch.utils.tensorboard")
    w = tb.SummaryWriter(str(tmp_path))
    for i in range(50):
        w.add_scalar("loss", 1.0 / (i + 1), i)
    w.close()
    r = lossmon("watch", "--plain", "--once", str(tmp_path))
    assert r.returncode == 0, r.stderr
    assert "step 49" in r.stdout or "49" in r.stdout.splitlines()[-1]


async def test_the_full_screen_watch_view_shows_a_malformed_lr_change(tmp_path):
    from lossmon.sources import open_source
    from lossmon.views.tui.app import LossmonApp
    from lossmon.watched import WatchedRun
    from tui_helpers import until

    p = tmp_path / "log.jsonl"
    p.write_text(two_points() + '{"event":"lr_change","step":"x","old":5,"new":[],"scale":"big"}\n'
                 '{"event":"alert","step":[2],"severity":["critical"],"state":"open","message":{"a":1}}\n')
    watched = WatchedRun(open_source(p), interval=0.02).start()
    app = LossmonApp(watched, watched, capture_output=False)
    try:
        async with app.run_test(size=(160, 48)) as pilot:
            await until(pilot, lambda: len(app.feed) >= 2, what=lambda: app.feed)
            await pilot.press("q")
            await until(pilot, lambda: not app.is_running, what="quit")
        assert app.return_code in (0, None)
    finally:
        watched.close()


# ---- BOMs, corrupt JSON, TensorBoard's words, reused PIDs ------------------------------------------

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("name,body", [
    ("log.csv", b"step,loss\n1,1.0\n2,0.5\n"),
    ("log.jsonl", two_points().encode()),
    ("metrics.csv", b"step,loss\n1,1.0\n2,0.5\n"),
])
def test_a_byte_order_mark_is_not_part_of_the_first_field(tmp_path, capsys, name, body):
    p = tmp_path / name
    p.write_bytes(BOM + body)
    assert cli_main(["check", str(p)]) == 0, capsys.readouterr().err
    assert "2 points" in capsys.readouterr().out


def test_a_meta_json_with_a_byte_order_mark_is_read(tmp_path):
    from lossmon.rundir.meta import read_meta

    (tmp_path / "meta.json").write_bytes(BOM + b'{"name": "x", "start_time": 1764240000}')
    assert read_meta(tmp_path)["name"] == "x"


@pytest.mark.parametrize("body,needle", [
    (b'{"log_history": [{"step": 1, "loss": 1.0}', "not valid JSON"),
    (b'{"log_history": 5}', "no log_history list"),
])
def test_a_corrupt_trainer_state_says_what_is_wrong(tmp_path, capsys, body, needle):
    p = tmp_path / "trainer_state.json"
    p.write_bytes(body)
    assert cli_main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert needle in err and "holds no metric values" not in err and err.count("\n") == 1, err


def test_tensorboard_problems_speak_of_records(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    p = tmp_path / "events.out.tfevents.1.host"
    p.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00" + b"\x00" * 4 + b"\xff" * 5 + b"\x00" * 4)
    assert cli_main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert "1 record " in err and "line" not in err, err


def test_a_reused_pid_does_not_make_a_killed_run_look_running(tmp_path):
    from lossmon.rundir.meta import initial_meta, killed, process_start

    meta = initial_meta("x")
    assert meta["pid_start"] == process_start(os.getpid()) is not None
    assert not killed(meta)  # this process: alive, and started when the meta says
    assert killed({**meta, "pid_start": meta["pid_start"] + 1})  # the pid now names another process
    assert not killed({k: v for k, v in meta.items() if k != "pid_start"})  # older runs: the pid alone


def test_steps_spanning_all_of_int64_do_not_stop_the_detectors(tmp_path, capsys):
    p = tmp_path / "log.jsonl"
    p.write_text("".join('{"step": %d, "loss": %g}\n' % (s, v) for s, v in
                         ((-(2**63), 1.0), (0, 0.9), (1, 0.8), (2**63 - 1, 0.7))))
    assert cli_main(["check", str(p)]) in (0, 1)
    assert "internal error" not in capsys.readouterr().err


def test_watch_once_reads_a_last_line_without_its_newline_as_check_does(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text('{"nostep": 1}\n{"step": 3, "loss": 0.5}')
    r = lossmon("watch", "--plain", "--once", str(p))
    assert r.returncode == 0 and "step 3" in r.stdout, (r.stdout, r.stderr)


def test_watch_plain_prints_a_lone_surrogate_as_an_escape(tmp_path):
    p = tmp_path / "log.jsonl"
    p.write_text(two_points() + '{"event": "pause", "step": 2, "source": "\\ud800"}\n')
    r = lossmon("watch", "--plain", "--once", str(p))
    assert r.returncode == 0 and "paused (\\ud800)" in r.stdout, (r.stdout, r.stderr)


def test_a_tag_with_a_newline_keeps_messages_on_one_line(tmp_path, capsys):
    p = tmp_path / "log.jsonl"
    p.write_text('{"step": 1, "a\\nb": 1.0}\n{"step": 2, "a\\nb": 0.5}\n')
    assert cli_main(["check", str(p)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a\\nb" in err, err


def test_a_meta_json_that_is_a_fifo_is_not_waited_on(tmp_path):
    d = tmp_path / "runs" / "a"
    d.mkdir(parents=True)
    (d / "run.jsonl").write_text(two_points())
    os.mkfifo(d / "meta.json")
    r = lossmon("ls", str(tmp_path / "runs"))
    assert r.returncode == 0 and "a " in r.stdout, r.stderr
    r = lossmon("check", str(d))
    assert r.returncode == 0, r.stderr


def test_ls_does_not_wait_on_a_run_log_that_is_a_fifo(tmp_path):
    d = tmp_path / "runs" / "a"
    (d / "columns").mkdir(parents=True)
    (d / "meta.json").write_text(json.dumps({"name": "a", "state": "finished"}))
    os.mkfifo(d / "run.jsonl")
    os.mkfifo(d / "columns" / "index.json")
    r = lossmon("ls", str(tmp_path / "runs"))
    assert r.returncode == 0 and "a " in r.stdout, r.stderr


def test_the_watch_status_counts_a_tensorboard_file_in_records(tmp_path):
    pytest.importorskip("tensorboard")
    from lossmon.sources import open_source
    from lossmon.views.text import job_notes
    from lossmon.watched import WatchedRun

    p = tmp_path / "events.out.tfevents.1.host"
    p.write_bytes(b"\x05\x00\x00\x00\x00\x00\x00\x00" + b"\x00" * 4 + b"\xff" * 5 + b"\x00" * 4)
    watched = WatchedRun(open_source(p))
    watched.poll()
    notes = " ".join(text for text, _, _ in job_notes(watched, watched.state, watched.store))
    assert "1 malformed record skipped" in notes, notes


def test_an_event_file_of_zeros_is_not_read_as_millions_of_empty_records(tmp_path, capsys):
    pytest.importorskip("tensorboard")
    p = tmp_path / "events.out.tfevents.1.host"
    with open(p, "wb") as f:
        f.truncate(64 << 20)  # sparse zeros: as 4M records of length 0, each a protobuf parse
    from lossmon.sources import SourceError

    with pytest.raises(SourceError, match="1 record"):
        load(p)
