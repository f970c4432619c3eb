"""The update-to-weight ratio (lossmon/training/update_ratio.py): log10(||dw||/||w||) per param
group, measured in the optimizer-step hooks every K steps, handed over as a 0-d device tensor."""

from __future__ import annotations

import math
import traceback
from pathlib import Path

import pytest
import torch

import lossmon
from lossmon import cli, events, names
from lossmon.recording.pump import resolve_device_values
from lossmon.recording.store import MetricStore
from lossmon.training import update_ratio as ur
from lossmon.training.lr import LRControl
from lossmon.training.run import Run
from lossmon.views.text import Status, plain_status, spark_series, spark_value
from runlogs import load_run

SCRIPTS = Path(__file__).parent / "scripts"


def rows_of(run: Run) -> list[dict]:
    rows = [r for r in run.drain() if "event" not in r]
    resolve_device_values(rows)  # what the pump does, off the training thread
    return rows


def one_step(model, opt, x=None):
    torch.manual_seed(1)
    x = torch.randn(8, model.in_features) if x is None else x
    opt.zero_grad()
    model(x).pow(2).mean().backward()
    opt.step()


def manual_ratio(after: list[torch.Tensor], before: list[torch.Tensor]) -> float:
    d = math.sqrt(sum(float((a - b).double().pow(2).sum()) for a, b in zip(after, before)))
    w = math.sqrt(sum(float(a.double().pow(2).sum()) for a in after))
    return math.log10(d / w)


def test_sgd_ratio_is_lr_times_grad_norm_over_weight_norm():
    torch.manual_seed(0)
    model = torch.nn.Linear(5, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.05)
    run = Run("t")
    run.watch(opt)
    one_step(model, opt)
    grads = [p.grad.clone() for p in model.parameters()]
    run.log(loss=1.0)
    row = rows_of(run)[0]
    g = math.sqrt(sum(float(t.double().pow(2).sum()) for t in grads))
    w = math.sqrt(sum(float(p.detach().double().pow(2).sum()) for p in model.parameters()))
    assert row["update_ratio"] == pytest.approx(math.log10(0.05 * g / w), abs=1e-5)
    assert row["step"] == 1


def test_adam_ratio_matches_a_manual_computation():
    torch.manual_seed(0)
    model = torch.nn.Linear(6, 2)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    run = Run("t")
    run.watch(opt)
    for _ in range(3):  # Adam's first step is lr*sign(g); check a later one too
        before = [p.detach().clone() for p in model.parameters()]
        one_step(model, opt)
        run.log(loss=1.0)
        want = manual_ratio([p.detach() for p in model.parameters()], before)
        rows = rows_of(run)
        if "update_ratio" in rows[-1]:
            assert rows[-1]["update_ratio"] == pytest.approx(want, abs=1e-4)
    assert run.step == 3


def test_the_value_is_a_device_tensor_until_the_pump_resolves_it():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = Run("t")
    run.watch(opt)
    one_step(model, opt)
    run.log(loss=0.5)
    row = run.drain()[0]
    v = row["update_ratio"]
    assert isinstance(v, torch.Tensor) and v.ndim == 0 and v.dtype == torch.float32


def test_param_groups_and_optimizers_get_their_own_names():
    torch.manual_seed(0)
    a, b, c = torch.nn.Linear(4, 4), torch.nn.Linear(4, 4), torch.nn.Linear(4, 1)
    opt1 = torch.optim.SGD([{"params": a.parameters()}, {"params": b.parameters(), "lr": 1e-4}], lr=0.1)
    opt2 = torch.optim.Adam(c.parameters(), lr=1e-3)
    run = Run("t")
    run.watch(opt1)
    run.watch(opt2)
    x = torch.randn(8, 4)
    for o in (opt1, opt2):
        o.zero_grad()
    c(b(a(x))).pow(2).mean().backward()
    opt1.step()
    opt2.step()
    run.log(loss=1.0)
    row = rows_of(run)[0]
    assert {"update_ratio", "update_ratio/0.1", "update_ratio/1.0"} <= row.keys()
    assert row["update_ratio/0.1"] < row["update_ratio"] - 2  # lr 1000x smaller: r ~3 lower
    for k in ("update_ratio", "update_ratio/0.1", "update_ratio/1.0"):
        assert names.role(k) == names.UPDATE_RATIO
        assert not names.advances_step(k)
    assert ur.metric_name(0, 0) == "update_ratio" and ur.metric_name(2, 3) == "update_ratio/2.3"


