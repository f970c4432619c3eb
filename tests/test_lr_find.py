"""The LR range test (lossmon/training/lr_find.py, lossmon lr-find), checked against the two
implementations it follows: Lightning's Tuner (its ramp and its suggestion, run here) and fastai's
lr_find (its smoothing, stop and valley, from fixtures/lr_find_fastai.json: fastai's own outputs,
see fixtures/make_lr_find_fastai.py for how they were made)."""

from __future__ import annotations

import copy
import functools
import json
import math
import random

import numpy as np
import pytest
import torch

import lossmon
from conftest import ROOT
from lossmon import cli
from lossmon.training.lr_find import (DIVERGED, NONFINITE, LRFindResult, RangeTest, lr_find, ramp_lrs,
                                      steepest, valley)
from lossmon.training.run import Run

@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread is faster, and fair to a loaded machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


FASTAI = json.loads((ROOT / "tests" / "fixtures" / "lr_find_fastai.json").read_text())


def tiny(seed: int = 0, bn: bool = False):
    """A small classifier, its data and an SGD step function (each call draws a batch)."""
    g = torch.Generator().manual_seed(seed)
    X = torch.randn(1024, 12, generator=g)
    Y = (X[:, :4].sum(1) > 0).long()
    layers = [torch.nn.Linear(12, 32)] + ([torch.nn.BatchNorm1d(32)] if bn else []) + \
        [torch.nn.ReLU(), torch.nn.Dropout(0.1), torch.nn.Linear(32, 2)]
    torch.manual_seed(seed)
    model = torch.nn.Sequential(*layers)
    return model, X, Y


def stepper(model, opt, X, Y, sched=None):
    def step():
        i = torch.randint(0, len(X), (64,))
        loss = torch.nn.functional.cross_entropy(model(X[i]), Y[i])
        opt.zero_grad()
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        return loss.detach()
    return step


@functools.lru_cache(maxsize=1)
def recorded_curve() -> LRFindResult:
    torch.manual_seed(3)
    model, X, Y = tiny(3)
    opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    return lr_find(stepper(model, opt, X, Y), opt, model=model)


# ---- the schedule -----------------------------------------------------------------------------


@pytest.mark.parametrize("start, end, n", [(1e-7, 10.0, 100), (1e-8, 1.0, 100), (1e-5, 0.1, 7)])
def test_the_ramp_is_lightnings_exponential_schedule(start, end, n):
    pytest.importorskip("lightning")
    from lightning.pytorch.tuner.lr_finder import _ExponentialLR

    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=start)
    for g in opt.param_groups:  # as _LRFinder._exchange_scheduler sets them
        g["lr"] = g["initial_lr"] = start
    sched = _ExponentialLR(opt, end, n)
    theirs = []
    for _ in range(n):  # _LRCallback records scheduler.lr[0] before each batch; the step then steps it
        theirs.append(sched.lr[0])
        assert opt.param_groups[0]["lr"] == sched.lr[0]
        opt.step()
        sched.step()
    assert ramp_lrs(start, end, n) == theirs  # bit for bit
    assert theirs[-1] == pytest.approx(end, rel=1e-12)


def test_the_ramp_reaches_each_update_through_the_multiplier_and_leaves_the_lr_alone():
    model, X, Y = tiny()
    opt = torch.optim.SGD(model.parameters(), lr=1e-2)
    opt.add_param_group({"params": [torch.nn.Parameter(torch.zeros(2))], "lr": 5e-3})
    seen = []
    opt.register_step_pre_hook(lambda o, a, k: seen.append([g["lr"] for g in o.param_groups]))
    # a hook registered before lr_find's sees the optimizer's own values; lossmon's own is inside
    r = lr_find(stepper(model, opt, X, Y), opt, stop_factor=None, num_steps=20, start_lr=1e-5, end_lr=1.0)
    assert r.steps == 20
    assert r.lrs == pytest.approx(ramp_lrs(1e-5, 1.0, 20), rel=1e-12)
    assert all(s == [1e-2, 5e-3] for s in seen)  # between steps the groups hold their own LR
    assert [g["lr"] for g in opt.param_groups] == [1e-2, 5e-3]
    assert r.base_lr == 1e-2


# ---- suggestions against the references -------------------------------------------------------


