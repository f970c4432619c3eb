"""LR control beyond plain schedulers: accumulation, AMP skips, fused/foreach Adam, wrappers, bounds."""

import pytest
import torch

from lossmon.training.run import Run


def probe(opt, sink):
    """Record the LR each real update uses (registered after lossmon's hook, so it sees u*s)."""
    opt.register_step_pre_hook(lambda o, a, k: sink.append([float(g["lr"]) for g in o.param_groups]))


def events(run, kind):
    return [e for e in run.drain() if e.get("event") == kind]


def test_gradient_accumulation_counts_only_real_optimizer_steps():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = Run()
    run.watch(opt)
    used = []
    probe(opt, used)
    for micro in range(40):
        model(torch.randn(2, 3)).sum().backward()
        if micro == 10:
            run.scale_lr(0.5)  # requested mid-accumulation: applies at the next real step
        if micro % 4 == 3:
            opt.step()
            opt.zero_grad()
            run.log(loss=1.0)
    assert [u[0] for u in used] == [0.1] * 2 + [0.05] * 8
    assert run.step == 10


def test_grad_scaler_skipped_step_does_not_consume_the_change():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    scaler = torch.amp.GradScaler("cpu", init_scale=2.0 ** 4)
    run = Run()
    run.watch(opt)
    used = []
    probe(opt, used)
    skipped = 0
    for step in range(6):
        loss = model(torch.randn(2, 3)).sum()
        if step == 2:
            loss = loss * float("inf")  # overflow: the scaler skips this optimizer step
            run.scale_lr(0.5)
        scaler.scale(loss).backward()
        before = scaler.get_scale()
        scaler.step(opt)
        scaler.update()
        skipped += scaler.get_scale() < before
        opt.zero_grad()
    assert skipped == 1
    assert [u[0] for u in used] == [0.1, 0.1, 0.05, 0.05, 0.05]  # 5 real steps; the change lands on the next real one
    assert opt.param_groups[0]["lr"] == 0.1  # the scheduler-owned value is untouched between steps


@pytest.mark.parametrize("kwargs", [{"fused": True}, {"foreach": True}, {"foreach": False}],
                         ids=["fused", "foreach", "for-loop"])
def test_adam_implementations_use_the_scaled_lr(kwargs):
    def run_adam(scale):
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.01, **kwargs)
        run = Run()
        run.watch(opt)
        x = torch.randn(8, 3)
        for step in range(10):
            if step == 5 and scale:
                run.scale_lr(0.5)
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        return [p.detach().clone() for p in model.parameters()]

    def scripted():
        torch.manual_seed(0)
        model = torch.nn.Linear(3, 1)
        opt = torch.optim.Adam(model.parameters(), lr=0.01, **kwargs)
        x = torch.randn(8, 3)
        for step in range(10):
            if step == 5:
                opt.param_groups[0]["lr"] = 0.005
            opt.zero_grad()
            model(x).pow(2).mean().backward()
            opt.step()
        return [p.detach().clone() for p in model.parameters()]

    changed, reference, unchanged = run_adam(True), scripted(), run_adam(False)
    assert all(torch.equal(a, b) for a, b in zip(changed, reference))  # bitwise: the same update math
    assert not all(torch.equal(a, b) for a, b in zip(changed, unchanged))


class AcceleratedLike(torch.optim.Optimizer):
    """Shaped like accelerate.optimizer.AcceleratedOptimizer: subclasses Optimizer without calling
    its __init__, delegates param_groups and step to the optimizer it wraps."""

    def __init__(self, optimizer):
        self.optimizer = optimizer

    @property
    def param_groups(self):
        return self.optimizer.param_groups

    def step(self, closure=None):
        self.optimizer.step(closure)

    def zero_grad(self, set_to_none=None):
        self.optimizer.zero_grad()


def test_wrapped_optimizer_is_unwrapped():
    model = torch.nn.Linear(3, 1)
    inner = torch.optim.SGD(model.parameters(), lr=0.1)
    wrapped = AcceleratedLike(inner)
    run = Run()
    run.watch(wrapped)
    used = []
    probe(inner, used)
    run.scale_lr(0.25)
    model(torch.randn(2, 3)).sum().backward()
    wrapped.step()
    assert used == [[0.025]]


