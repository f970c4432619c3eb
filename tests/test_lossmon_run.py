"""`lossmon run SCRIPT.py ARGS` / `lossmon run -m MODULE`: an unmodified script under the monitor,
as `python SCRIPT.py ARGS` would run it, with the script's exit status."""

from __future__ import annotations

import json
import subprocess
import sys
import threading

import pytest

from conftest import PYTHON, ROOT, wait_for
from lossmon import cli, events
from lossmon.cli import split_run_args
from lossmon.training.active import active
from runlogs import load_run

SCRIPTS = ROOT / "tests" / "scripts"

WHERE_AM_I = """
import json, os, sys
out = {"argv": sys.argv, "name": __name__, "file": __file__, "path0": sys.path[0]}
json.dump(out, open(os.environ["LOSSMON_TEST_OUT"], "w"))
"""


def lossmon_run(*argv: str) -> int:
    return cli.main(["run", "--plain", *argv])


def test_the_script_runs_as_python_would_run_it(tmp_path, monkeypatch):
    script = tmp_path / "where.py"
    script.write_text(WHERE_AM_I)
    monkeypatch.setenv("LOSSMON_TEST_OUT", str(tmp_path / "out.json"))
    argv_before, path_before = sys.argv[:], sys.path[:]
    assert lossmon_run(str(script), "--lr", "3e-4", "-x") == 0
    seen = json.loads((tmp_path / "out.json").read_text())
    assert seen == {"argv": [str(script), "--lr", "3e-4", "-x"], "name": "__main__", "file": str(script),
                    "path0": str(tmp_path.resolve())}
    assert (sys.argv, sys.path) == (argv_before, path_before)  # put back afterwards


def test_a_module_runs_as_python_dash_m_would_run_it(tmp_path, monkeypatch):
    pkg = tmp_path / "mypkg"
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "train.py").write_text(WHERE_AM_I)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LOSSMON_TEST_OUT", str(tmp_path / "out.json"))
    assert lossmon_run("-m", "mypkg.train", "--epochs", "2") == 0
    seen = json.loads((tmp_path / "out.json").read_text())
    assert seen["argv"] == [str(pkg / "train.py"), "--epochs", "2"] and seen["name"] == "__main__"


@pytest.mark.parametrize("body, code", [
    ("import sys; sys.exit(3)", 3),
    ("raise ValueError('bad batch')", 1),
    ("import sys; sys.exit(0)", 0),
    ("pass", 0),
])
def test_the_exit_status_is_the_scripts(tmp_path, body, code, capsys):
    script = tmp_path / "s.py"
    script.write_text(body)
    assert lossmon_run("--run-dir", str(tmp_path / "r"), str(script)) == code
    if code == 1:  # the traceback is the script's, as python would print it: no lossmon or runpy frames
        err = capsys.readouterr().err
        assert "ValueError: bad batch" in err and f'File "{script}", line 1' in err
        assert "runpy" not in err and "lossmon" + __import__("os").sep not in err