def lightning_suggestion(lrs, losses):
    pytest.importorskip("lightning")
    from lightning.pytorch.tuner.lr_finder import _LRFinder

    finder = _LRFinder("exponential", lrs[0], lrs[-1], len(lrs))
    finder.results = {"lr": list(lrs), "loss": list(losses)}
    return finder.suggestion()


def test_steepest_is_lightnings_suggestion_on_a_recorded_curve():
    r = recorded_curve()
    assert r.steps > 30 and r.reason == DIVERGED
    idx = steepest(r.lrs, r.smoothed)
    assert r.lrs[idx] == lightning_suggestion(r.lrs, r.smoothed)
    assert r.suggestions["steepest"].lr == r.lrs[idx]


def test_steepest_is_lightnings_suggestion_on_fastais_and_synthetic_curves():
    cases = [(FASTAI["learner"]["lrs"], FASTAI["learner"]["smoothed"])]
    cases += [(c["lrs"], c["losses"]) for c in FASTAI["curves"]]
    for lrs, losses in cases:
        idx = steepest(lrs, losses)
        assert (None if idx is None else lrs[idx]) == lightning_suggestion(lrs, losses)


def test_valley_is_fastais_on_its_own_lr_find():
    case = FASTAI["learner"]
    idx = valley(case["lrs"], case["smoothed"], case["num_it"])
    assert np.float32(case["lrs"][idx]) == np.float32(case["valley"])  # fastai returns its float32 LR


def test_valley_is_fastais_on_synthetic_curves_with_nans():
    assert len(FASTAI["curves"]) == 24
    for c in FASTAI["curves"]:
        idx = valley(c["lrs"], c["losses"], c["num_it"])
        assert np.float32(c["lrs"][idx]) == np.float32(c["valley"]), c["num_it"]


def test_the_smoothing_and_the_stop_are_fastais():
    """fastai's raw per-batch losses fed to lossmon's range test: the same smoothed curve (fastai
    smooths in float32) and the same stopping batch (fastai's ramp is its own; the stop rule only
    sees losses)."""
    case = FASTAI["learner"]
    test = RangeTest(num_steps=case["num_it"])
    for loss in case["raw"]:
        if not test.feed(loss):
            break
    assert len(test.smoothed) == len(case["smoothed"]) == 93  # fastai's stopped there too: 4x its best
    assert test.reason == DIVERGED
    assert test.smoothed == pytest.approx(case["smoothed"], rel=2e-6)


def test_the_stop_rule_by_hand():
    test = RangeTest(num_steps=10, beta=0.0)  # no smoothing: smoothed == raw
    for loss in [2.0, 1.0, 1.5, 3.9, 4.0]:
        assert test.feed(loss)  # 4.0 is not above 4x the best (1.0)
    assert not test.feed(4.01)
    assert (test.reason, len(test.losses), test.losses[-1]) == (DIVERGED, 6, 4.01)
    test = RangeTest(num_steps=10)
    assert test.feed(1.0) and test.smoothed == [1.0]  # bias-corrected: the first is the loss
    assert test.feed(3.0) and test.smoothed[1] == pytest.approx((0.98 * 0.02 + 0.02 * 3) / (1 - 0.98 ** 2))
    k, avg = 2, 0.98 * 0.02 * 1 + 0.02 * 3
    while test.feed(100.0):  # the smoothed loss climbs to 4x 1.0 slowly
        k += 1
    avg_k = avg
    for _ in range(k - 1):
        avg_k = 0.98 * avg_k + 0.02 * 100
    assert len(test.losses) == k + 1 and test.smoothed[-1] == pytest.approx(avg_k / (1 - 0.98 ** (k + 1)))
    assert test.smoothed[-1] > 4.0 >= test.smoothed[-2]


@pytest.mark.parametrize("bad", [math.nan, math.inf])
def test_a_nan_or_inf_loss_stops_the_ramp_and_is_kept(bad):
    model, X, Y = tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    inner = stepper(model, opt, X, Y)
    calls = []

    def step():
        loss = inner()
        calls.append(1)
        return torch.tensor(bad) if len(calls) == 7 else loss

    before = copy.deepcopy(model.state_dict())
    r = lr_find(step, opt, model=model)
    assert (r.steps, r.reason, len(calls)) == (7, NONFINITE, 7)
    assert r.losses[-1] != r.losses[-1] if bad != bad else r.losses[-1] == math.inf
    assert math.isnan(r.smoothed[-1])
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert "the loss was" in r.why()


