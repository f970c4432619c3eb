"""`lossmon ctl`: each command against a real Run served by a real control socket in a temporary run
directory (a Session, as `lossmon.run` makes), its one line of output and exit status; bad
arguments, no run, a finished run and a stale socket."""

from __future__ import annotations

import math
import socket
import subprocess

import pytest
import torch

from conftest import PYTHON, wait_for
from lossmon import names, states
from lossmon.cli import main
from lossmon.control_socket import probe
from lossmon.rundir.layout import DEFAULT_ROOT, RUN_LOG, SOCKET
from lossmon.session.session import Session


@pytest.fixture
def job(tmp_path, monkeypatch):
    """A live run under ./lossmon_runs in a temporary working directory: its Session (the Run and
    its control server) and an optimizer it watches. Nothing trains: the test steps it."""
    monkeypatch.chdir(tmp_path)
    session = Session("ctl-test", run_dir=tmp_path / DEFAULT_ROOT / "20260101-000000-ctl-test")
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    session.run.watch(opt)
    assert probe(session.dir / SOCKET) == "live"
    yield session, opt
    session.close(states.FINISHED, 0)


def ctl(capsys, *words: str) -> tuple[int, str, str]:
    """`lossmon ctl WORDS`: (status, stdout, stderr), having checked the one-line contract."""
    code = main(["ctl", *words])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    if code == 0:
        assert err == "" and out.endswith("\n") and out.count("\n") == 1, (out, err)
    else:
        assert out == "" and err.startswith("lossmon ctl: ") and err.count("\n") == 1, (out, err)
    return code, out.strip(), err.strip()


def train_step(run, opt) -> None:
    opt.param_groups[0]["params"][0].grad = torch.ones(1)
    opt.step()
    run.log(loss=1.0)


# ---- each command applied ------------------------------------------------------------------------

def test_pause_resume_and_stop_change_the_run(job, capsys):
    session, _ = job
    run = session.run
    code, out, _ = ctl(capsys, "pause")  # RUN defaults to the newest running run under ./lossmon_runs
    assert code == 0 and out.startswith("pause: accepted by") and "at the next step" in out
    assert run.pause_requested
    code, out, _ = ctl(capsys, str(session.dir), "resume")
    assert code == 0 and out == f"resume: accepted by {session.dir}"
    assert not run.pause_requested
    code, out, _ = ctl(capsys, "stop")
    assert code == 0 and run.stop_requested and run.should_stop


def test_a_run_is_named_by_its_directory_a_file_in_it_or_its_name(job, capsys):
    session, _ = job
    for name in (str(session.dir), str(session.dir / SOCKET), session.dir.name):
        code, out, _ = ctl(capsys, name, "pause")
        assert code == 0, out
    assert session.run.pause_requested
    code, _, err = ctl(capsys, str(session.dir))  # a run and no command
    assert code == 2 and "no command given" in err


def test_lr_scale_set_reset_and_commit_are_applied_at_the_next_optimizer_step(job, capsys):
    session, opt = job
    run = session.run
    code, out, _ = ctl(capsys, "lr", "x2")
    assert code == 0 and out.startswith("lr x2: accepted") and "at the next optimizer step" in out
    assert run.lr_change_pending
    train_step(run, opt)
    assert not run.lr_change_pending and run.lr_scale == 2.0 and run.effective_lr == pytest.approx(0.2)

    assert ctl(capsys, "lr", "/4")[0] == 0
    train_step(run, opt)
    assert run.lr_scale == pytest.approx(0.5)

    assert ctl(capsys, "lr", "x0.5")[0] == 0
    train_step(run, opt)
    assert run.lr_scale == pytest.approx(0.25)

    assert ctl(capsys, "lr", "3e-4")[0] == 0
    train_step(run, opt)
    assert run.effective_lr == pytest.approx(3e-4)

    assert ctl(capsys, "lr", "reset")[0] == 0
    train_step(run, opt)
    assert run.lr_scale == 1.0 and run.effective_lr == pytest.approx(0.1)

    assert ctl(capsys, "lr", "x3")[0] == 0 and ctl(capsys, "lr", "commit")[0] == 0
    train_step(run, opt)
    assert run.lr_scale == 1.0 and opt.param_groups[0]["lr"] == pytest.approx(0.3)


def test_checkpoint_runs_at_the_next_step_and_is_refused_without_a_function(job, capsys):
    session, _ = job
    run = session.run
    code, _, err = ctl(capsys, "checkpoint")
    assert code == 1 and "refused by" in err and "run.on_checkpoint(fn)" in err
    saved = []
    run.on_checkpoint(lambda: saved.append(run.step) or "ckpt.pt")
    code, out, _ = ctl(capsys, "checkpoint")
    assert code == 0 and out.startswith("checkpoint: accepted")
    run.step_boundary()  # the training thread's next step
    assert saved == [0]


