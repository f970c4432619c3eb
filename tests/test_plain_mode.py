"""Plain mode end to end, as a subprocess with no terminal: exit codes, run log content, signals."""

import json
import signal
import subprocess
import textwrap

import pytest

from conftest import PYTHON, wait_for
from runlogs import load_run


def lossmon_cmd(*args):
    return [PYTHON, "-m", "lossmon", *args]


def run_cmd(cmd, env, timeout=120):
    return subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True, env=env, timeout=timeout)


@pytest.mark.slow
def test_short_demo_in_plain_mode_writes_a_complete_run_log(tmp_path, subprocess_env):
    run_dir = tmp_path / "r"
    # no --plain: with stdin/stdout not a terminal, auto mode must choose plain output by itself
    p = run_cmd(lossmon_cmd("demo", "overfit", "--steps", "300", "--run-dir", str(run_dir)), subprocess_env)
    assert p.returncode == 0, p.stderr
    assert "\x1b[" not in p.stdout  # no escape codes: plain lines only
    assert "[overfit] step 300 |" in p.stdout and "loss" in p.stdout and "val" in p.stdout
    loaded = load_run(run_dir)
    assert loaded.malformed == 0 and not loaded.torn
    loss = loaded.store.series("loss")
    assert loss.steps().tolist() == list(range(1, 301))
    assert loaded.store.series("val_loss").steps().tolist() == [100, 200, 300]
    assert len(loaded.store.series("lr")) == 300 and loaded.store.series("epoch") is not None
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["state"] == "finished" and meta["exit_code"] == 0 and meta["steps"] == 300
    assert meta["name"] == "overfit" and meta["versions"]["torch"]


@pytest.mark.slow
def test_demo_is_deterministic_per_seed(tmp_path, subprocess_env):
    losses = []
    for i in range(2):
        d = tmp_path / f"r{i}"
        p = run_cmd(lossmon_cmd("demo", "healthy", "--steps", "50", "--seed", "3", "--plain", "--run-dir", str(d)),
                    subprocess_env)
        assert p.returncode == 0, p.stderr
        losses.append(load_run(d).store.series("loss").values().tolist())
    assert losses[0] == losses[1]


