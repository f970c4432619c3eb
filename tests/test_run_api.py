import math
import threading

import numpy as np
import pytest
import torch

from conftest import wait_for
from lossmon.recording.pump import Pump, resolve_device_values
from lossmon.training.run import Run


def drained(run):
    """Move everything queued into the store (what the pump thread does every tick)."""
    Pump(run).tick()
    return run.store


def rows(run):
    """(step, metrics) of every queued row."""
    out = []
    for it in run.drain():
        if "event" not in it:
            it = dict(it)
            out.append((it.pop("step"), it))
    return out


# ---- steps and values -----------------------------------------------------------------------------

def test_train_metrics_advance_the_step_validation_and_epoch_do_not():
    run = Run()
    run.log(loss=1.0)
    run.log(loss=0.9, grad_norm=2.0)
    run.log(val_loss=1.1, epoch=0)
    run.log(loss=0.8)
    run.log(step=10, loss=0.7)
    run.log(loss=0.6)
    run.log(eval_accuracy=0.5)
    got = [(s, sorted(m)) for s, m in rows(run)]
    assert got == [(1, ["loss"]), (2, ["grad_norm", "loss"]), (2, ["epoch", "val_loss"]),
                   (3, ["loss"]), (10, ["loss"]), (11, ["loss"]), (11, ["eval_accuracy"])]
    assert run.step == 11


def test_values_of_every_numeric_kind_become_floats():
    run = Run()
    run.log(a=1, b=np.float32(0.25), c=torch.tensor(0.5), d=torch.tensor([1.5]), e=np.array(2.5),
            f=True, g=torch.tensor(3, dtype=torch.int64), h=np.int64(4), i=torch.tensor(0.5, dtype=torch.bfloat16))
    (_, m), = rows(run)
    assert m == {"a": 1.0, "b": 0.25, "c": 0.5, "d": 1.5, "e": 2.5, "f": 1.0, "g": 3.0, "h": 4.0, "i": 0.5}
    assert all(type(v) is float for v in m.values())


@pytest.mark.parametrize("value, exc, needle", [
    ("0.5", TypeError, "metric 'loss'"),
    (None, TypeError, "metric 'loss'"),
    ([1.0], TypeError, "metric 'loss'"),
    (torch.ones(2), ValueError, "shape (2,)"),
    (np.ones(3), ValueError, "metric 'loss'"),
    (torch.tensor(1 + 2j), TypeError, "complex"),
    (10 ** 400, ValueError, "too large"),
])
def test_bad_values_raise_a_clear_error_naming_the_metric(value, exc, needle):
    run = Run()
    with pytest.raises(exc, match=None) as info:
        run.log(loss=value)
    assert needle in str(info.value)
    assert run.step == 0 and rows(run) == []


def test_bad_names_raise():
    run = Run()
    with pytest.raises(ValueError, match="reserved"):
        run.log(time=1.0)
    with pytest.raises(ValueError, match="empty"):
        run.log(**{"": 1.0})
    with pytest.raises(TypeError):
        run.log(**{1: 1.0})
    with pytest.raises(TypeError, match="step must be an int"):
        run.log(step="3", loss=1.0)


def test_nan_and_inf_are_logged_not_rejected():
    run = Run()
    run.log(loss=float("nan"))
    run.log(loss=torch.tensor(float("inf")))
    store = drained(run)
    assert store.series("loss").nonfinite == 2 and store.nonfinite == 2


def test_device_values_are_copied_in_one_batch_per_device_and_dtype():
    t32 = [torch.tensor(float(i)) for i in range(3)]
    t16 = torch.tensor(0.5, dtype=torch.float16)
    rows_ = [{"loss": t32[0], "x": 2.0, "step": 1}, {"loss": t32[1], "h": t16, "step": 2}, {"loss": t32[2], "step": 3}]
    resolve_device_values(rows_)
    assert rows_ == [{"loss": 0.0, "x": 2.0, "step": 1}, {"loss": 1.0, "h": 0.5, "step": 2}, {"loss": 2.0, "step": 3}]


# ---- control from another thread --------------------------------------------------------------------

def start_trainer(run, steps=10**9):
    def train():
        for i in range(steps):
            run.log(loss=1.0 / (i + 1))
            if run.should_stop:
                return

    t = threading.Thread(target=train, daemon=True)
    t.start()
    return t


def test_pause_freezes_the_step_count_and_resume_and_stop_release_it():
    run = Run()
    t = start_trainer(run)
    wait_for(lambda: run.step > 100)
    run.pause(source="test")
    wait_for(lambda: run.paused)
    frozen = run.step
    threading.Event().wait(0.3)
    assert run.step == frozen
    run.resume()
    wait_for(lambda: run.step > frozen + 100)
    run.pause()
    wait_for(lambda: run.paused)
    run.stop()
    t.join(timeout=5)
    assert not t.is_alive()
    kinds = [e["event"] for e in drained(run).events]
    assert kinds == ["pause", "resume", "pause", "stop", "resume"]