# ---- state restored ---------------------------------------------------------------------------


def snapshot(model, opt, sched):
    return (copy.deepcopy(model.state_dict()), [None if p.grad is None else p.grad.clone() for p in model.parameters()],
            copy.deepcopy(opt.state_dict()), copy.deepcopy(sched.state_dict()), torch.get_rng_state(),
            random.getstate(), np.random.get_state())


def same(a, b) -> bool:
    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and a.dtype == b.dtype and torch.equal(a, b)
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    if isinstance(a, np.ndarray):
        return np.array_equal(a, b)
    return a == b


def adam_setup():
    model, X, Y = tiny(1, bn=True)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=3, gamma=0.5)
    step = stepper(model, opt, X, Y, sched)
    for _ in range(4):  # optimizer state, gradients, a scheduler part-way
        step()
    step.data = X, Y
    return model, opt, sched, step


def test_state_is_restored_bit_for_bit_and_training_goes_on_as_without_it():
    torch.manual_seed(11)
    random.seed(11)
    np.random.seed(11)
    model, opt, sched, step = adam_setup()
    twin = copy.deepcopy((model, opt, sched))  # the same run, no lr_find
    before = snapshot(model, opt, sched)
    groups, group0, rng = opt.param_groups, opt.param_groups[0], torch.get_rng_state()
    r = lr_find(step, opt, model=model, schedulers=sched, num_steps=40)
    assert r.steps > 20
    after = snapshot(model, opt, sched)
    for what, a, b in zip(("model", "grads", "optimizer", "scheduler", "torch rng", "random", "numpy"), before, after):
        assert same(a, b), what
    assert opt.param_groups is groups and opt.param_groups[0] is group0  # the same objects
    assert torch.equal(torch.get_rng_state(), rng)
    # and the next steps are those the run takes without lr_find
    torch.set_rng_state(rng)
    ours = [float(step()) for _ in range(5)]
    m2, o2, s2 = twin
    torch.set_rng_state(rng)
    twin_step = stepper(m2, o2, *step.data, s2)
    theirs = [float(twin_step()) for _ in range(5)]
    assert ours == theirs


def test_a_raising_train_step_restores_and_raises():
    model, opt, sched, step = adam_setup()
    before = snapshot(model, opt, sched)
    n = []

    def boom():
        n.append(1)
        if len(n) == 5:
            raise ValueError("bad batch")
        return step()

    with pytest.raises(ValueError, match="bad batch"):
        lr_find(boom, opt, model=model, schedulers=[sched])
    assert all(same(a, b) for a, b in zip(before, snapshot(model, opt, sched)))


def test_a_step_that_never_steps_the_optimizer_is_an_error():
    model, X, Y = tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    with pytest.raises(RuntimeError, match="never called optimizer.step"):
        lr_find(lambda: 1.0, opt, num_steps=5)
    with pytest.raises(TypeError):
        lr_find(lambda: None, opt, num_steps=5)
    with pytest.raises(ValueError):
        lr_find(lambda: 1.0, opt, start_lr=1.0, end_lr=0.1)


def test_run_lr_find_is_not_part_of_the_run():
    model, X, Y = tiny()
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    run = Run("t", update_ratio=False)
    run.watch(opt)
    step = stepper(model, opt, X, Y)
    step()
    run.log(loss=1.0)
    r = run.lr_find(step, num_steps=30)  # the watched optimizer by default
    assert r.steps > 10
    assert (run.step, run.lr_scale, run.effective_lr) == (1, 1.0, 0.05)
    assert all("loss" not in row or row["step"] == 1 for row in run.drain() if "event" not in row)
    assert lossmon.lr_find is not None and "lr_find" in lossmon.__all__


def test_the_plot_fits_80_columns_and_marks_the_suggestions():
    r = recorded_curve()
    text = r.plot()
    lines = text.splitlines()
    assert max(len(line) for line in lines) <= 80 and len(lines) >= 16
    assert "S steepest" in text and "V valley" in text and "1e-07" in text
    assert any(ch in "⠁⠂⠄⡀⢀⣀⠉⠒⠤" for ch in text)  # braille curve
    summary = r.summary()
    assert summary.splitlines()[1].startswith("suggested LR ") and "(valley, fastai's rule)" in summary
    assert "the run's own LR was 0.01" in summary