def test_frozen_and_empty_groups_are_skipped():
    torch.manual_seed(0)
    a, b = torch.nn.Linear(3, 3), torch.nn.Linear(3, 1)
    for p in a.parameters():
        p.requires_grad_(False)
    opt = torch.optim.SGD([{"params": a.parameters()}, {"params": b.parameters()}], lr=0.1)
    opt.add_param_group({"params": [], "lr": 0.1})
    run = Run("t")
    run.watch(opt)
    opt.zero_grad()
    b(a(torch.randn(4, 3))).pow(2).mean().backward()
    opt.step()
    run.log(loss=1.0)
    row = rows_of(run)[0]
    ratios = {k for k in row if k.startswith("update_ratio")}
    assert ratios == {"update_ratio/0.1"}


def test_zero_weights_and_zero_updates_give_nan_and_minus_inf_without_raising():
    model = torch.nn.Linear(3, 2)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # w stays 0: 0/0
    other = torch.nn.Linear(3, 2)
    opt2 = torch.optim.SGD(other.parameters(), lr=0.0)  # w != 0, no change: log10(0)
    run = Run("t")
    run.watch(opt)
    run.watch(opt2)
    for o, m in ((opt, model), (opt2, other)):
        o.zero_grad()
        m(torch.randn(4, 3)).sum().backward()
        o.step()
    run.log(loss=1.0)
    row = rows_of(run)[0]
    assert math.isnan(row["update_ratio"])
    assert row["update_ratio/1.0"] == -math.inf
    store = MetricStore()
    store.append_points({k: ([1], [v]) for k, v in row.items() if k != "step"})
    assert store.nonfinite == 0  # a step that changed nothing is not a fault
    assert spark_value("upd/w", store.series("update_ratio/1.0")) == "10^-inf"


class FakeClock:
    """perf_counter for the meter: each reading moves time on by `per_call` (the hook's own cost)."""

    def __init__(self, per_call: float) -> None:
        self.t = 0.0
        self.per_call = per_call

    def __call__(self) -> float:
        self.t += self.per_call
        return self.t


def test_k_adapts_to_keep_the_cost_a_quarter_percent_of_the_step():
    clock = FakeClock(per_call=0.001)  # 2 readings per hook: 2 ms a measurement
    lr = LRControl(lambda *a, **k: None)
    lr.ratio_clock = clock
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    lr.watch(opt)
    meter = _meter_of(lr, opt)
    measured, ks = 0, []
    step_s = 0.1
    for i in range(3000):
        if i == 1500:
            ks.append(meter.k)
            step_s = 1.0  # the steps got slower: K shrinks
        clock.t += step_s
        opt.zero_grad()
        model(torch.ones(1, 2)).sum().backward()
        opt.step()
        if lr.pending_metrics and "update_ratio" in lr.pending_metrics:
            measured += 1
        lr.pending_metrics = None
    # cost 2 ms, step 0.1 s -> K = 2e-3 / (0.0025 * 0.1) = 8; at 1 s a step -> K = 1
    assert ks == [8]
    assert meter.cost == pytest.approx(0.002)
    assert meter.k == 1 and meter.interval == pytest.approx(1.0, rel=0.01)
    assert 1500 / 8 < measured < 1500 / 8 + 1500 + 10


def _meter_of(lr: LRControl, opt) -> ur.RatioMeter:
    """The RatioMeter the hooks close over (tests only)."""
    for hook in opt._optimizer_step_pre_hooks.values():
        for cell in hook.__closure__ or ():
            if isinstance(cell.cell_contents, ur.RatioMeter):
                return cell.cell_contents
    raise AssertionError("no meter")


def test_k_grows_at_most_4x_and_stays_within_bounds():
    m = ur.RatioMeter(0, clock=FakeClock(0.0))
    m.k = 4
    m._prev, m._since = (0.0, 0.0), 4
    m._adapt(4 * 1e-4, 1.0)  # a huge cost for a 0.1 ms step: K wants 4e6
    assert m.k == 16
    for _ in range(10):
        m._prev, m._since = (0.0, 0.0), m.k
        m._adapt(m.k * 1e-4, 1.0)
    assert m.k == ur.MAX_K
    for _ in range(20):  # free measurements: K halves each time down to the minimum
        m._costs.clear()
        m._prev, m._since = (0.0, 0.0), m.k
        m._adapt(m.k * 1e-4, 0.0)
    assert m.k == ur.MIN_K


def test_k_in_a_real_loop_grows_past_the_start_for_a_cheap_step():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = Run("t")
    run.watch(opt)
    for _ in range(400):
        one_step(model, opt)
        run.log(loss=0.0)
    meter = _meter_of(run._lr, opt)
    assert meter.k > ur.START_K and meter.cost > 0 and meter.interval > 0
    n = sum("update_ratio" in r for r in rows_of(run))
    assert 2 <= n < 400 / 4


SYNCING = ("item", "__float__", "__int__", "__bool__", "tolist", "numpy", "cpu", "__index__")