@pytest.mark.parametrize("sig, code", [(signal.SIGTERM, 143), (signal.SIGINT, 130), (signal.SIGHUP, 129)])
@pytest.mark.slow
def test_signal_stops_training_gracefully_and_closes_the_log(tmp_path, subprocess_env, sig, code):
    run_dir = tmp_path / "r"
    # as from a shell in the foreground: a suite started in the background (`make test &`) hands
    # its children SIGINT ignored, and lossmon rightly leaves an ignored signal ignored
    proc = subprocess.Popen(lossmon_cmd("demo", "healthy", "--steps", "1000000", "--plain", "--run-dir", str(run_dir)),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=subprocess_env, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        log = run_dir / "run.jsonl"
        wait_for(lambda: log.exists() and log.stat().st_size > 2000, timeout=60)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == code, err
    assert "Traceback" not in err
    loaded = load_run(run_dir)
    assert not loaded.torn and loaded.malformed == 0
    stops = [e for e in loaded.store.events if e["event"] == "stop"]
    assert stops and stops[0]["source"] == signal.Signals(sig).name
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["state"] == "interrupted" and meta["exit_code"] == code
    assert meta["steps"] == loaded.store.series("loss").last()[0]  # every logged step reached the file


@pytest.mark.slow
def test_training_exception_is_printed_once_and_exits_non_zero(tmp_path, subprocess_env):
    script = tmp_path / "train.py"
    script.write_text(textwrap.dedent("""
        import lossmon

        def train(run):
            for i in range(50):
                run.log(loss=1.0 / (i + 1))
            raise RuntimeError("exploded at step 50")

        lossmon.run(train, name="boom", run_dir=%r)
    """ % str(tmp_path / "r")))
    p = run_cmd([PYTHON, str(script)], subprocess_env)
    assert p.returncode == 1
    assert p.stderr.count("Traceback") == 1 and "RuntimeError: exploded at step 50" in p.stderr
    loaded = load_run(tmp_path / "r")
    assert len(loaded.store.series("loss")) == 50
    (err,) = [e for e in loaded.store.events if e["event"] == "error"]
    assert err["step"] == 50 and "exploded" in err["message"]
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["state"] == "failed" and "exploded" in meta["error"]


@pytest.mark.slow
def test_run_dir_that_cannot_be_created_is_one_line_and_exit_2(tmp_path, subprocess_env):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    p = run_cmd(lossmon_cmd("demo", "--steps", "5", "--run-dir", str(blocker / "run")), subprocess_env)
    assert p.returncode == 2
    assert p.stderr.strip().count("\n") == 0 and p.stderr.startswith("lossmon: cannot create run directory")
    assert "Traceback" not in p.stderr


@pytest.mark.slow
def test_reusing_a_run_dir_is_refused(tmp_path, subprocess_env):
    d = tmp_path / "r"
    assert run_cmd(lossmon_cmd("demo", "--steps", "5", "--run-dir", str(d)), subprocess_env).returncode == 0
    p = run_cmd(lossmon_cmd("demo", "--steps", "5", "--run-dir", str(d)), subprocess_env)
    assert p.returncode == 2 and "already holds a run log" in p.stderr


@pytest.mark.parametrize("args", [["demo", "--steps", "abc"], ["demo", "--steps", "0"], ["demo", "bogus"], ["nope"]])
@pytest.mark.slow
def test_bad_command_line_exits_2_without_traceback(args, subprocess_env):
    p = run_cmd(lossmon_cmd(*args), subprocess_env)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "error:" in p.stderr


@pytest.mark.slow
def test_default_run_dir_is_timestamped_under_lossmon_runs(tmp_path, subprocess_env):
    p = subprocess.run(lossmon_cmd("demo", "nan", "--steps", "20"), cwd=tmp_path, stdin=subprocess.DEVNULL,
                       capture_output=True, text=True, env=subprocess_env, timeout=120)
    assert p.returncode == 0, p.stderr
    (run_dir,) = (tmp_path / "lossmon_runs").iterdir()
    assert run_dir.name.endswith("-nan") and len(run_dir.name) == len("20260101-000000-nan")
    assert (run_dir / "run.jsonl").exists() and (run_dir / "meta.json").exists()


def test_python_api_plain_run_returns_the_run(tmp_path):
    import lossmon

    def train(run):
        for i in range(10):
            run.log(loss=float(i))
        return "done"

    run = lossmon.run(train, run_dir=tmp_path / "r", ui="plain")
    assert run.result == "done" and run.step == 10
    assert load_run(tmp_path / "r").store.series("loss").values().tolist() == [float(i) for i in range(10)]
    with pytest.raises(ValueError, match="ui must be one of"):
        lossmon.run(train, ui="fancy")


def test_unwritable_run_dir_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    import lossmon

    def refuse(self, path):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("lossmon.rundir.runlog.RunLogWriter.__init__", refuse)
    with pytest.raises(SystemExit) as info:
        lossmon.run(lambda run: None, run_dir=tmp_path / "r", ui="plain")
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("lossmon: cannot write in run directory") and err.count("\n") == 1


ENDINGS = """
import sys, lossmon

def train(run):
    for i in range(30):
        run.log(loss=1.0 / (i + 1))
    %s

lossmon.run(train, run_dir=sys.argv[1], ui="plain")
"""


@pytest.mark.parametrize("ending, code, state, needle", [
    ("raise KeyboardInterrupt", 130, "interrupted", "lossmon: interrupted at step 30"),
    ("sys.exit(0)", 0, "finished", "lossmon: finished at step 30"),
    ("sys.exit()", 0, "finished", "lossmon: finished at step 30"),
    ("sys.exit(3)", 3, "failed", "lossmon: failed at step 30"),
    ("sys.exit('no more data')", 1, "failed", "lossmon: failed at step 30"),
])
@pytest.mark.slow
def test_keyboard_interrupt_and_sys_exit_inside_training_end_the_run_as_they_say(tmp_path, subprocess_env,
                                                                               ending, code, state, needle):
    script = tmp_path / "train.py"
    script.write_text(ENDINGS % ending)
    p = run_cmd([PYTHON, str(script), str(tmp_path / "r")], subprocess_env)
    assert p.returncode == code, p.stderr
    assert "Traceback" not in p.stderr and needle in p.stdout
    if "no more data" in ending:
        assert p.stderr.count("no more data") == 1  # said once, as Python would have
    meta = json.loads((tmp_path / "r" / "meta.json").read_text())
    assert meta["state"] == state and meta["exit_code"] == code and meta["steps"] == 30
    loaded = load_run(tmp_path / "r")
    assert loaded.malformed == 0 and len(loaded.store.series("loss")) == 30


def batches_after_stop(log) -> int:
    """How many pump batches of metric rows the run log holds after its first `stop` event (the
    rows of one batch share a time stamp); 0 before the stop is recorded."""
    stamps, stopped = set(), False
    for line in log.read_text().splitlines():
        try:
            item = json.loads(line)
        except ValueError:  # the line the pump is writing right now
            continue
        if item.get("event") == "stop":
            stopped = True
        elif stopped and "event" not in item:
            stamps.add(item["time"])
    return len(stamps)


STUBBORN = """
import sys, time, lossmon

def train(run):  # never looks at run.should_stop
    i = 0
    while True:
        i += 1
        run.log(loss=1.0 / i)
        time.sleep(0.002)

lossmon.run(train, run_dir=sys.argv[1], ui="plain")
"""


@pytest.mark.slow
def test_a_trainer_that_never_stops_is_waited_for_then_left_behind_on_a_second_signal(tmp_path, subprocess_env):
    script = tmp_path / "train.py"
    script.write_text(STUBBORN)
    run_dir = tmp_path / "r"
    proc = subprocess.Popen([PYTHON, str(script), str(run_dir)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=subprocess_env,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        log = run_dir / "run.jsonl"
        wait_for(lambda: log.exists() and log.stat().st_size > 500, timeout=60)
        proc.send_signal(signal.SIGINT)
        # the stop is recorded and the trainer, ignoring it, goes on for three more pump batches
        wait_for(lambda: batches_after_stop(log) >= 3, timeout=60)
        assert proc.poll() is None  # still waiting for the trainer to return
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    assert "training did not stop in time; leaving it behind" in out
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["state"] == "interrupted" and meta["exit_code"] == 130
    assert load_run(run_dir).malformed == 0