# ---- the CLI ----------------------------------------------------------------------------------

SCRIPT = """
import sys, torch
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10_000
torch.manual_seed(0)
X = torch.randn(512, 8); Y = (X[:, :3].sum(1) > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
sched = torch.optim.lr_scheduler.LinearLR(opt, start_factor=0.1, total_iters=50)
try:
    for i in range(steps):
        j = (i * 32) % 512
        loss = torch.nn.functional.cross_entropy(model(X[j:j + 32]), Y[j:j + 32])
        opt.zero_grad(); loss.backward(); opt.step(); sched.step()
except KeyboardInterrupt:
    open(sys.argv[0] + ".saved", "w").write("saved")
"""


def test_cli_lr_find_prints_the_plot_and_the_suggestion(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    assert cli.main(["lr-find", str(script)]) == 0
    out = capsys.readouterr().out
    assert "loss (smoothed) vs learning rate" in out and "S steepest" in out
    line = next(x for x in out.splitlines() if x.startswith("suggested LR "))
    assert float(line.split()[2]) > 0
    assert line.endswith("the run's own LR was 1.0e-04")  # LinearLR's first step: 0.1 x 1e-3
    assert not (tmp_path / "train.py.saved").exists()  # ended past its except KeyboardInterrupt
    assert not (tmp_path / "lossmon_runs").exists()


def test_cli_lr_find_options(tmp_path, capsys):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    assert cli.main(["lr-find", "--steps", "30", "--no-stop", "--start-lr", "1e-5", "--end-lr", "1",
                     "--width", "60", str(script)]) == 0
    out = capsys.readouterr().out
    assert "ran all 30 steps, to LR 1" in out
    assert max(len(line) for line in out.splitlines() if "┤" in line or "└" in line) == 60


@pytest.mark.parametrize("body, args, says", [
    (None, [], "no such file"),
    ("import torch\nw = torch.zeros(3, requires_grad=True)\nfor _ in range(5):\n"
     "    l = (w - 1).pow(2).sum(); l.backward()\n    with torch.no_grad(): w -= 0.1 * w.grad\n", [],
     "before creating a torch optimizer"),
    ("print('hello')\n", [], "without creating a torch optimizer"),
    (SCRIPT, ["12"], "the script ended after 12 optimizer steps, before the ramp's 100"),
    ("raise SystemExit(3)\n", [], "exited with status 3"),
    ("import torch\nopt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1)\nraise ValueError('bad')\n",
     [], "raised ValueError: bad"),
])
def test_cli_lr_find_bad_input_is_one_line(tmp_path, capsys, body, args, says):
    script = tmp_path / "s.py"
    if body is not None:
        script.write_text(body)
    assert cli.main(["lr-find", str(script), *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("lossmon lr-find: ") and says in err, err
    assert "Traceback" not in err


IN_A_RUN = """
import json, sys, torch, lossmon
torch.manual_seed(0)
X = torch.randn(256, 8); Y = (X[:, :3].sum(1) > 0).long()
model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.ReLU(), torch.nn.Linear(16, 2))
opt = torch.optim.SGD(model.parameters(), lr=1e-2)
def step():
    loss = torch.nn.functional.cross_entropy(model(X[:32]), Y[:32])
    opt.zero_grad(); loss.backward(); opt.step()
    return loss
r = lossmon.lr_find(step, opt, num_steps=20)          # Run.lr_find: capture looks away
json.dump({"steps": r.steps, "lr": r.suggested_lr}, open(sys.argv[1], "w"))
for _ in range(5):
    step()
"""


def test_lr_find_in_a_script_under_lossmon_run_is_not_logged_as_the_runs_steps(tmp_path):
    from runlogs import load_run

    script = tmp_path / "s.py"
    script.write_text(IN_A_RUN)
    out = tmp_path / "out.json"
    assert cli.main(["run", "--plain", "--run-dir", str(tmp_path / "r"), str(script), str(out)]) == 0
    seen = json.loads(out.read_text())
    assert seen["steps"] == 20 and seen["lr"] > 0
    loss = load_run(tmp_path / "r").store.series("loss")
    assert len(loss) == 5  # the script's five steps, none of the ramp's