def test_help_is_printed_and_leaves_no_run_directory(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lossmon_run(str(SCRIPTS / "mnist_shape.py"), "--help") == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: mnist_shape.py") and "--batch-size" in out
    assert "lossmon:" not in out
    assert not (tmp_path / "lossmon_runs").exists() or not any((tmp_path / "lossmon_runs").iterdir())


def test_a_usage_error_of_the_script_is_its_own(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lossmon_run(str(SCRIPTS / "mnist_shape.py"), "--no-such-flag") == 2
    assert "unrecognized arguments: --no-such-flag" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["nope.py"], "no such file: nope.py"),
    (["-m", "no_such_module_here"], "no module named 'no_such_module_here'"),
])
def test_what_cannot_be_run_is_one_line_and_status_2(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert lossmon_run(*argv) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"lossmon run: {message}"


def test_no_script_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--plain"])
    assert info.value.code == 2
    assert "give the script to run" in capsys.readouterr().err


def test_lossmons_options_come_before_the_script_and_the_rest_is_the_scripts():
    assert split_run_args(["--plain", "--name", "x", "train.py", "--lr", "3e-4", "--plain"]) == (
        ["--plain", "--name", "x"], ["train.py", "--lr", "3e-4", "--plain"])
    assert split_run_args(["--fps", "5", "-m", "pkg.train", "-m"]) == (["--fps", "5"], ["-m", "pkg.train", "-m"])
    assert split_run_args(["--", "-weird.py", "a"]) == ([], ["-weird.py", "a"])
    assert split_run_args(["-mpkg"]) == ([], ["-m", "pkg"])


def _halve_lr_at(step: int) -> threading.Thread:
    """A key press from another thread: LR x0.5 once the running script reaches `step`."""

    def press():
        run = wait_for(lambda: active() if active() is not None and active().step >= step else None, timeout=60)
        run.scale_lr(0.5, source="key")

    t = threading.Thread(target=press, daemon=True)
    t.start()
    return t


@pytest.mark.slow
@pytest.mark.parametrize("script, args", [
    ("mnist_shape.py", ["--epochs", "2"]),
    ("makemore_shape.py", ["--max-steps", "240"]),
    ("nanogpt_shape.py", ["--max_iters=120"]),
    ("wlm_shape.py", ["--epochs", "2"]),
    ("tqdm_shape.py", []),
    ("lightning_shape.py", []),
    (str(ROOT / "demos" / "manual_sgd.py"), ["--steps", "400"]),
])
def test_public_script_shapes_give_train_val_and_lr_and_the_lr_keys_act(script, args, tmp_path):
    presser = _halve_lr_at(25)
    assert lossmon_run("--run-dir", str(tmp_path / "r"), str(SCRIPTS / script), *args) == 0
    presser.join(5)
    store = load_run(tmp_path / "r").store
    loss, val, lr = (store.series(n) for n in ("loss", "val_loss", "lr"))
    assert loss is not None and len(loss) >= 60
    assert val is not None and len(val) >= 1
    assert lr is not None
    change = [e for e in store.events if e.get("event") == events.LR_CHANGE]
    assert len(change) == 1 and change[0]["applied"], change
    assert change[0]["new"][0] == pytest.approx(change[0]["old"][0] * 0.5)
    steps, values = lr.points()
    after = values[steps > change[0]["step"]][0]
    assert after == pytest.approx(change[0]["new"][0])  # the next step used it, whatever the schedule does


@pytest.mark.slow
def test_under_a_terminal_less_launch_the_script_is_plain_and_its_status_is_kept(tmp_path, subprocess_env):
    """The real command, as a user types it (no terminal: plain lines)."""
    script = tmp_path / "t.py"
    script.write_text("import torch\nm = torch.nn.Linear(2, 1)\no = torch.optim.SGD(m.parameters(), lr=0.1)\n"
                      "for _ in range(20):\n    m(torch.randn(3, 2)).sum().backward(); o.step(); o.zero_grad()\n"
                      "raise SystemExit(4)\n")
    p = subprocess.run([PYTHON, "-m", "lossmon", "run", "--run-dir", str(tmp_path / "r"), str(script)],
                       capture_output=True, text=True, env=subprocess_env, timeout=120, stdin=subprocess.DEVNULL)
    assert p.returncode == 4, p.stderr
    assert "(plain output" in p.stdout
    run = load_run(tmp_path / "r")
    assert len(run.store.series("loss")) == 20 and run.meta["exit_code"] == 4


def test_a_script_that_sets_its_own_signal_handler_is_not_killed_by_it(tmp_path):
    script = tmp_path / "s.py"
    script.write_text("import signal, sys\nold = signal.signal(signal.SIGTERM, lambda *a: None)\n"
                      "assert callable(signal.getsignal(signal.SIGTERM))\nsys.exit(5)\n")
    import signal

    before = signal.getsignal(signal.SIGTERM)
    assert lossmon_run("--run-dir", str(tmp_path / "r"), str(script)) == 5  # not ValueError's 1
    assert signal.getsignal(signal.SIGTERM) is before and signal.signal.__module__ == "signal"  # put back


def test_lossmon_run_help_is_lossmons_own(capsys):
    with pytest.raises(SystemExit) as info:
        cli.main(["run", "--help"])
    assert info.value.code == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: lossmon run") and "--no-capture" in out


def test_total_steps_tells_the_run_its_length(tmp_path, monkeypatch):
    """`--total-steps N`: a script cannot tell lossmon how long it runs; the run knows it from here
    on (the ETA and the forecast need it)."""
    script = tmp_path / "t.py"
    script.write_text("import json, os, lossmon\n"
                      "json.dump(lossmon.current().total_steps, open(os.environ['LOSSMON_TEST_OUT'], 'w'))\n")
    monkeypatch.setenv("LOSSMON_TEST_OUT", str(tmp_path / "out.json"))
    assert lossmon_run("--total-steps", "5000", "--run-dir", str(tmp_path / "r"), str(script)) == 0
    assert json.loads((tmp_path / "out.json").read_text()) == 5000
    with pytest.raises(SystemExit) as e:
        cli.main(["run", "--total-steps", "0", str(script)])
    assert e.value.code == 2