def test_lr_control_without_a_watched_optimizer_is_refused(tmp_path, capsys):
    session = Session("no-lr", run_dir=tmp_path / "job")
    try:
        session.run.log(loss=1.0)
        code, _, err = ctl(capsys, str(session.dir), "lr", "x2")
        assert code == 1 and "run.watch(optimizer)" in err
        assert not session.run.lr_change_pending
    finally:
        session.close(states.FINISHED, 0)


def test_status_is_one_line_with_state_step_losses_lr_and_pause(job, capsys):
    session, opt = job
    run = session.run
    run.total_steps = 100
    for _ in range(3):
        train_step(run, opt)
    run.log(val_loss=float("nan"))
    wait_for(lambda: run.store.by_role(names.VAL_LOSS) is not None and run.store.by_role(names.LR) is not None)
    code, out, _ = ctl(capsys, "status")
    assert code == 0
    assert out == (f"{DEFAULT_ROOT}/{session.dir.name}: state=running step=3/100 loss=1 val_loss=NaN lr=0.1 lr_scale=1 paused=no")
    run.pause()
    assert "state=pausing" in ctl(capsys, "status")[1]
    run.stop()
    assert "state=stopping" in ctl(capsys, "status")[1]


# ---- what is refused, and how --------------------------------------------------------------------

@pytest.mark.parametrize("words, needle", [
    ([], "no command given"),
    (["frob"], "unknown command 'frob'"),
    (["lr"], "lr needs one argument"),
    (["lr", "x0"], "factor must be a number > 0"),
    (["lr", "x-2"], "factor must be a number > 0"),
    (["lr", "xinf"], "factor must be a number > 0"),
    (["lr", "abc"], "expected x<factor>"),
    (["lr", "x"], "expected x<factor>"),
    (["lr", "-1"], "value must be a number > 0"),
    (["lr", "-1e-4"], "value must be a number > 0"),
    (["lr", "0"], "value must be a number > 0"),
    (["lr", "nan"], "value must be a number > 0"),
    (["lr", "/0"], "divisor must be a number > 0"),
    (["lr", "x2", "x3"], "lr needs one argument"),
    (["stop", "now"], "stop takes no argument"),
    (["pause", "--force"], "pause takes no argument"),
])
def test_bad_arguments_are_usage_errors_and_change_nothing(job, capsys, words, needle):
    session, _ = job
    run = session.run
    code, _, err = ctl(capsys, *words)
    assert code == 2 and needle in err, err
    assert not (run.pause_requested or run.stop_requested or run.lr_change_pending)


def test_no_run_is_a_usage_error(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    code, _, err = ctl(capsys, "stop")
    assert code == 2 and "no runs under ./lossmon_runs" in err
    code, _, err = ctl(capsys, str(tmp_path / "nowhere"), "stop")
    assert code == 2 and "no lossmon run at" in err
    (tmp_path / "plain").mkdir()  # a directory that holds no run
    code, _, err = ctl(capsys, "plain", "stop")
    assert code == 2 and "no lossmon run at plain" in err
    code, _, err = ctl(capsys, "lr", "x0")  # a bad argument is reported before the missing run
    assert code == 2 and "factor must be" in err


def test_a_finished_run_is_not_running(tmp_path, capsys):
    session = Session("done", run_dir=tmp_path / "job")
    session.close(states.FINISHED, 0)
    code, _, err = ctl(capsys, str(session.dir), "stop")
    assert code == 1 and err == f"lossmon ctl: {session.dir} is not running: finished (exit 0)"


def test_a_stale_socket_is_reported_and_not_trusted(tmp_path, capsys):
    run_dir = tmp_path / "killed"
    run_dir.mkdir()
    (run_dir / RUN_LOG).write_text('{"step": 1, "time": 0, "loss": 1.0}\n')
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(run_dir / SOCKET))
    s.close()  # the file stays, nobody serves it: what a killed job leaves
    assert probe(run_dir / SOCKET) == "stale"
    code, _, err = ctl(capsys, str(run_dir), "pause")
    assert code == 1 and "stale" in err


def test_a_status_with_non_finite_values_still_answers(job, capsys):
    session, opt = job
    run = session.run
    run.log(loss=float("inf"))
    wait_for(lambda: (s := run.store.by_role(names.TRAIN_LOSS)) is not None and s.last() and math.isinf(s.last()[1]))
    code, out, _ = ctl(capsys, "status")
    assert code == 0 and "loss=+inf" in out


# ---- end to end ----------------------------------------------------------------------------------

def test_the_command_in_another_process(job, subprocess_env):
    session, _ = job
    proc = subprocess.run([PYTHON, "-m", "lossmon", "ctl", str(session.dir), "pause"], env=subprocess_env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stderr == "", proc.stderr
    assert proc.stdout == f"pause: accepted by {session.dir}; applies at the next step\n"
    assert session.run.pause_requested
    proc = subprocess.run([PYTHON, "-m", "lossmon", "ctl", str(session.dir), "lr", "x0"], env=subprocess_env,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and proc.stdout == "" and proc.stderr.count("\n") == 1