def test_param_group_ratios_are_kept_and_every_group_is_logged():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([{"params": [a], "lr": 0.1}, {"params": [b], "lr": 0.01}])
    run = Run()
    run.watch(opt)
    used = []
    probe(opt, used)
    run.set_lr(0.05)
    a.grad, b.grad = torch.ones(1), torch.ones(1)
    opt.step()
    run.log(loss=1.0)
    assert used == [pytest.approx([0.05, 0.005])]
    (row,) = [r for r in run.drain() if "event" not in r]
    assert row["lr"] == pytest.approx(0.05) and row["lr/0.1"] == pytest.approx(0.005)


def test_several_optimizers_share_the_multiplier():
    a, b = torch.nn.Parameter(torch.zeros(1)), torch.nn.Parameter(torch.zeros(1))
    opt_a, opt_b = torch.optim.SGD([a], lr=0.1), torch.optim.Adam([b], lr=0.001)
    run = Run()
    run.watch(opt_a)
    run.watch(opt_b)
    used_a, used_b = [], []
    probe(opt_a, used_a)
    probe(opt_b, used_b)
    run.scale_lr(0.5)
    a.grad, b.grad = torch.ones(1), torch.ones(1)
    opt_a.step()
    opt_b.step()
    run.log(loss=1.0)
    assert used_a == [[0.05]] and used_b == [[0.0005]]
    items = run.drain()
    (ev,) = [e for e in items if e.get("event") == "lr_change"]
    assert ev["old"] == pytest.approx([0.1, 0.001]) and ev["new"] == pytest.approx([0.05, 0.0005])
    (row,) = [r for r in items if "event" not in r]
    assert row["lr"] == pytest.approx(0.05) and row["lr/1.0"] == pytest.approx(0.0005) and "lr/0.0" not in row


def test_bounds_clamp_manual_changes_and_say_so():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    run = Run()
    run.watch(opt)
    run.set_lr_bounds(min_lr=0.01, max_lr=0.2)
    used = []
    probe(opt, used)
    p.grad = torch.ones(1)
    run.scale_lr(8)
    opt.step()
    run.scale_lr(0.001)
    opt.step()
    assert used == [pytest.approx([0.2]), pytest.approx([0.01])]
    evs = events(run, "lr_change")
    assert [e["clamped"] for e in evs] == ["max_lr 0.2", "min_lr 0.01"]
    with pytest.raises(ValueError):
        run.set_lr_bounds(min_lr=0.5, max_lr=0.1)


def test_set_lr_when_the_scheduler_is_at_zero_is_refused_as_an_event():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    torch.optim.lr_scheduler.LambdaLR(opt, lambda s: s / 10)  # warm-up from 0: u is 0 at step 0
    run = Run()
    run.watch(opt)
    run.set_lr(0.05)
    p.grad = torch.ones(1)
    opt.step()  # must not raise in the training thread
    (ev,) = events(run, "lr_change")
    assert ev["applied"] is False and "cannot set an exact LR" in ev["reason"]
    assert run.lr_scale == 1.0


def test_commit_without_scheduler_bakes_into_the_optimizer():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=0.1)
    run = Run()
    run.watch(opt)
    run.scale_lr(0.5)
    run.commit_lr()
    p.grad = torch.ones(1)
    opt.step()
    assert run.lr_scale == 1.0 and opt.param_groups[0]["lr"] == 0.05
    (ev,) = events(run, "lr_commit")
    assert "no scheduler" in ev["notes"][0]


def test_upcoming_lr_scale_previews_the_pending_requests_as_the_next_step_will_resolve_them():
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    run = Run()
    run.watch(opt)
    used = []
    probe(opt, used)

    def step():
        model(torch.randn(2, 3)).sum().backward()
        opt.step()
        opt.zero_grad()
        return used[-1][0]

    assert run.upcoming_lr_scale == 1.0
    run.scale_lr(0.5)
    assert run.upcoming_lr_scale == 0.5 and run.lr_scale == 1.0  # previewed, not applied
    assert step() == pytest.approx(0.1 * run.upcoming_lr_scale) and run.lr_scale == 0.5
    run.set_lr_bounds(max_lr=0.3)
    run.set_lr(1.0)  # clamped to max_lr, as the step will clamp it
    run.scale_lr(0.5)
    assert run.upcoming_lr_scale == pytest.approx(1.5)
    assert step() == pytest.approx(0.1 * 1.5)
    run.commit_lr()  # baked: the LR held becomes 0.15, the multiplier 1
    run.set_lr(0.05)
    preview = run.upcoming_lr_scale
    assert preview == pytest.approx(0.5)  # relative to the 0.1 held now
    assert step() == pytest.approx(0.1 * preview) and opt.param_groups[0]["lr"] == pytest.approx(0.15)
    run.reset_lr()
    assert run.upcoming_lr_scale == 1.0
