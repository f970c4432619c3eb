"""The module-level API: `lossmon.log()` and friends talk to the current run; in a plain `python
train.py` the first call starts a recording run that `lossmon watch`/`lossmon ctl` steer, ended at
interpreter exit, on an exception and on SIGTERM."""

from __future__ import annotations

import signal
import subprocess

import pytest

import lossmon
from conftest import PYTHON, wait_for
from lossmon.control_socket import ControlClient
from lossmon.rundir.layout import SOCKET
from lossmon.rundir.listing import find_runs
from runlogs import load_run


def test_inside_lossmon_run_the_module_calls_talk_to_that_run(tmp_path):
    seen = {}

    def train(run):
        seen["current"] = lossmon.current()
        for i in range(5):
            lossmon.log(loss=1.0 / (i + 1))
        seen["stop"] = lossmon.should_stop()

    run = lossmon.run(train, run_dir=tmp_path / "r", ui="plain")
    assert seen == {"current": run, "stop": False}
    assert load_run(tmp_path / "r").store.series("loss").values().tolist() == [1.0, 0.5, 1 / 3, 0.25, 0.2]


def _script(tmp_path, body: str):
    path = tmp_path / "train.py"
    path.write_text("import lossmon, time, sys\n" + body)
    return path


def _start(tmp_path, body, subprocess_env):
    return subprocess.Popen([PYTHON, str(_script(tmp_path, body))], cwd=tmp_path, env=subprocess_env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, stdin=subprocess.DEVNULL)


def _the_run(tmp_path):
    runs = wait_for(lambda: find_runs(tmp_path / "lossmon_runs"), timeout=30)
    return runs[0]


@pytest.mark.slow
def test_a_plain_python_script_that_logs_records_a_run_and_ends_it_at_exit(tmp_path, subprocess_env):
    p = _start(tmp_path, "for i in range(50):\n    lossmon.log(loss=1.0 / (i + 1))\nlossmon.log(val_loss=0.5)\n",
               subprocess_env)
    out, err = p.communicate(timeout=60)
    assert p.returncode == 0, err
    assert "lossmon: recording 'train'" in err and "lossmon watch" in err
    assert "lossmon: finished at step 50" in err
    run = load_run(_the_run(tmp_path))
    assert len(run.store.series("loss")) == 50 and run.store.series("val_loss").values().tolist() == [0.5]
    assert run.meta["state"] == "finished"


@pytest.mark.slow
def test_an_exception_ends_the_run_failed_with_the_error_recorded(tmp_path, subprocess_env):
    p = _start(tmp_path, "lossmon.log(loss=1.0)\nraise RuntimeError('CUDA out of memory')\n", subprocess_env)
    _, err = p.communicate(timeout=60)
    assert p.returncode == 1
    assert err.count("Traceback (most recent call last)") == 1  # Python's own, not a second copy
    run = load_run(_the_run(tmp_path))
    assert run.meta["state"] == "failed"
    assert [e["message"] for e in run.store.events if e["event"] == "error"] == ["RuntimeError: CUDA out of memory"]


@pytest.mark.slow
@pytest.mark.parametrize("polls, code, state", [(False, 143, "interrupted"), (True, 0, "stopped")])
def test_sigterm_stops_the_script_and_closes_the_run(tmp_path, subprocess_env, polls, code, state):
    loop = ("i = 0\nwhile True:\n    lossmon.log(loss=1.0)\n    time.sleep(0.005)\n"
            + ("    if lossmon.should_stop():\n        break\n" if polls else ""))
    p = _start(tmp_path, loop, subprocess_env)
    d = _the_run(tmp_path)
    wait_for(lambda: (d / "run.jsonl").exists() and (d / "run.jsonl").stat().st_size > 200, timeout=30)
    p.send_signal(signal.SIGTERM)
    _, err = p.communicate(timeout=30)
    assert p.returncode == code, err
    assert load_run(d).meta["state"] == state


@pytest.mark.slow
def test_another_terminal_steers_a_plain_python_script(tmp_path, subprocess_env):
    """What `lossmon watch` / `lossmon ctl` do: the LR request over the run's socket reaches the
    script's optimizer."""
    body = ("import torch\nm = torch.nn.Linear(2, 1)\nopt = torch.optim.SGD(m.parameters(), lr=0.1)\n"
            "lossmon.watch(opt)\n"
            "while not lossmon.should_stop():\n"
            "    m(torch.randn(4, 2)).pow(2).mean().backward(); opt.step(); opt.zero_grad()\n"
            "    lossmon.log(loss=1.0)\n    time.sleep(0.002)\n")
    p = _start(tmp_path, body, subprocess_env)
    try:
        d = _the_run(tmp_path)
        wait_for(lambda: (d / SOCKET).exists(), timeout=30)
        wait_for(lambda: load_run(d).store.series("lr") is not None, timeout=30)  # it is training
        client = ControlClient(d / SOCKET)
        assert client.request("scale_lr", factor=0.5)["ok"]
        wait_for(lambda: any(e.get("event") == "lr_change" for e in load_run(d).store.events), timeout=30)
        assert client.request("stop")["ok"]
        _, err = p.communicate(timeout=30)
    finally:
        p.kill()
    assert p.returncode == 0, err
    run = load_run(d)
    lr = run.store.series("lr").values()
    assert lr[0] == pytest.approx(0.1) and lr[-1] == pytest.approx(0.05)
    assert run.meta["state"] == "stopped"