@pytest.mark.slow
def test_checkpoint_runs_in_the_training_thread_and_reports_errors():
    run = Run()
    calls = []
    run.checkpoint()  # nothing registered yet: an event says so, nothing breaks
    run.on_checkpoint(lambda: calls.append(threading.current_thread().name) or "ckpt.pt")
    t = threading.Thread(target=lambda: [run.log(loss=1.0) or (run.should_stop and None) for _ in iter(lambda: run.should_stop, True)],
                         name="trainer", daemon=True)
    t.start()
    run.checkpoint(source="key")
    wait_for(lambda: calls)
    assert calls == ["trainer"]

    def broken():
        raise OSError("disk full")
    run.on_checkpoint(broken)
    run.checkpoint()
    wait_for(lambda: any(e.get("error", "").startswith("OSError") for e in drained(run).events))
    run.stop()
    t.join(timeout=5)
    events = [e for e in run.store.events if e["event"] == "checkpoint"]
    assert [e["ok"] for e in events] == [False, True, False]
    assert events[1]["result"] == "ckpt.pt" and events[1]["source"] == "key"
    assert "no checkpoint function" in events[0]["error"]


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), "x", None, True])
def test_lr_requests_reject_non_finite_and_non_positive_values(bad):
    run = Run()
    with pytest.raises(ValueError):
        run.scale_lr(bad)
    with pytest.raises(ValueError):
        run.set_lr(bad)
    assert run.lr_scale == 1.0 and not run.lr_change_pending


# ---- LR multiplier inside the optimizer step ----------------------------------------------------------

def sgd_model(lr=0.1, schedule=None):
    torch.manual_seed(0)
    w = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    opt = torch.optim.SGD([w], lr=lr)
    sched = schedule(opt) if schedule else None
    return w, opt, sched


def lr_used(w, opt):
    """Run one step with gradient 1 and read back the LR the update used."""
    before = w.detach().clone()
    w.grad = torch.ones_like(w)
    opt.step()
    return float(before - w.detach())


@pytest.mark.parametrize("make_sched", [
    lambda o: torch.optim.lr_scheduler.LambdaLR(o, lambda s: 1.0 / (1 + s)),
    lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.9),
    lambda o: torch.optim.lr_scheduler.OneCycleLR(o, max_lr=0.1, total_steps=50, cycle_momentum=False),
])
def test_scale_applies_inside_the_step_and_the_scheduler_keeps_its_own_value(make_sched):
    ref_w, ref_opt, ref_sched = sgd_model(schedule=make_sched)
    w, opt, sched = sgd_model(schedule=make_sched)
    run = Run()
    run.watch(opt)
    expected = []
    for step in range(30):
        if step == 10:
            run.scale_lr(0.5)
        expected.append(lr_used(ref_w, ref_opt) * (0.5 if step >= 10 else 1.0))
        assert lr_used(w, opt) == pytest.approx(expected[-1], rel=1e-9)
        assert opt.param_groups[0]["lr"] == ref_opt.param_groups[0]["lr"]  # scheduler's value between steps
        ref_sched.step()
        sched.step()
        run.log(loss=1.0)
    assert drained(run).series("lr").values().tolist() == pytest.approx(expected, rel=1e-9)  # effective LR
    (ev,) = [e for e in run.store.events if e["event"] == "lr_change"]
    assert ev["applied"] and ev["scale"] == 0.5 and ev["step"] == 10


def test_set_lr_sets_the_effective_lr_and_logs_it():
    w, opt, _ = sgd_model(lr=0.1)
    run = Run()
    run.watch(opt)
    lr_used(w, opt)
    run.log(loss=1.0)
    run.set_lr(0.025, source="key")
    assert lr_used(w, opt) == pytest.approx(0.025)
    run.log(loss=1.0)
    assert opt.param_groups[0]["lr"] == 0.1
    assert run.lr_scale == pytest.approx(0.25)
    lr = drained(run).series("lr")
    assert lr.values().tolist() == pytest.approx([0.1, 0.025]) and lr.steps().tolist() == [1, 2]
    (ev,) = [e for e in run.store.events if e["event"] == "lr_change"]
    assert ev["old"] == pytest.approx([0.1]) and ev["new"] == pytest.approx([0.025]) and ev["source"] == "key"


