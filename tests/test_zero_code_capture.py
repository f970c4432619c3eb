"""Zero-code capture (lossmon.capture): one test per rule of what an unmodified script gives up.

Each test trains a tiny model with capture installed on a bare Run and reads what the run queued
(run.drain()): the rows and events the pump would record."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import lossmon
from lossmon import events, output_tap, states
from lossmon.capture import Capture
from lossmon.capture.printed import held_out_loss
from lossmon.training.active import clear_active, set_active
from lossmon.training.run import Run
from lossmon.training.steering import StopTraining
from lossmon.training.thread import call_training


@pytest.fixture
def captured(tmp_path):
    run = Run("t", tmp_path)
    set_active(run)
    cap = run.capture = Capture(run).install()
    yield run, cap
    cap.uninstall()
    clear_active(run)


def rows(items, name):
    return [(r["step"], r[name]) for r in items if "event" not in r and name in r]


def evs(items, kind):
    return [r for r in items if r.get("event") == kind]


def test_every_optimizer_the_script_creates_is_watched_and_the_lr_keys_act_on_it(captured):
    run, _ = captured
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    assert run.lr_watched
    for step in range(6):
        if step == 3:
            run.scale_lr(0.5, source="key")
        loss = model(torch.randn(4, 3)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        assert opt.param_groups[0]["lr"] == 0.1  # between steps the optimizer holds its own value
    items = run.drain()
    assert [v for _, v in rows(items, "lr")] == pytest.approx([0.1, 0.1, 0.1, 0.05, 0.05, 0.05])
    assert [s for s, _ in rows(items, "loss")] == [1, 2, 3, 4, 5, 6]
    assert evs(items, events.CAPTURE)[0]["what"] == "optimizer"


def test_train_loss_is_what_backward_was_called_on_summed_over_accumulation(captured):
    run, _ = captured
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    expected = []
    for _ in range(4):
        total = 0.0
        for _micro in range(3):
            loss = model(torch.randn(5, 3)).pow(2).mean() / 3
            total += loss.item()
            loss.backward()
        opt.step()
        opt.zero_grad()
        expected.append(total)
    assert [v for _, v in rows(run.drain(), "loss")] == pytest.approx(expected, rel=1e-6)


def test_a_loss_scaled_by_a_grad_scaler_counts_as_the_loss_before_scaling(captured):
    run, _ = captured
    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=1e-3)
    scaler = torch.amp.GradScaler("cpu", init_scale=1024.0)
    expected = []
    for _ in range(3):
        loss = model(torch.randn(5, 3)).pow(2).mean()
        expected.append(loss.item())
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        opt.zero_grad()
    assert [v for _, v in rows(run.drain(), "loss")] == pytest.approx(expected, rel=1e-6)


def test_val_loss_is_the_per_element_mean_of_the_no_grad_losses_of_each_pass(captured):
    run, cap = captured
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 3)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    xs = [torch.randn(n, 4) for n in (7, 5, 2)]  # unequal batches: a mean of means would be wrong
    ys = [torch.randint(0, 3, (len(x),)) for x in xs]
    ys[1][0] = -1  # an ignored target does not count

    def train_step():
        loss = F.cross_entropy(model(torch.randn(4, 4)), torch.randint(0, 3, (4,)))
        opt.zero_grad()
        loss.backward()
        opt.step()

    def evaluate(reduction):
        with torch.no_grad():
            for x, y in zip(xs, ys):
                F.cross_entropy(model(x), y, reduction=reduction, ignore_index=-1)
        with torch.enable_grad():  # the reference, out of capture's sight: every kept target's loss
            every = torch.cat([F.cross_entropy(model(x), y, reduction="none", ignore_index=-1)[y != -1]
                               for x, y in zip(xs, ys)])
        return every.mean().item()

    train_step()
    want_sum = evaluate("sum")
    train_step()  # the pass ends when training goes on
    want_mean = evaluate("mean")
    cap.finish()  # a pass at the very end counts too
    vals = rows(run.drain(), "val_loss")
    assert [v for _, v in vals] == pytest.approx([want_sum, want_mean], rel=1e-5)
    assert [s for s, _ in vals] == [1, 2]  # each belongs to the step it followed


def test_nn_loss_modules_count_as_their_functional_losses(captured):
    run, cap = captured
    crit = torch.nn.MSELoss()
    with torch.no_grad():
        a, b = torch.randn(6, 2), torch.randn(6, 2)
        want = crit(a, b).item()
    cap.finish()
    assert [v for _, v in rows(run.drain(), "val_loss")] == pytest.approx([want])


def test_a_printed_val_loss_wins_over_the_no_grad_mean(captured):
    run, cap = captured
    model = torch.nn.Linear(2, 1)
    torch.optim.SGD(model.parameters(), lr=0.1)
    with torch.no_grad():  # train split and val split in one pass: the mean would mix them
        F.mse_loss(model(torch.randn(4, 2)), torch.zeros(4, 1))
        F.mse_loss(model(torch.randn(4, 2)), torch.ones(4, 1))
    output_tap.publish("step 0: train loss 1.2345, val loss 0.75")
    output_tap.publish("\n")
    cap.finish()
    assert [v for _, v in rows(run.drain(), "val_loss")] == [0.75]


@pytest.mark.parametrize("line, found", [
    ("step 500: train loss 1.6234, val loss 1.7901", ("val", 1.7901)),
    ("| end of epoch   1 | time:  2.1s | valid loss  5.12 | valid ppl   167.34", ("valid", 5.12)),
    ("step 100 train loss: 2.40 test loss: 2.43", ("test", 2.43)),
    ("Epoch 3: val_loss=0.0123", ("val", 0.0123)),
    ("Validation loss is 3e-2", ("validation", 0.03)),
    ("eval/loss: nan", ("eval", float("nan"))),
    ("train loss 1.0", None),
    ("the interval loss was big", None),
    ("retest loss 3", None),
])
def test_which_printed_lines_name_a_held_out_loss(line, found):
    got = held_out_loss(line)
    if found is None or found[1] == found[1]:
        assert got == found
    else:
        assert got[0] == found[0] and got[1] != got[1]


def test_what_the_script_logs_itself_wins_over_what_capture_would(captured):
    run, _ = captured
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(3):
        loss = model(torch.randn(4, 2)).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        lossmon.log(loss=loss.item() + 100)
        with torch.no_grad():
            F.mse_loss(model(torch.randn(4, 2)), torch.zeros(4, 1))
        lossmon.log(val_loss=7.0)
    items = run.drain()
    assert [(s, v >= 100) for s, v in rows(items, "loss")] == [(1, True), (2, True), (3, True)]
    assert [v for _, v in rows(items, "val_loss")] == [7.0, 7.0, 7.0]
    assert {e["what"] for e in evs(items, events.CAPTURE)} >= {"stand_down"}


def test_stop_raises_keyboard_interrupt_at_the_next_optimizer_step_after_it_ran(captured):
    run, _ = captured
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss = model(torch.randn(4, 2)).pow(2).mean()
    loss.backward()
    before = model.weight.detach().clone()
    run.stop(source="key")
    with pytest.raises(KeyboardInterrupt) as info:
        opt.step()
    assert isinstance(info.value, StopTraining)
    assert not torch.equal(model.weight, before)  # the step itself was taken
    opt.step()  # raised once: the script's own except-handler may go on stepping


def test_a_script_that_asks_should_stop_is_trusted_to_stop_itself(captured):
    run, _ = captured
    model = torch.nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    steps = 0
    while not lossmon.should_stop():
        model(torch.randn(4, 2)).pow(2).mean().backward()
        opt.step()
        steps += 1
        if steps == 3:
            run.stop(source="key")
    assert steps == 3


def test_a_stop_raised_by_capture_ends_the_run_stopped_not_interrupted(tmp_path):
    run = Run("t", tmp_path)
    cap = run.capture = Capture(run).install()

    def train(run):
        model = torch.nn.Linear(2, 1)
        opt = torch.optim.SGD(model.parameters(), lr=0.1)
        for step in range(100):
            model(torch.randn(4, 2)).pow(2).mean().backward()
            opt.step()
            if step == 5:
                run.stop(source="key")

    try:
        outcome = call_training(train, run)
    finally:
        cap.uninstall()
    assert (outcome.state, outcome.exit_code) == (states.STOPPED, 0)
    assert run.step == 7


def test_checkpoint_with_no_save_function_saves_the_optimizer_and_its_model(captured, tmp_path):
    run, _ = captured
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(2, 4), torch.nn.Linear(4, 1))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    assert run.has_checkpoint
    for step in range(3):
        model(torch.randn(4, 2)).pow(2).mean().backward()
        if step == 2:
            run.checkpoint(source="key")
        opt.step()
        opt.zero_grad()
    ev = evs(run.drain(), events.CHECKPOINT)[-1]
    assert ev["ok"], ev
    saved = torch.load(tmp_path / "checkpoint-step3.pt", weights_only=False)
    assert list(saved["modules"]) == ["Sequential"]  # the model, not also each of its layers
    for k, v in model.state_dict().items():
        assert torch.equal(saved["modules"]["Sequential"][k], v)
    assert saved["optimizers"][0]["state"][0]["step"] == opt.state_dict()["state"][0]["step"]
    assert "Sequential" in ev["result"] and "Adam" in ev["result"]


def test_updates_written_by_hand_each_backward_is_a_step_and_lossmon_lr_steers_them(captured):
    run, _ = captured
    torch.manual_seed(0)
    w = torch.zeros(3, requires_grad=True)
    lrs = []
    for step in range(4):
        if step == 2:
            run.scale_lr(0.5, source="key")
        loss = (w - 1).pow(2).sum()
        loss.backward()
        with torch.no_grad():
            lr = lossmon.lr(0.1)
            w -= lr * w.grad
            w.grad = None
        lrs.append(lr)
    items = run.drain()
    assert lrs == pytest.approx([0.1, 0.1, 0.05, 0.05])
    assert [s for s, _ in rows(items, "loss")] == [1, 2, 3, 4]
    assert [v for _, v in rows(items, "lr")] == pytest.approx([0.1, 0.1, 0.05])  # each with the next step
    change = evs(items, events.LR_CHANGE)[0]
    assert change["applied"] and change["new"] == pytest.approx([0.05])


def test_uninstall_puts_torch_back_as_it_was(tmp_path):
    import torch.autograd

    before = (torch.autograd.backward, F.cross_entropy, torch.optim.Optimizer.__init__, torch.amp.GradScaler.scale)
    cap = Capture(Run("t", tmp_path)).install()
    assert torch.autograd.backward is not before[0]
    cap.uninstall()
    assert (torch.autograd.backward, F.cross_entropy, torch.optim.Optimizer.__init__,
            torch.amp.GradScaler.scale) == before


def test_the_same_printed_number_said_twice_at_one_step_is_one_value(captured):
    run, cap = captured
    output_tap.publish("step 500 train loss: 2.60 test loss: 2.6483\n")
    output_tap.publish("test loss 2.6483 is the best so far, saving model to out/model.pt\n")
    run.log(loss=1.0)
    output_tap.publish("step 1000 train loss: 2.50 test loss: 2.6483\n")  # the same number a step later is news
    assert [(s, v) for s, v in rows(run.drain(), "val_loss")] == [(0, 2.6483), (1, 2.6483)]
