"""Attaching to a job started elsewhere: a real subprocess training in plain mode, steered over its
control socket; a killed job is seen as gone and its socket as stale; `lossmon ls` and `watch`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap

import pytest

from conftest import PYTHON, wait_for
from lossmon.cli import main as cli_main
from lossmon.control_socket import ControlClient, probe
from lossmon.rundir.layout import SOCKET
from lossmon.rundir.listing import find_runs, latest_run, summarize
from lossmon.views.text import runs_table
from lossmon.sources import open_source
from lossmon.rundir.jobstate import job_state
from lossmon.watched import WatchedRun

SCRIPT = textwrap.dedent("""
    import sys, time, torch, lossmon

    def train(run):
        torch.manual_seed(0)
        model = torch.nn.Linear(4, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.01)
        run.watch(opt)
        x, y = torch.randn(64, 4), torch.randn(64, 1)
        while not run.should_stop:
            opt.zero_grad()
            loss = torch.nn.functional.mse_loss(model(x), y)
            loss.backward()
            opt.step()
            run.log(loss=loss.item())
            if run.step % 20 == 0:
                run.log(val_loss=loss.item() * 1.1)
            time.sleep(0.002)

    lossmon.run(train, run_dir=sys.argv[1], ui="plain", name="attached")
""")


def records(log):
    return [json.loads(line) for line in log.read_text().splitlines() if line.strip()]


@pytest.fixture
def job(tmp_path, subprocess_env):
    run_dir = tmp_path / "runs" / "job"
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([PYTHON, str(script), str(run_dir)], env=subprocess_env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        wait_for(lambda: probe(run_dir / SOCKET) == "live", timeout=60)
        yield proc, run_dir
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(10)
        proc.stdout.close()


@pytest.mark.slow
def test_lr_change_over_the_socket_lands_at_a_step_and_stop_ends_the_job(job):
    proc, run_dir = job
    client = ControlClient(run_dir / SOCKET)
    wait_for(lambda: client.request("status")["step"] > 30, timeout=30)
    reply = client.request("scale_lr", factor=2)
    assert reply["ok"], reply
    log = run_dir / "run.jsonl"
    change = wait_for(lambda: next((r for r in records(log) if r.get("event") == "lr_change"), None), timeout=20)
    assert change["source"] == "control" and change["applied"] and change["new"][0] == pytest.approx(0.02)
    lrs = [(r["step"], r["lr"]) for r in records(log) if "lr" in r]
    assert {lr for s, lr in lrs if s < change["step"]} == {0.01}
    wait_for(lambda: any(s > change["step"] and lr == pytest.approx(0.02) for s, lr in
                         ((r["step"], r["lr"]) for r in records(log) if "lr" in r)), timeout=20)
    assert any(r.get("event") == "control" and r["cmd"] == "scale_lr" for r in records(log))

    assert client.request("stop")["ok"]
    assert proc.wait(30) == 0
    assert not (run_dir / SOCKET).exists()
    meta = json.loads((run_dir / "meta.json").read_text())
    assert meta["state"] == "stopped"
    assert job_state(run_dir) == ("stopped", "exit 0")
    stop = [r for r in records(log) if r.get("event") == "stop"]
    assert stop and stop[0]["source"] == "control"


@pytest.mark.slow
def test_a_watcher_steers_pauses_and_sees_the_end(job):
    proc, run_dir = job
    watched = WatchedRun(open_source(run_dir), interval=0.05).start()
    try:
        wait_for(lambda: watched.steerable and watched.lr_watched and watched.store.last_step > 20, timeout=30)
        assert not watched.read_only
        watched.pause()
        wait_for(lambda: watched.paused, timeout=20)
        paused_at = watched.store.last_step
        watched.resume()
        wait_for(lambda: watched.store.last_step > paused_at + 5, timeout=20)
        watched.stop()
        wait_for(lambda: watched.job == "stopped", timeout=30)
        assert proc.wait(30) == 0
        kinds = [e["event"] for e in watched.store.events]
        assert {"pause", "resume", "stop"} <= set(kinds)
        assert not watched.notices or all(sev != "error" for sev, _ in watched.notices)
    finally:
        watched.close()


@pytest.mark.slow
def test_a_killed_job_is_gone_and_its_socket_stale(job, tmp_path, capsys):
    proc, run_dir = job
    wait_for(lambda: (run_dir / "run.jsonl").exists() and (run_dir / "run.jsonl").stat().st_size > 500, timeout=30)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    assert probe(run_dir / SOCKET) == "stale"
    state, detail = job_state(run_dir)
    assert state == "gone" and "no longer exists" in detail
    # its run log is read from run.jsonl (the columns may miss the last batch of a killed run)
    src = open_source(run_dir)
    assert src.columns is None
    summary = summarize(run_dir)
    assert summary.state == "gone" and summary.steps and summary.train is not None
    assert "gone" in runs_table([summary])
    assert cli_main(["ls", str(run_dir.parent)]) == 0
    assert "gone" in capsys.readouterr().out


@pytest.mark.slow
def test_ls_and_watch_without_a_path(tmp_path, monkeypatch, capsys, subprocess_env):
    monkeypatch.chdir(tmp_path)
    assert cli_main(["ls"]) == 2
    assert "not a directory" in capsys.readouterr().err
    assert cli_main(["watch", "--plain"]) == 2
    assert "no runs under" in capsys.readouterr().err
    import lossmon

    for name, steps in (("first", 30), ("second", 50)):
        def train(run, steps=steps):
            for i in range(steps):
                run.log(loss=1.0 / (i + 1))
            run.log(val_loss=0.5)
        lossmon.run(train, name=name, ui="plain")
    capsys.readouterr()
    runs = find_runs(tmp_path / "lossmon_runs")
    assert [r.name.split("-")[-1] for r in runs] == ["first", "second"]
    assert latest_run(tmp_path / "lossmon_runs") == runs[-1]
    assert cli_main(["ls"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:4] == ["#", "RUN", "STARTED", "STATE"]
    second = out[2].split()
    assert second[0] == "2" and second[1].endswith("second") and "finished" in second and "50" in second
    assert second[-2] == "0.02" and second[-1] == "0.5"
    # the newest run, read to its end: plain watch exits when the job has ended
    code = subprocess.run([sys.executable, "-m", "lossmon.cli", "watch"], cwd=tmp_path, env=subprocess_env,
                          capture_output=True, text=True, timeout=60)
    assert code.returncode == 0, code.stderr
    assert "second" in code.stdout and "the job is finished (exit 0)" in code.stdout


def test_job_state_from_metadata(tmp_path):
    import os
    import socket as _socket

    from lossmon.rundir.meta import write_meta

    host = _socket.gethostname()
    cases = [
        ({"state": "failed", "exit_code": 1, "error": "RuntimeError: boom"}, ("failed", "exit 1: RuntimeError: boom")),
        ({"state": "finished", "exit_code": 0}, ("finished", "exit 0")),
        ({"state": "running", "pid": os.getpid(), "host": host}, ("running", "no control channel")),
        ({"state": "running", "pid": 12345, "host": "elsewhere"}, ("running", "on elsewhere; cannot check its process from here")),
    ]
    for i, (meta, want) in enumerate(cases):
        d = tmp_path / str(i)
        d.mkdir()
        write_meta(d, meta)
        assert job_state(d) == want
    nometa = tmp_path / "nometa"
    nometa.mkdir()
    assert job_state(nometa) == ("unknown", "no readable meta.json")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    d = tmp_path / "dead"
    d.mkdir()
    write_meta(d, {"state": "running", "pid": dead.pid, "host": host})
    assert job_state(d)[0] == "gone"


def test_watch_without_a_path_prefers_a_running_job(tmp_path):
    import os
    import socket as _socket

    from lossmon.rundir.meta import write_meta

    for name, start, state in (("a-running", 100.0, "running"), ("b-finished", 200.0, "finished")):
        d = tmp_path / name
        d.mkdir()
        (d / "run.jsonl").write_text('{"step": 1, "loss": 1.0}\n')
        write_meta(d, {"state": state, "start_time": start, "pid": os.getpid(), "host": _socket.gethostname()})
    assert [p.name for p in find_runs(tmp_path)] == ["a-running", "b-finished"]
    assert latest_run(tmp_path).name == "a-running"
    write_meta(tmp_path / "a-running", {"state": "stopped", "start_time": 100.0})
    assert latest_run(tmp_path).name == "b-finished"


@pytest.mark.slow
def test_plain_watch_of_a_log_follows_until_a_signal(tmp_path, subprocess_env):
    f = tmp_path / "metrics.csv"
    f.write_text("step,loss\n" + "".join(f"{i},{1 / (i + 1)}\n" for i in range(50)))
    proc = subprocess.Popen([sys.executable, "-m", "lossmon.cli", "watch", str(f), "--plain"], env=subprocess_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out = []
        wait_for(lambda: out.append(proc.stdout.readline()) or "step 49" in "".join(out), timeout=60)
        with open(f, "a") as fh:
            fh.write("".join(f"{i},{1 / (i + 1)}\n" for i in range(50, 60)))
        proc.send_signal(signal.SIGTERM)
        rest, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 143 and "Traceback" not in err
    assert "CSV: " in "".join(out) and "step 59" in rest  # the last status line has the new rows