def test_tensor_lr_is_scaled_in_place_and_restored():
    p = torch.nn.Parameter(torch.zeros(1, dtype=torch.float64))
    lr = torch.tensor(0.1, dtype=torch.float64)
    opt = torch.optim.SGD([p], lr=lr)
    run = Run()
    run.watch(opt)
    run.scale_lr(0.5)
    assert lr_used(p, opt) == pytest.approx(0.05)
    assert opt.param_groups[0]["lr"] is lr and float(lr) == pytest.approx(0.1)


def test_state_dict_round_trip_keeps_the_multiplier_and_step():
    w, opt, _ = sgd_model()
    run = Run()
    run.watch(opt)
    run.scale_lr(0.5)
    lr_used(w, opt)
    run.log(loss=1.0)
    state = run.state_dict()
    resumed = Run()
    resumed.load_state_dict(state)
    assert resumed.lr_scale == 0.5 and resumed.step == 1
    with pytest.raises(ValueError):
        resumed.load_state_dict({"lr_scale": math.nan})


def test_watch_rejects_something_that_is_not_an_optimizer():
    with pytest.raises(TypeError, match="Optimizer"):
        Run().watch(object())


@pytest.mark.slow
def test_backpressure_waits_for_the_pump_but_never_long():
    import time

    run = Run()

    def old_backlog():  # the next log() checks (every 256 queued items), and finds it too old
        run._pending.extend({"x": 0.0, "step": 0} for _ in range(255 - len(run._pending) % 256))
        run._drained_at = time.monotonic() - 1.0

    old_backlog()
    t0 = time.monotonic()
    run.log(loss=1.0)  # no pump at all: nothing to wait for, training goes on at once
    assert time.monotonic() - t0 < 0.5
    run.consumer_started()  # a pump that stalls: gives up after about a second
    old_backlog()
    t0 = time.monotonic()
    run.log(loss=1.0)
    assert 0.9 < time.monotonic() - t0 < 3.0
    old_backlog()
    run._drained_at = run._stuck_at  # still stuck: not waited for again until it drains
    t0 = time.monotonic()
    run.log(loss=1.0)
    assert time.monotonic() - t0 < 0.5

    def late_pump():
        run.drain()
        run.mark_written()

    old_backlog()
    drainer = threading.Timer(0.2, late_pump)  # a pump arriving late
    drainer.start()
    t0 = time.monotonic()
    run.log(loss=1.0)
    waited = time.monotonic() - t0
    assert 0.15 < waited < 0.9 and run.backlog < 256  # it waited for the pump, and went on once it had written


class FakeDeviceTensor(torch.Tensor):
    """A CPU tensor that says it is not on the CPU, to drive the device path without a GPU."""

    @property
    def is_cpu(self):
        return False


def test_device_tensors_stay_tensors_in_log_and_become_floats_in_the_pump():
    run = Run()
    values = [torch.tensor(0.25 * i).as_subclass(FakeDeviceTensor) for i in range(4)]
    for v in values:
        run.log(loss=v)  # no .item() here: that would be a host-device sync per step on a GPU
    queued = list(run._pending)
    assert all(isinstance(r["loss"], torch.Tensor) for r in queued)
    store = drained(run)
    assert store.series("loss").values().tolist() == [0.0, 0.25, 0.5, 0.75]
    with pytest.raises(ValueError, match="shape"):
        run.log(loss=torch.ones(2).as_subclass(FakeDeviceTensor))


def test_a_checkpoint_asked_for_just_before_a_stop_is_taken_before_training_returns():
    """`lossmon ctl checkpoint; lossmon ctl stop` (a pre-emption handler): a loop that checks
    should_stop before it logs must still get its checkpoint."""
    import threading

    from lossmon import events as ev
    from lossmon.training.run import Run

    run = Run("t")
    saved = []
    run.on_checkpoint(lambda: saved.append(run.step) or "ckpt.pt")
    asked = threading.Event()
    go_on = threading.Event()

    def handler():  # another thread: the socket server serving two requests
        asked.wait(10)
        run.checkpoint(source="control")
        run.stop(source="control")
        go_on.set()

    threading.Thread(target=handler, daemon=True).start()
    for step in range(100):
        if run.should_stop:
            break
        run.log(loss=1.0)
        if step == 5:
            asked.set()
            go_on.wait(10)
    assert saved == [6]
    assert [e["ok"] for e in run.drain() if e.get("event") == ev.CHECKPOINT] == [True]


def test_should_stop_read_by_another_thread_never_runs_the_checkpoint_there():
    import threading

    from lossmon.training.run import Run

    run = Run("t")
    where = []
    run.on_checkpoint(lambda: where.append(threading.current_thread().name))
    run.log(loss=1.0)  # the training thread is this one
    run.checkpoint()
    run.stop()
    t = threading.Thread(target=lambda: run.should_stop, name="ui")
    t.start()
    t.join()
    assert where == []
    assert run.should_stop and where == [threading.current_thread().name]