@pytest.mark.parametrize("make", [lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9),
                                  lambda p: torch.optim.Adam(p, lr=1e-3)])
def test_the_hooks_never_read_a_value_back(monkeypatch, make):
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 2)
    opt = make(model.parameters())
    run = Run("t")
    run.watch(opt)
    lossmon_dir = str(Path(lossmon.__file__).parent)
    calls: list[str] = []
    for name in SYNCING:
        original = getattr(torch.Tensor, name)

        def spy(self, *a, _original=original, _name=name, **k):
            frames = traceback.extract_stack()[:-1]
            if any(f.filename.startswith(lossmon_dir) for f in frames):
                calls.append(f"{_name} from {[f.name for f in frames if f.filename.startswith(lossmon_dir)]}")
            return _original(self, *a, **k)

        monkeypatch.setattr(torch.Tensor, name, spy)
    x = torch.randn(8, 4)
    for _ in range(3):
        opt.zero_grad()
        model(x).pow(2).mean().backward()
        opt.step()
        run.log(loss=0.25)
    assert calls == []
    run.log(loss=torch.tensor(0.25))  # the spy works: log() reads a CPU tensor back (off the hooks)
    monkeypatch.undo()
    assert calls and calls[0].startswith("item from")
    assert "update_ratio" in rows_of(run)[0]


def test_an_error_while_measuring_turns_it_off_once_and_training_goes_on(monkeypatch):
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = Run("t")
    run.watch(opt)

    def oom(*a, **k):
        raise RuntimeError("CUDA out of memory (pretend)")

    monkeypatch.setattr(ur, "_copy_groups", oom)
    for _ in range(10):
        one_step(model, opt)
        run.log(loss=1.0)
    items = run.drain()
    off = [e for e in items if e.get("event") == events.CAPTURE and e.get("what") == "update_ratio"]
    assert len(off) == 1 and "out of memory" in off[0]["message"]
    assert sum(1 for r in items if "loss" in r) == 10
    assert not any("update_ratio" in r for r in items)


def test_the_off_switch():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = Run("t", update_ratio=False)
    assert not run.update_ratio
    run.watch(opt)
    one_step(model, opt)
    run.log(loss=1.0)
    row = rows_of(run)[0]
    assert "lr" in row and not any(k.startswith("update_ratio") for k in row)


def test_lossmon_run_passes_the_switch(tmp_path):
    def train(run):
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        run.watch(opt)
        for _ in range(5):
            one_step(model, opt)
            run.log(loss=1.0)

    for on in (True, False):
        run = lossmon.run(train, run_dir=tmp_path / str(on), ui="plain", update_ratio=on)
        assert (run.store.series("update_ratio") is not None) == on
    with pytest.raises(TypeError):
        lossmon.run(train, run_dir=tmp_path / "x", ui="plain", update_ratio="no")


def test_the_views_show_it():
    store = MetricStore()
    store.append_points({"loss": ([1, 2], [1.0, 0.9]), "lr": ([1, 2], [0.1, 0.1]),
                         "update_ratio": ([1, 5], [-3.04, -3.12]), "update_ratio/0.1": ([1], [-5.0])})
    rows = spark_series(store, 7)
    assert [label for label, _ in rows] == ["train", "lr", "upd/w"]
    assert spark_value("upd/w", rows[-1][1]) == "10^-3.1"

    class R:
        name, total_steps, lr_scale, lr_change_pending, paused, lr_probing, forecasts = "r", None, 1.0, False, False, False, {}

    R.store = store
    line = plain_status(Status.of(R()), [])
    assert "lr 0.1 | upd/w 10^-3.1" in line


def test_the_cli_flag_parses():
    for command in (["demo", "healthy"], ["run"]):
        args = cli.build_parser().parse_args([*command, "--no-update-ratio"]) if command[0] == "demo" else \
            cli._run_parser().parse_args(["--no-update-ratio"])
        assert args.no_update_ratio
    assert cli.split_run_args(["--no-update-ratio", "train.py", "--x"]) == (["--no-update-ratio"], ["train.py", "--x"])


@pytest.mark.parametrize("flag, on", [([], True), (["--no-update-ratio"], False)])
def test_under_lossmon_run_capture_every_optimizer_gets_it(tmp_path, flag, on):
    assert cli.main(["run", "--plain", *flag, "--run-dir", str(tmp_path / "r"),
                     str(SCRIPTS / "mnist_shape.py"), "--epochs", "1"]) == 0
    store = load_run(tmp_path / "r").store
    s = store.series("update_ratio")
    assert store.series("loss") is not None
    if not on:
        assert s is None
        return
    steps, values = s.points()
    assert len(values) >= 2 and all(-6 < v < 0 for v in values)
    assert set(steps.tolist()) <= set(store.series("loss").points()[0].tolist())  # on loss rows
